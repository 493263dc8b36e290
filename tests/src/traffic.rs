//! Test traffic inside namespaces: a UDP sequence source and sink (to see outages and
//! duplicates), and a long-lived TCP echo stream (to see whether a connection survives).
//! Sockets are created on threads that entered the namespace; they stay in it.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::netns::NetNs;

fn in_ns<T: Send>(ns: &NetNs, f: impl FnOnce() -> T + Send) -> T {
    vrrp_agent::netns::run_in(Some(ns.name()), f).expect("enter namespace")
}

/// Receives numbered UDP datagrams and records (arrival, sequence number).
pub struct UdpSink {
    pub received: Arc<Mutex<Vec<(Instant, u64)>>>,
    /// Source addresses seen.
    pub sources: Arc<Mutex<std::collections::BTreeSet<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpSink {
    pub fn start(ns: &NetNs, bind: SocketAddr) -> Self {
        let socket = in_ns(ns, || UdpSocket::bind(bind)).expect("bind sink");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sources = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, src) = (
            Arc::clone(&received),
            Arc::clone(&stop),
            Arc::clone(&sources),
        );
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf)
                    && n >= 8
                {
                    let seq = u64::from_be_bytes(buf[..8].try_into().unwrap());
                    r.lock().unwrap().push((Instant::now(), seq));
                    src.lock().unwrap().insert(from);
                }
            }
        });
        Self {
            received,
            sources,
            stop,
            thread: Some(thread),
        }
    }

    /// Sequence numbers received more than once.
    pub fn duplicates(&self) -> Vec<u64> {
        let mut seen = std::collections::BTreeMap::<u64, u32>::new();
        for (_, s) in self.received.lock().unwrap().iter() {
            *seen.entry(*s).or_default() += 1;
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(s, _)| s)
            .collect()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The longest gap between consecutive arrivals after `from`.
    pub fn longest_gap_after(&self, from: Instant) -> Duration {
        let r = self.received.lock().unwrap();
        let times: Vec<Instant> = r.iter().map(|(t, _)| *t).filter(|t| *t >= from).collect();
        times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

impl Drop for UdpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends a numbered UDP datagram every `interval` until dropped, remembering when each went.
pub struct UdpSource {
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<Instant>>>,
    thread: Option<JoinHandle<u64>>,
}

impl UdpSource {
    pub fn start(ns: &NetNs, to: SocketAddr, interval: Duration) -> Self {
        let any = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let socket = in_ns(ns, || UdpSocket::bind(any)).expect("bind source");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (s, times) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = std::thread::spawn(move || {
            let mut seq = 0u64;
            while !s.load(Ordering::Relaxed) {
                times.lock().unwrap().push(Instant::now());
                let _ = socket.send_to(&seq.to_be_bytes(), to);
                seq += 1;
                std::thread::sleep(interval);
            }
            seq
        });
        Self {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// Stops; returns how many datagrams were sent.
    pub fn stop(self) -> u64 {
        self.stop_with_times().len() as u64
    }

    /// Stops; returns when each datagram was sent (index = sequence number).
    pub fn stop_with_times(mut self) -> Vec<Instant> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

/// A TCP server that echoes every line back.
pub fn tcp_echo_server(ns: &NetNs, bind: SocketAddr) -> JoinHandle<()> {
    let listener = in_ns(ns, || TcpListener::bind(bind)).expect("bind echo server");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    })
}

/// What a TCP stream saw.
#[derive(Debug, Default)]
pub struct StreamReport {
    pub sent: u64,
    pub echoed: u64,
    /// The first error (a reset, a timeout), if any.
    pub error: Option<String>,
    /// The longest wait for an echo.
    pub longest_wait: Duration,
}

/// One TCP connection that sends a numbered line every `interval` and checks each echo,
/// until stopped.
pub struct TcpStreamer {
    stop: Arc<AtomicBool>,
    /// Echoes received so far.
    echoed: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<JoinHandle<StreamReport>>,
}

impl TcpStreamer {
    pub fn start(ns: &NetNs, to: SocketAddr, interval: Duration) -> Self {
        let stream = in_ns(ns, || {
            TcpStream::connect_timeout(&to, Duration::from_secs(5))
        })
        .expect("connect through the floating IP");
        Self::run(stream, interval, Duration::from_secs(10))
    }

    /// As [`Self::start`], from the local address `from` (a client with several addresses),
    /// waiting up to `read_timeout` for each echo (a takeover whose outage is inherently
    /// seconds long needs more than the default 10 s, TCP's retransmission backoff included).
    pub fn start_from(
        ns: &NetNs,
        from: std::net::IpAddr,
        to: SocketAddr,
        interval: Duration,
        read_timeout: Duration,
    ) -> Self {
        let stream = in_ns(ns, || -> std::io::Result<TcpStream> {
            let domain = socket2::Domain::for_address(to);
            let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
            socket.bind(&SocketAddr::new(from, 0).into())?;
            socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
            Ok(socket.into())
        })
        .unwrap_or_else(|e| panic!("connect {from} -> {to}: {e}"));
        Self::run(stream, interval, read_timeout)
    }

    fn run(stream: TcpStream, interval: Duration, read_timeout: Duration) -> Self {
        stream.set_read_timeout(Some(read_timeout)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let echoed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let progress = Arc::clone(&echoed);
        let thread = std::thread::spawn(move || {
            let mut report = StreamReport::default();
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            while !s.load(Ordering::Relaxed) {
                let line = format!("{}\n", report.sent);
                let t0 = Instant::now();
                if let Err(e) = writer.write_all(line.as_bytes()) {
                    report.error = Some(format!("write: {e}"));
                    break;
                }
                report.sent += 1;
                let mut echo = String::new();
                match reader.read_line(&mut echo) {
                    Ok(0) => {
                        report.error = Some("connection closed".into());
                        break;
                    }
                    Ok(_) if echo == line => {
                        report.echoed += 1;
                        progress.store(report.echoed, Ordering::Relaxed);
                    }
                    Ok(_) => {
                        report.error = Some(format!("bad echo {echo:?} for {line:?}"));
                        break;
                    }
                    Err(e) => {
                        report.error = Some(format!("read: {e}"));
                        break;
                    }
                }
                report.longest_wait = report.longest_wait.max(t0.elapsed());
                std::thread::sleep(interval);
            }
            report
        });
        Self {
            stop,
            echoed,
            thread: Some(thread),
        }
    }

    /// Echoes received so far (while running).
    pub fn echoed(&self) -> u64 {
        self.echoed.load(Ordering::Relaxed)
    }

    /// Whether the stream has ended by itself (an error: see [`Self::stop`]).
    pub fn ended(&self) -> bool {
        self.thread
            .as_ref()
            .is_none_or(std::thread::JoinHandle::is_finished)
    }

    pub fn stop(mut self) -> StreamReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default()
    }
}

impl Drop for UdpSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
