//! Raw netlink for the readers of `pathstate`: a blocking socket that sends one request and
//! collects every reply (a dump until `NLMSG_DONE`; the kernel's errors, interrupted dumps and
//! malformed replies become [`NlError`], never a shorter answer), the framing and attribute
//! helpers the readers parse with, and the non-blocking sockets subscribed to multicast groups
//! that `facts_watch` drives. Imports nothing of ours (netlink-sys through `rtnetlink`'s
//! re-export).
//!
//! The readers parse replies themselves instead of going through `rtnetlink`: its connection
//! logs and drops a message it cannot decode, which for a fact reader would turn "something
//! is there" into "nothing is there".

use std::{io, time::Duration};

use rtnetlink::sys::Socket;
pub(crate) use rtnetlink::sys::protocols::{NETLINK_GENERIC, NETLINK_ROUTE, NETLINK_XFRM};

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const HEADER_LEN: usize = 16;

/// How long a reply may take before the request counts as failed.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a dump that a concurrent change interrupted is started again.
const DUMP_TRIES: u32 = 4;

/// Why a request got no complete answer.
#[derive(Debug, thiserror::Error)]
pub enum NlError {
    #[error("cannot open a netlink socket")]
    Socket(#[source] io::Error),
    #[error("netlink send or receive failed")]
    Io(#[source] io::Error),
    #[error("the kernel refused the request")]
    Kernel(#[source] io::Error),
    #[error("the dump was interrupted by concurrent changes {DUMP_TRIES} times in a row")]
    Interrupted,
    #[error("malformed netlink reply: {0}")]
    Malformed(String),
}

impl NlError {
    /// The errno the kernel answered with, if it refused the request.
    pub fn kernel_errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel(error) => error.raw_os_error(),
            _ => None,
        }
    }
}

/// An error and its causes on one line (`cannot ...: the kernel refused ...: No such file`),
/// for the "unreadable: ..." entries the readers report instead of a value.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One netlink message of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: Vec<u8>,
}

/// Splits one datagram into its messages.
pub(crate) fn split(datagram: &[u8]) -> Result<Vec<Message>, NlError> {
    let mut messages = Vec::new();
    let mut rest = datagram;
    while rest.len() >= HEADER_LEN {
        let len = u32_at(rest, 0).unwrap_or(0) as usize;
        if len < HEADER_LEN || len > rest.len() {
            return Err(NlError::Malformed(format!(
                "a message says it is {len} bytes long, {} bytes are left",
                rest.len()
            )));
        }
        messages.push(Message {
            kind: u16_at(rest, 4).unwrap_or(0),
            flags: u16_at(rest, 6).unwrap_or(0),
            seq: u32_at(rest, 8).unwrap_or(0),
            payload: rest[HEADER_LEN..len].to_vec(),
        });
        rest = rest.get(align(len)..).unwrap_or(&[]);
    }
    Ok(messages)
}

/// A request message: header, then `payload` padded to 4 bytes.
pub(crate) fn encode(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = HEADER_LEN + align(payload.len());
    let mut frame = Vec::with_capacity(len);
    frame.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    frame.extend_from_slice(&kind.to_ne_bytes());
    frame.extend_from_slice(&flags.to_ne_bytes());
    frame.extend_from_slice(&seq.to_ne_bytes());
    frame.extend_from_slice(&0u32.to_ne_bytes());
    frame.extend_from_slice(payload);
    frame.resize(len, 0);
    frame
}

/// One attribute (type, value), padded to 4 bytes, for building requests.
pub(crate) fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut out = Vec::with_capacity(align(len));
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align(len), 0);
    out
}

/// The attributes in `bytes` as (type without the nested/byte-order flags, value); a
/// malformed attribute ends the list with an error.
pub(crate) fn attrs(bytes: &[u8]) -> Attrs<'_> {
    Attrs { rest: bytes }
}

/// Iterator of [`attrs`].
pub(crate) struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let len = usize::from(u16_at(rest, 0).unwrap_or(0));
        if len < 4 || len > rest.len() {
            return Some(Err(NlError::Malformed(format!(
                "an attribute says it is {len} bytes long, {} bytes are left",
                rest.len()
            ))));
        }
        let kind = u16_at(rest, 2).unwrap_or(0) & NLA_TYPE_MASK;
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok((kind, &rest[4..len])))
    }
}

/// The attribute type without `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`.
const NLA_TYPE_MASK: u16 = 0x3FFF;

/// The first attribute of type `kind` in `bytes` (malformed attributes are skipped over as
/// far as the list can be walked).
pub(crate) fn find_attr(bytes: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(bytes)
        .map_while(Result::ok)
        .find(|(k, _)| *k == kind)
        .map(|(_, value)| value)
}

