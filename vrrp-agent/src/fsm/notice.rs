//! What an instance has to say about the adverts it receives, as values for the driver to
//! log: refused adverts with their source and reason (RFC 9568 §7.1: log, rate-limited),
//! another router's checksum form (once per peer and form), a VRRPv3 master advertising
//! another interval than ours (RFC 9568 §7.1, rate-limited), a second address owner
//! (RFC 9568 §8.3.2, rate-limited as a refusal).
//!
//! The rate limit is per instance and reason: the first occurrence at once, then at most one
//! line per [`RATE_LIMIT`], carrying how many were left unsaid in between. Time comes in as an
//! argument.
//!
//! May import `crate::packet` only.

use std::{
    collections::HashMap,
    fmt,
    net::IpAddr,
    time::{Duration, Instant},
};

use crate::packet::{Centisecs, ChecksumForm};

/// At most one line per instance and reason this often (after the first).
pub const RATE_LIMIT: Duration = Duration::from_secs(60);

/// Something worth a log line about received adverts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// An advert was refused: nothing in it was acted on.
    Rejected {
        from: IpAddr,
        /// Counter name (`rx_errors` in status).
        kind: &'static str,
        /// Why, in words.
        reason: String,
        /// Refusals of this kind not logged since the previous line.
        suppressed: u64,
    },
    /// A VRRPv3-over-IPv4 peer computes its checksum in another form than we send.
    ChecksumForm {
        peer: IpAddr,
        theirs: ChecksumForm,
        ours: ChecksumForm,
        /// `v3_checksum = auto`: we now send theirs. Otherwise they may refuse ours.
        following: bool,
    },
    /// A VRRPv3 master advertises another interval than ours (we follow it as a backup).
    IntervalDiffers {
        from: IpAddr,
        theirs: Centisecs,
        ours: Centisecs,
        suppressed: u64,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Rejected {
                from,
                kind,
                reason,
                suppressed,
            } => {
                write!(f, "refused an advert from {from}: {reason} ({kind})")?;
                more(f, *suppressed)
            }
            Notice::ChecksumForm {
                peer,
                theirs,
                ours,
                following,
            } => {
                write!(
                    f,
                    "{peer} computes VRRPv3 checksums {}; this instance sent them {}",
                    theirs.describe(),
                    ours.describe()
                )?;
                if *following {
                    write!(
                        f,
                        ", and now sends {} like it (v3_checksum = \"auto\")",
                        theirs.name()
                    )
                } else {
                    let (ka, frr) = match theirs {
                        ChecksumForm::MessageOnly => (
                            "with `v3_checksum_as_v2`",
                            "`vrrp N checksum-with-ipv4-pseudoheader`",
                        ),
                        ChecksumForm::WithPseudoHeader => (
                            "without `v3_checksum_as_v2`",
                            "`no vrrp N checksum-with-ipv4-pseudoheader`",
                        ),
                    };
                    write!(
                        f,
                        ", which {peer} may refuse: set v3_checksum = \"{}\" or \"auto\" \
                         (keepalived.conf: {ka}), or make the peer send ours (FRR: {frr})",
                        theirs.name(),
                    )
                }
            }
            Notice::IntervalDiffers {
                from,
                theirs,
                ours,
                suppressed,
            } => {
                write!(
                    f,
                    "{from} advertises every {theirs}, this instance every {ours}; \
                     as a backup it times the master out on {from}'s interval (RFC 9568 §6.4.2)"
                )?;
                more(f, *suppressed)
            }
        }
    }
}

fn more(f: &mut fmt::Formatter<'_>, suppressed: u64) -> fmt::Result {
    if suppressed > 0 {
        write!(f, "; {suppressed} more like it since the last report")?;
    }
    Ok(())
}

/// The rate limit of one instance: per reason, when it last spoke and how much it kept quiet.
#[derive(Debug, Default)]
pub struct NoticeLimiter {
    last: HashMap<&'static str, (Instant, u64)>,
    /// Peers and forms already reported (checksum notes are once each, not rate-limited).
    checksum_noted: Vec<(IpAddr, ChecksumForm)>,
}

impl NoticeLimiter {
    /// Whether a notice of `kind` may be said at `now`, and how many were suppressed before
    /// it; `None` to stay quiet (and count it).
    pub fn admit(&mut self, kind: &'static str, now: Instant) -> Option<u64> {
        match self.last.get_mut(kind) {
            Some((at, suppressed)) if now < *at + RATE_LIMIT => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                *at = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                self.last.insert(kind, (now, 0));
                Some(0)
            }
        }
    }

    /// True the first time `peer` is seen with checksum `form`.
    pub fn first_checksum_note(&mut self, peer: IpAddr, form: ChecksumForm) -> bool {
        if self.checksum_noted.contains(&(peer, form)) {
            return false;
        }
        self.checksum_noted.push((peer, form));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // an arbitrary origin for virtual time
    fn first_at_once_then_once_per_period_with_the_count_in_between() {
        let mut l = NoticeLimiter::default();
        let t0 = Instant::now();
        assert_eq!(l.admit("checksum", t0), Some(0));
        assert_eq!(l.admit("checksum", t0 + Duration::from_secs(1)), None);
        assert_eq!(l.admit("checksum", t0 + Duration::from_secs(2)), None);
        // Another reason has its own budget.
        assert_eq!(l.admit("ttl", t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(l.admit("checksum", t0 + RATE_LIMIT), Some(2));
        assert_eq!(l.admit("checksum", t0 + RATE_LIMIT), None);
    }

    #[test]
    fn checksum_notes_once_per_peer_and_form() {
        let mut l = NoticeLimiter::default();
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        assert!(l.first_checksum_note(a, ChecksumForm::MessageOnly));
        assert!(!l.first_checksum_note(a, ChecksumForm::MessageOnly));
        assert!(l.first_checksum_note(b, ChecksumForm::MessageOnly));
        assert!(l.first_checksum_note(a, ChecksumForm::WithPseudoHeader));
    }
}
