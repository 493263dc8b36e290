//! One writer per VRRP socket: our adverts leave in the order the state machines produced
//! them. (Sent from a task each, a priority-0 resignation could overtake the advert before it,
//! or an AH advert the one with the previous sequence number, which the peer then refuses as
//! a replay.) Sending never blocks the engine; a full socket buffer only delays the queue.

use std::{future::Future, io};

use tokio::{sync::mpsc, task::AbortHandle};

use super::slot::Outgoing;

/// Starts the writer: every advert queued on the returned sender is handed to `send`, one at a
/// time, in order. A failed send is logged and the next one goes on.
pub fn spawn_writer<F, Fut>(send: F) -> (mpsc::UnboundedSender<Outgoing>, AbortHandle)
where
    F: Fn(Outgoing) -> Fut + Send + 'static,
    Fut: Future<Output = (Outgoing, io::Result<()>)> + Send,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let task = tokio::spawn(async move {
        while let Some(advert) = rx.recv().await {
            let (advert, result) = send(advert).await;
            if let Err(e) = result {
                tracing::warn!(instance = advert.instance, dst = %advert.dst, "sending advert failed: {e}");
            }
        }
    });
    (tx, task.abort_handle())
}

#[cfg(test)]
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr},
        sync::{Arc, Mutex},
        time::Duration,
    };

    use super::*;

    fn advert(n: u8) -> Outgoing {
        Outgoing {
            bytes: vec![n],
            src: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
            instance: "VI_1".into(),
        }
    }

    /// The first advert takes long to send (a full socket buffer), the later ones none:
    /// they still leave after it, in order.
    #[tokio::test(start_paused = true)]
    async fn adverts_leave_in_the_order_they_were_queued_whatever_each_send_takes() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sent);
        let (tx, _writer) = spawn_writer(move |a: Outgoing| {
            let log = Arc::clone(&log);
            async move {
                let delay = if a.bytes[0] == 0 { 50 } else { 0 };
                tokio::time::sleep(Duration::from_millis(delay)).await;
                log.lock().unwrap().push(a.bytes[0]);
                (a, Ok(()))
            }
        });
        for n in 0..5 {
            tx.send(advert(n)).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(*sent.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    /// A failed send does not stop the queue.
    #[tokio::test(start_paused = true)]
    async fn a_failed_send_does_not_stop_the_ones_after_it() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sent);
        let (tx, _writer) = spawn_writer(move |a: Outgoing| {
            let log = Arc::clone(&log);
            async move {
                if a.bytes[0] == 1 {
                    return (a, Err(io::Error::other("no buffer space")));
                }
                log.lock().unwrap().push(a.bytes[0]);
                (a, Ok(()))
            }
        });
        for n in 0..3 {
            tx.send(advert(n)).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(*sent.lock().unwrap(), vec![0, 2]);
    }
}