pub(crate) fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// A NUL-terminated (or unterminated) string attribute value.
pub(crate) fn string(value: &[u8]) -> String {
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

fn align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// A blocking netlink socket for requests, in the namespace of the thread that opened it.
pub(crate) struct NlSocket {
    socket: Socket,
    seq: u32,
}

impl NlSocket {
    pub fn open(protocol: isize) -> Result<Self, NlError> {
        let mut socket = Socket::new(protocol).map_err(NlError::Socket)?;
        socket.bind_auto().map_err(NlError::Socket)?;
        socket2::SockRef::from(&socket)
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(NlError::Socket)?;
        Ok(Self { socket, seq: 0 })
    }

    /// A dump of `kind` with `payload`: every message up to `NLMSG_DONE`. A dump that a
    /// concurrent change interrupted (`NLM_F_DUMP_INTR`) is started again, a few times.
    pub fn dump(&mut self, kind: u16, payload: &[u8]) -> Result<Vec<Message>, NlError> {
        for _ in 0..DUMP_TRIES {
            match self.exchange(kind, NLM_F_REQUEST | NLM_F_DUMP, payload) {
                Err(NlError::Interrupted) => continue,
                other => return other,
            }
        }
        Err(NlError::Interrupted)
    }

    /// A request that is acknowledged: the replies before the acknowledgement.
    pub fn request(&mut self, kind: u16, payload: &[u8]) -> Result<Vec<Message>, NlError> {
        self.exchange(kind, NLM_F_REQUEST | NLM_F_ACK, payload)
    }

    fn exchange(&mut self, kind: u16, flags: u16, payload: &[u8]) -> Result<Vec<Message>, NlError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.socket
            .send(&encode(kind, flags, seq, payload), 0)
            .map_err(NlError::Io)?;
        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            let datagram = self.receive()?;
            for message in split(&datagram)? {
                if message.seq != seq {
                    continue; // a late answer to an earlier request
                }
                interrupted |= message.flags & NLM_F_DUMP_INTR != 0;
                match message.kind {
                    NLMSG_NOOP => {}
                    NLMSG_ERROR | NLMSG_DONE => {
                        // Both carry an errno (0: success, or the acknowledgement).
                        let code = u32_at(&message.payload, 0).map_or(0, |c| c as i32);
                        if code < 0 {
                            return Err(NlError::Kernel(io::Error::from_raw_os_error(-code)));
                        }
                        if interrupted {
                            return Err(NlError::Interrupted);
                        }
                        return Ok(replies);
                    }
                    NLMSG_OVERRUN => {
                        return Err(NlError::Malformed("the kernel reported an overrun".into()));
                    }
                    _ => replies.push(message),
                }
            }
        }
    }

    /// One whole datagram, however long.
    fn receive(&self) -> Result<Vec<u8>, NlError> {
        loop {
            let mut peek: Vec<u8> = Vec::with_capacity(16);
            let len = match self
                .socket
                .recv(&mut peek, libc::MSG_PEEK | libc::MSG_TRUNC)
            {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NlError::Io(e)),
            };
            let mut datagram: Vec<u8> = Vec::with_capacity(len.max(16));
            match self.socket.recv(&mut datagram, 0) {
                Ok(got) if got == len && datagram.len() == len => return Ok(datagram),
                Ok(got) => {
                    return Err(NlError::Malformed(format!(
                        "a {got}-byte datagram did not fit the {len} bytes it announced"
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NlError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_malformed_lengths_are_errors() {
        let mut datagram = encode(16, 2, 7, &[1, 2, 3]);
        datagram.extend(encode(3, 2, 7, &0i32.to_ne_bytes()));
        let messages = split(&datagram).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].kind, 16);
        assert_eq!(messages[0].seq, 7);
        assert_eq!(messages[0].payload, vec![1, 2, 3, 0]);
        assert_eq!(messages[1].kind, NLMSG_DONE);

        let mut bad = encode(16, 0, 1, &[0; 8]);
        bad[0] = 200; // longer than the datagram
        assert!(matches!(split(&bad), Err(NlError::Malformed(_))));
        bad[0] = 4; // shorter than a header
        assert!(split(&bad).is_err());
        assert_eq!(split(&[1, 2, 3]).unwrap(), vec![]);
    }

    #[test]
    fn attributes_parse_and_stop_at_garbage() {
        let mut bytes = attr(3, b"eth0\0");
        bytes.extend(attr(4, &1500u32.to_ne_bytes()));
        assert_eq!(find_attr(&bytes, 3).map(string), Some("eth0".to_string()));
        assert_eq!(find_attr(&bytes, 4).and_then(|v| u32_at(v, 0)), Some(1500));
        assert_eq!(find_attr(&bytes, 5), None);
        bytes.extend([0xff, 0xff, 1]);
        assert!(attrs(&bytes).any(|a| a.is_err()));
        assert_eq!(u64_at(&[1, 2], 0), None);
    }

    #[test]
    fn errors_are_described_with_their_causes() {
        let error = NlError::Kernel(io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(error.kernel_errno(), Some(libc::ENOENT));
        let text = describe(&error);
        assert!(
            text.starts_with("the kernel refused the request: "),
            "{text}"
        );
    }
}
