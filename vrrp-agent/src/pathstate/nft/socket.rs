//! A blocking NETLINK_NETFILTER socket for nf_tables requests in the calling thread's network
//! namespace: dumps (tables, chains, rules of every family) and the ruleset generation. It
//! splits the kernel's datagrams into messages and hands their attributes on undecoded.
//! Imports `crate::pathstate::error`.

use std::{io, time::Duration};

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};

use crate::pathstate::error::PathStateError;

pub(crate) const NFNL_SUBSYS_NFTABLES: u16 = 10;
pub(crate) const NFT_MSG_NEWTABLE: u8 = 0;
pub(crate) const NFT_MSG_GETTABLE: u8 = 1;
pub(crate) const NFT_MSG_NEWCHAIN: u8 = 3;
pub(crate) const NFT_MSG_GETCHAIN: u8 = 4;
pub(crate) const NFT_MSG_NEWRULE: u8 = 6;
pub(crate) const NFT_MSG_GETRULE: u8 = 7;
pub(crate) const NFT_MSG_NEWGEN: u8 = 15;
pub(crate) const NFT_MSG_GETGEN: u8 = 16;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
/// The dump was interrupted by a change (its messages may be inconsistent).
const NLM_F_DUMP_INTR: u16 = 0x10;

const HEADER: usize = 16;
const NFGENMSG: usize = 4;
/// Larger than any dump datagram (the kernel caps them at 32 KiB).
const RECV_BUF: usize = 64 * 1024;

/// One nf_tables message: its type within the subsystem, the nfgenmsg family, the attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub msg_type: u8,
    pub family: u8,
    pub attrs: Vec<u8>,
}

/// The messages of one dump; `interrupted` when the kernel flagged it inconsistent.
#[derive(Debug, Default)]
pub(crate) struct Dump {
    pub messages: Vec<Message>,
    pub interrupted: bool,
}

/// One netlink message of a datagram.
pub(crate) struct Raw<'a> {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// Splits a datagram into netlink messages; a malformed length ends the walk with an error.
pub(crate) fn split(mut buf: &[u8]) -> Result<Vec<Raw<'_>>, String> {
    let mut out = Vec::new();
    while buf.len() >= HEADER {
        let word = |o: usize| u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
        let len = usize::try_from(word(0)).map_err(|e| e.to_string())?;
        if len < HEADER || len > buf.len() {
            return Err(format!(
                "netlink message of {len} bytes in {} left",
                buf.len()
            ));
        }
        out.push(Raw {
            msg_type: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: word(8),
            payload: &buf[HEADER..len],
        });
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    Ok(out)
}

/// The nf_tables message in a raw netlink message, if it is one.
pub(crate) fn nft_message(raw: &Raw<'_>) -> Option<Message> {
    if raw.msg_type >> 8 != NFNL_SUBSYS_NFTABLES || raw.payload.len() < NFGENMSG {
        return None;
    }
    Some(Message {
        msg_type: (raw.msg_type & 0xff) as u8,
        family: raw.payload[0],
        attrs: raw.payload[NFGENMSG..].to_vec(),
    })
}

pub(crate) struct NfSocket {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn sock_err(action: &'static str) -> impl FnOnce(io::Error) -> PathStateError {
    move |error| PathStateError::NftSocket { action, error }
}

impl NfSocket {
    /// A socket in the calling thread's network namespace.
    pub(crate) fn open() -> Result<Self, PathStateError> {
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(sock_err("open"))?;
        socket.bind_auto().map_err(sock_err("bind"))?;
        // The kernel always answers; the timeout only guards against a wedged socket.
        socket2::SockRef::from(&socket)
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(sock_err("set a receive timeout"))?;
        Ok(Self {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    fn send(&mut self, msg_type: u8, flags: u16) -> Result<u32, PathStateError> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(HEADER + NFGENMSG);
        m.extend_from_slice(&((HEADER + NFGENMSG) as u32).to_ne_bytes());
        m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | u16::from(msg_type)).to_ne_bytes());
        m.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: AF_UNSPEC (every family), NFNETLINK_V0, res_id 0
        m.extend_from_slice(&[0, 0, 0, 0]);
        self.socket.send(&m, 0).map_err(sock_err("send"))?;
        Ok(self.seq)
    }

