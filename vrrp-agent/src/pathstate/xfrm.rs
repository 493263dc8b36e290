//! IPsec in a namespace: how many xfrm policies (`ip xfrm policy`) and states (`ip xfrm
//! state`) it holds, counted from `XFRM_MSG_GETPOLICY` / `XFRM_MSG_GETSA` dumps on a
//! `NETLINK_XFRM` socket, and whether a default policy blocks (`ip xfrm policy setdefault`,
//! Linux ≥ 5.16: with no policy at all, every packet of that direction is dropped).
//!
//! Fails closed: [`policies_fact`] turns an unreadable count into `u32::MAX` and a blocking
//! default into one more policy. Imports `nl`.

use super::nl::{self, NlError, NlSocket};

const XFRM_MSG_NEWSA: u16 = 0x10;
const XFRM_MSG_GETSA: u16 = 0x12;
const XFRM_MSG_NEWPOLICY: u16 = 0x13;
const XFRM_MSG_GETPOLICY: u16 = 0x15;
const XFRM_MSG_GETDEFAULT: u16 = 0x28;
/// `XFRM_USERPOLICY_BLOCK` in `struct xfrm_userpolicy_default`.
const XFRM_USERPOLICY_BLOCK: u8 = 1;

/// What `NETLINK_XFRM` reports for a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XfrmCounts {
    /// Security policies (all directions, main and sub policies; not per-socket ones).
    pub policies: u32,
    /// Security associations.
    pub states: u32,
    /// Directions (in, fwd, out) whose default policy is block.
    pub blocking_defaults: u8,
}

/// Reads the counts through a new `NETLINK_XFRM` socket of the calling thread's namespace.
pub fn read_xfrm() -> Result<XfrmCounts, NlError> {
    let mut socket = NlSocket::open(nl::NETLINK_XFRM)?;
    let policies = count(&socket.dump(XFRM_MSG_GETPOLICY, &[])?, XFRM_MSG_NEWPOLICY);
    let states = count(&socket.dump(XFRM_MSG_GETSA, &[])?, XFRM_MSG_NEWSA);
    let blocking_defaults = match socket.request(XFRM_MSG_GETDEFAULT, &[0; 3]) {
        Ok(replies) => replies
            .iter()
            .find(|m| m.kind == XFRM_MSG_GETDEFAULT)
            .map(|m| blocking(&m.payload))
            .ok_or_else(|| NlError::Malformed("no reply to XFRM_MSG_GETDEFAULT".into()))?,
        // Before 5.16 there are no default policies: everything is accepted.
        Err(error) if error.kernel_errno() == Some(libc::EINVAL) => 0,
        Err(error) => return Err(error),
    };
    Ok(XfrmCounts {
        policies,
        states,
        blocking_defaults,
    })
}

fn count(messages: &[nl::Message], kind: u16) -> u32 {
    let n = messages.iter().filter(|m| m.kind == kind).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// How many of the three directions of a `struct xfrm_userpolicy_default` block; a reply
/// too short to tell counts all three.
pub fn blocking(payload: &[u8]) -> u8 {
    match payload.get(..3) {
        Some(dirs) => dirs.iter().filter(|d| **d == XFRM_USERPOLICY_BLOCK).count() as u8,
        None => 3,
    }
}

/// The number `Facts::xfrm_policies` holds: the policies plus the blocking defaults, or
/// `u32::MAX` when they could not be read.
pub fn policies_fact(counts: &Result<XfrmCounts, NlError>) -> u32 {
    match counts {
        Ok(c) => c.policies.saturating_add(u32::from(c.blocking_defaults)),
        Err(_) => u32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_blocking_counts_as_policies() {
        let clear = XfrmCounts::default();
        assert_eq!(policies_fact(&Ok(clear)), 0);
        let some = XfrmCounts {
            policies: 2,
            states: 4,
            blocking_defaults: 1,
        };
        assert_eq!(policies_fact(&Ok(some)), 3);
        assert_eq!(
            policies_fact(&Err(NlError::Malformed("x".into()))),
            u32::MAX
        );
    }

    #[test]
    fn default_policies_decode() {
        // in accept, fwd block, out accept (+ padding)
        assert_eq!(blocking(&[2, 1, 2, 0]), 1);
        assert_eq!(blocking(&[2, 2, 2]), 0);
        assert_eq!(blocking(&[0, 0, 0, 0]), 0, "unspecified is accept");
        assert_eq!(blocking(&[2]), 3);
    }
}
