//! Fetching status reports from agents' sockets (blocking: used by the CLI).

use std::{
    io::{self, Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    time::Duration,
};

use super::model::StatusReport;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the agent at {path}: {error} (is vrrp-agent running?)")]
    Connect { path: PathBuf, error: io::Error },
    #[error("reading from {path}: {error}")]
    Read { path: PathBuf, error: io::Error },
    #[error("the agent at {path} sent an unreadable report: {error}")]
    Parse {
        path: PathBuf,
        error: serde_json::Error,
    },
}

/// Asks one agent.
pub fn query(path: &Path) -> Result<StatusReport, ClientError> {
    let mut stream = UnixStream::connect(path).map_err(|error| ClientError::Connect {
        path: path.to_path_buf(),
        error,
    })?;
    let read_err = |error| ClientError::Read {
        path: path.to_path_buf(),
        error,
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(read_err)?;
    stream.write_all(b"status\n").map_err(read_err)?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).map_err(read_err)?;
    serde_json::from_slice(&buf).map_err(|error| ClientError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

/// Every `*.sock` in `dir`, sorted.
pub fn sockets(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sock"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