    /// Receives one datagram into `self.buf`.
    fn recv(&mut self) -> Result<(), PathStateError> {
        loop {
            self.buf.clear();
            match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                Ok(n) if n > self.buf.capacity() => {
                    return Err(PathStateError::NftSocket {
                        action: "receive",
                        error: io::Error::other(format!("datagram of {n} bytes truncated")),
                    });
                }
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(sock_err("receive")(e)),
            }
        }
    }

    /// Sends a request and collects the answer's nf_tables messages until the dump ends
    /// (`dump`) or the acknowledgement arrives.
    fn exchange(
        &mut self,
        msg_type: u8,
        dump: bool,
        request: &'static str,
    ) -> Result<Dump, PathStateError> {
        let seq = self.send(msg_type, if dump { NLM_F_DUMP } else { NLM_F_ACK })?;
        let mut out = Dump::default();
        loop {
            self.recv()?;
            let raws = split(&self.buf).map_err(|detail| PathStateError::NftDecode {
                what: "a netlink datagram",
                detail,
            })?;
            for raw in raws {
                if raw.seq != seq {
                    continue;
                }
                if raw.flags & NLM_F_DUMP_INTR != 0 {
                    out.interrupted = true;
                }
                match raw.msg_type {
                    NLMSG_NOOP => {}
                    NLMSG_ERROR | NLMSG_DONE => {
                        let code = raw
                            .payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if code == -libc::EINTR && dump {
                            out.interrupted = true;
                            return Ok(out);
                        }
                        if code < 0 {
                            return Err(PathStateError::NftRefused {
                                request,
                                error: io::Error::from_raw_os_error(-code),
                            });
                        }
                        return Ok(out);
                    }
                    _ => {
                        if let Some(m) = nft_message(&raw) {
                            out.messages.push(m);
                        }
                    }
                }
            }
        }
    }

    /// Dumps every object of a kind (`NFT_MSG_GETTABLE`, `GETCHAIN`, `GETRULE`) of every family.
    pub(crate) fn dump(&mut self, msg_type: u8) -> Result<Dump, PathStateError> {
        let request = match msg_type {
            NFT_MSG_GETTABLE => "the table dump",
            NFT_MSG_GETCHAIN => "the chain dump",
            NFT_MSG_GETRULE => "the rule dump",
            _ => "a dump",
        };
        self.exchange(msg_type, true, request)
    }

    /// The ruleset generation id (it changes with every committed transaction).
    pub(crate) fn generation(&mut self) -> Result<u32, PathStateError> {
        let answer = self.exchange(NFT_MSG_GETGEN, false, "the generation request")?;
        answer
            .messages
            .iter()
            .find(|m| m.msg_type == NFT_MSG_NEWGEN)
            .and_then(|m| gen_id(&m.attrs))
            .ok_or_else(|| PathStateError::NftDecode {
                what: "the generation",
                detail: "no NFTA_GEN_ID in the answer".into(),
            })
    }
}

/// NFTA_GEN_ID of a NEWGEN message's attributes.
pub(crate) fn gen_id(attrs: &[u8]) -> Option<u32> {
    use netlink_packet_core::Parseable;
    use netlink_packet_netfilter::nftables::GenAttribute;
    netlink_packet_core::NlasIterator::new(attrs)
        .filter_map(Result::ok)
        .filter_map(|nla| GenAttribute::parse(&nla).ok())
        .find_map(|a| match a {
            GenAttribute::Id(id) => Some(id),
            _ => None,
        })
}
