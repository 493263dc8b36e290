//! One agent per socket: an exclusive `flock` on `<socket>.lock` (the socket's name with the
//! extension `lock`), taken before anything of the socket's agent is touched (the socket
//! itself, the pin folder named after it) and held for the life of the process. The holder
//! writes its pid into the file, so a second agent can say which process it would clobber.
//! The kernel drops the lock when the holder dies, however it dies: a lock file left behind
//! by a killed agent is free again. Depends on nix.

use std::{
    fs::{File, OpenOptions},
    io::{self, Seek, Write},
    path::{Path, PathBuf},
};

use nix::fcntl::{Flock, FlockArg};

/// The lock held for a socket (released when dropped, or when the process ends).
#[derive(Debug)]
pub struct SocketLock {
    file: Flock<File>,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock: an agent already serves the socket.
    #[error(
        "{} already runs on {} (lock {} is held)",
        holder(*.pid),
        .socket.display(),
        .lock.display()
    )]
    Held {
        socket: PathBuf,
        lock: PathBuf,
        /// The holder's pid, as it wrote it into the lock file (`None`: not written yet).
        pid: Option<u32>,
    },
    #[error("cannot open the lock {}: {error}", .path.display())]
    Open { path: PathBuf, error: io::Error },
    #[error("cannot lock {}: {error}", .path.display())]
    Lock { path: PathBuf, error: nix::Error },
    #[error("cannot write our pid into the lock {}: {error}", .path.display())]
    Pid { path: PathBuf, error: io::Error },
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("another agent (pid {pid})"),
        None => "another agent".to_string(),
    }
}

/// The lock file of `socket`.
pub fn lock_path(socket: &Path) -> PathBuf {
    socket.with_extension("lock")
}

impl SocketLock {
    /// Takes the lock of `socket` without waiting (creating its folder and file as needed)
    /// and writes our pid into it; [`LockError::Held`] when another process holds it.
    pub fn acquire(socket: &Path) -> Result<Self, LockError> {
        let path = lock_path(socket);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|error| LockError::Open {
                path: path.clone(),
                error,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|error| LockError::Open {
                path: path.clone(),
                error,
            })?;
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => file,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(LockError::Held {
                    socket: socket.to_path_buf(),
                    pid: holder_pid(&path),
                    lock: path,
                });
            }
            Err((_, error)) => return Err(LockError::Lock { path, error }),
        };
        let mut lock = Self { file, path };
        lock.record_pid()?;
        Ok(lock)
    }

    /// Writes our pid into the lock file (again after forking to the background: the
    /// background process inherits the lock, and its pid is the one to name).
    pub fn record_pid(&mut self) -> Result<(), LockError> {
        let pid = std::process::id();
        let file: &mut File = &mut self.file;
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{pid}"))
            .and_then(|()| file.flush());
        written.map_err(|error| LockError::Pid {
            path: self.path.clone(),
            error,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid the holder of the lock at `path` wrote into it.
fn holder_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_socket(name: &str) -> (PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("vrrp-socket-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (dir.join("agent.sock"), dir)
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let (socket, dir) = temp_socket("second");
        let first = SocketLock::acquire(&socket).expect("first lock");
        assert_eq!(first.path(), dir.join("agent.lock"));
        assert_eq!(holder_pid(first.path()), Some(std::process::id()));
        // flock locks belong to the open file: a second open in this process conflicts too.
        let err = SocketLock::acquire(&socket).expect_err("second lock");
        let text = err.to_string();
        assert!(
            matches!(err, LockError::Held { pid: Some(p), .. } if p == std::process::id()),
            "{err:?}"
        );
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains(&socket.display().to_string()), "{text}");
        drop(first);
        SocketLock::acquire(&socket).expect("free again once the holder is gone");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
