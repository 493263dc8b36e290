//! Per-instance state files: `<state_dir>/<instance>.state` holding keepalived's state name
//! (MASTER, BACKUP, FAULT, STOP), replaced atomically so readers never see a partial write.
//!
//! The state folder and its parents are created once, at startup ([`prepare`]). Later writes
//! create the state folder again if it went, but never its parent: when the folder holding it
//! is gone, nothing is written and nothing recreated ([`StateFileError::FolderGone`]). (The
//! keepalived entry point keeps its state folder out of Neutron's `ha_confs/<id>` altogether,
//! see `api::keepalived_state_dir`: Neutron removes that folder right after its SIGTERM, and a
//! state folder inside it, even one only recreated in place, makes the removal fail.)

use std::{
    io,
    path::{Path, PathBuf},
};

use crate::fsm::State;

/// Why a state file was not written.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// The folder the state folder lives in does not exist (any more): it is not recreated.
    #[error("{} is gone; not recreating it for state files", .0.display())]
    FolderGone(PathBuf),
    #[error(transparent)]
    Io(#[from] io::Error),
}

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

/// Creates the state folder with its parents (at startup).
pub fn prepare(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Writes the state (write to a temporary file, then rename). Creates `dir` if it is missing,
/// never its parent.
pub fn write(dir: &Path, instance: &str, state: State) -> Result<(), StateFileError> {
    let gone = || StateFileError::FolderGone(dir.parent().unwrap_or(dir).to_path_buf());
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => return Err(e.into()),
    }
    let final_path = path(dir, instance);
    let tmp = final_path.with_extension("state.tmp");
    let written = std::fs::write(&tmp, format!("{}\n", state.keepalived_name()))
        .and_then(|()| std::fs::rename(&tmp, &final_path));
    match written {
        // Removed under our feet, between the check and the write.
        Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => Err(gone()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("vrrp-state-{tag}-{}", std::process::id()))
    }

    #[test]
    fn writes_and_replaces() {
        let dir = temp("test");
        prepare(&dir).unwrap();
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

    #[test]
    fn the_state_folder_comes_back_but_never_its_removed_parent() {
        let router = temp("router");
        let dir = router.join("vrrp-agent-state");
        prepare(&dir).unwrap();
        write(&dir, "VR_1", State::Master).unwrap();

        std::fs::remove_dir_all(&dir).unwrap();
        write(&dir, "VR_1", State::Backup).unwrap();
        assert!(path(&dir, "VR_1").exists(), "the state folder is recreated");

        std::fs::remove_dir_all(&router).unwrap();
        let err = write(&dir, "VR_1", State::Initialize).unwrap_err();
        assert!(
            matches!(&err, StateFileError::FolderGone(p) if *p == router),
            "{err}"
        );
        assert!(!router.exists(), "the removed folder stays removed");
    }
}
