//! The test's own wire: one AF_PACKET socket per router port, on the far end of the port's
//! veth (in the harness namespace of its twin). A frame sent on it enters the router's port as
//! if it came from the wire; everything the router sends out of that port is captured by a
//! background thread, tagged with the corpus step that was current when it arrived. The
//! socket ignores its own transmissions (`PACKET_IGNORE_OUTGOING`), so the capture holds only
//! what the router sent.

use std::{
    io,
    os::fd::AsRawFd,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::{links::ifindex, netns::NetNs};

const ETH_P_ALL: u16 = 0x0003;

/// One frame the router sent out of a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// The corpus step that was the last one injected when the frame arrived.
    pub step: usize,
    pub frame: Vec<u8>,
}

/// Injection and capture on one port's wire end.
pub struct Tap {
    socket: Arc<Socket>,
    frames: Arc<Mutex<Vec<Captured>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Tap {
    /// Opens the socket on `ifname` in `ns` and starts capturing; `step` is the twin's step
    /// counter (read when a frame arrives).
    pub fn open(ns: &NetNs, ifname: &str, step: Arc<AtomicUsize>) -> Self {
        let index = ifindex(ns, ifname);
        let socket = vrrp_agent::netns::run_in(Some(ns.name()), || -> io::Result<Socket> {
            let s = Socket::new(
                Domain::PACKET,
                Type::RAW,
                Some(Protocol::from(i32::from(ETH_P_ALL.to_be()))),
            )?;
            // SAFETY: a zeroed sockaddr_ll is valid; the fields set below make it a bind
            // address for one interface and every protocol.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = ETH_P_ALL.to_be();
            addr.sll_ifindex = index as i32;
            // SAFETY: `addr` is a valid sockaddr_ll of the size passed; the fd is open.
            let rc = unsafe {
                libc::bind(
                    s.as_raw_fd(),
                    (&addr as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            let one: libc::c_int = 1;
            // SAFETY: an int option of the size passed, on an open packet socket.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_IGNORE_OUTGOING,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as u32,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            s.set_read_timeout(Some(Duration::from_millis(20)))?;
            s.set_recv_buffer_size(4 << 20)?;
            Ok(s)
        })
        .expect("enter the wire namespace")
        .unwrap_or_else(|e| panic!("packet socket on {ifname} in {}: {e}", ns.name()));
        let socket = Arc::new(socket);
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (socket, frames, stop) = (socket.clone(), frames.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: `buf` is writable for its length; the fd is open.
                    let n = unsafe {
                        libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
                    };
                    if n < 0 {
                        let e = io::Error::last_os_error();
                        match e.kind() {
                            io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted => continue,
                            _ => panic!("capture: {e}"),
                        }
                    }
                    let captured = Captured {
                        step: step.load(Ordering::SeqCst),
                        frame: buf[..n as usize].to_vec(),
                    };
                    frames.lock().expect("capture lock").push(captured);
                }
            })
        };
        Self {
            socket,
            frames,
            stop,
            reader: Some(reader),
        }
    }

    /// Sends one complete Ethernet frame into the router's port.
    pub fn send(&self, frame: &[u8]) {
        // SAFETY: `frame` is readable for its length; the socket is bound to the interface.
        let n = unsafe {
            libc::send(
                self.socket.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
            )
        };
        assert!(
            n == frame.len() as isize,
            "sending a {}-byte frame: {}",
            frame.len(),
            io::Error::last_os_error()
        );
    }

    /// Takes the frames captured so far.
    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.frames.lock().expect("capture lock"))
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
