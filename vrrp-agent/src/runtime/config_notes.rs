//! Configuration notes (settings accepted without effect that generated configurations always
//! carry, such as Neutron's `notification_email_from`): logged at info level once per
//! process, the first time they are seen, not again at every reload.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
};

use crate::config::ConfigWarning;

/// The notes already logged by this process (by message: the line may move between reloads).
static LOGGED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Logs each note of `notes` not logged before by this process.
pub fn log_once(notes: &[ConfigWarning]) {
    let mut logged = LOGGED.lock().unwrap_or_else(PoisonError::into_inner);
    for note in first_time(logged.get_or_insert_with(HashSet::new), notes) {
        tracing::info!("note: {note}");
    }
}

/// The notes of `notes` whose message is not in `seen`, which learns them.
fn first_time<'a>(
    seen: &mut HashSet<String>,
    notes: &'a [ConfigWarning],
) -> Vec<&'a ConfigWarning> {
    notes
        .iter()
        .filter(|n| seen.insert(n.message.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(line: usize, message: &str) -> ConfigWarning {
        ConfigWarning {
            file: "keepalived.conf".into(),
            line,
            message: message.into(),
        }
    }

    #[test]
    fn each_note_once_even_when_its_line_moves() {
        let mut seen = HashSet::new();
        let start = [note(2, "a"), note(9, "b")];
        assert_eq!(first_time(&mut seen, &start), [&start[0], &start[1]]);
        let reload = [note(3, "a"), note(9, "b")];
        assert!(first_time(&mut seen, &reload).is_empty());
        let later = [note(3, "a"), note(4, "c")];
        assert_eq!(first_time(&mut seen, &later), [&later[1]]);
    }
}
