//! Serving status reports on a unix socket: a client connects, optionally writes a request
//! line (only `status` exists), and reads one JSON document; the connection then closes.

use std::{io, path::Path, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixListener,
    sync::{mpsc, oneshot},
};

use super::model::StatusReport;

/// A request for a fresh report, answered by the runtime.
pub type StatusQuery = oneshot::Sender<StatusReport>;

/// Binds `path` (replacing a stale socket file) and serves until the runtime goes away.
pub async fn serve(path: &Path, queries: mpsc::Sender<StatusQuery>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let queries = queries.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            // The request line is optional: a client may just read.
            let mut line = String::new();
            let _ = tokio::time::timeout(
                Duration::from_millis(200),
                BufReader::new(read).read_line(&mut line),
            )
            .await;
            let (tx, rx) = oneshot::channel();
            if queries.send(tx).await.is_err() {
                return;
            }
            let Ok(report) = rx.await else { return };
            let Ok(json) = serde_json::to_vec(&report) else {
                return;
            };
            let _ = write.write_all(&json).await;
            let _ = write.shutdown().await;
        });
    }
}
