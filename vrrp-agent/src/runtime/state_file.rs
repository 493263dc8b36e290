//! Per-instance state files: `<state_dir>/<instance>.state` holding keepalived's state name
//! (MASTER, BACKUP, FAULT, STOP), replaced atomically so readers never see a partial write.

use std::{
    io,
    path::{Path, PathBuf},
};

use crate::fsm::State;

/// Path of an instance's state file.
pub fn path(dir: &Path, instance: &str) -> PathBuf {
    dir.join(format!("{}.state", sanitize(instance)))
}

/// Keeps instance names from escaping the directory.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the state (write to a temporary file, then rename).
pub fn write(dir: &Path, instance: &str, state: State) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let final_path = path(dir, instance);
    let tmp = final_path.with_extension("state.tmp");
    std::fs::write(&tmp, format!("{}\n", state.keepalived_name()))?;
    std::fs::rename(&tmp, &final_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces() {
        let dir = std::env::temp_dir().join(format!("vrrp-state-test-{}", std::process::id()));
        write(&dir, "VR_1", State::Backup).unwrap();
        write(&dir, "VR_1", State::Master).unwrap();
        assert_eq!(
            std::fs::read_to_string(path(&dir, "VR_1")).unwrap(),
            "MASTER\n"
        );
        write(&dir, "../evil", State::Fault).unwrap();
        assert!(
            dir.join(".._evil.state").exists(),
            "names cannot leave the folder"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
