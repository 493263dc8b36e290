//! Running a closure inside a named network namespace (`/run/netns/<name>`, as `ip netns add`
//! makes them). The namespace is entered on a short-lived thread, so the caller's thread and
//! the rest of the process stay where they are. Depends on nothing of ours.

use std::{fs::File, io, path::PathBuf};

use nix::sched::{CloneFlags, setns};

/// Where `ip netns` keeps its namespace handles.
pub const NETNS_RUN_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error(
        "network namespace `{name}` not found at {path} (create it with `ip netns add {name}`)"
    )]
    NotFound { name: String, path: PathBuf },
    #[error("cannot open network namespace `{name}`: {error}")]
    Open { name: String, error: io::Error },
    #[error("cannot enter network namespace `{name}`: {error} (needs CAP_SYS_ADMIN)")]
    Enter { name: String, error: nix::Error },
    #[error("the thread working in network namespace `{name}` panicked")]
    Panicked { name: String },
}

/// Path of a named namespace handle.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_RUN_DIR).join(name)
}

/// Opens a named namespace handle.
pub fn open(name: &str) -> Result<File, NetnsError> {
    let path = path(name);
    File::open(&path).map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            NetnsError::NotFound {
                name: name.to_string(),
                path,
            }
        } else {
            NetnsError::Open {
                name: name.to_string(),
                error,
            }
        }
    })
}

/// Runs `f` in the network namespace whose handle is at `path` (`/run/netns/<name>`,
/// `/proc/<pid>/ns/net`).
pub fn run_in_path<T: Send>(
    path: &std::path::Path,
    f: impl FnOnce() -> T + Send,
) -> Result<T, NetnsError> {
    let name = path.display().to_string();
    let handle = File::open(path).map_err(|error| NetnsError::Open {
        name: name.clone(),
        error,
    })?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(&handle, CloneFlags::CLONE_NEWNET).map_err(|error| NetnsError::Enter {
                    name: name.clone(),
                    error,
                })?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(NetnsError::Panicked {
                    name: path.display().to_string(),
                })
            })
    })
}

/// Runs `f` in network namespace `name`, or right here when `name` is `None`.
pub fn run_in<T: Send>(name: Option<&str>, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
    let Some(name) = name else {
        return Ok(f());
    };
    let handle = open(name)?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(&handle, CloneFlags::CLONE_NEWNET).map_err(|error| NetnsError::Enter {
                    name: name.to_string(),
                    error,
                })?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(NetnsError::Panicked {
                    name: name.to_string(),
                })
            })
    })
}
