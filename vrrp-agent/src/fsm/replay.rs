//! The AH sequence number of an instance with `auth_type AH`, with keepalived 2.2.7's
//! anti-replay rule (`ipsecah_counter` in its vrrp.c), which peers of ours apply to us:
//!
//! * One counter per instance, for sending *and* receiving. It starts at 0 (a new process:
//!   keepalived keeps nothing across restarts; a reload keeps it).
//! * Sending: the counter goes up by one and the advert carries it. Past 0xFFFF_FFFD it stops
//!   and is marked "cycled" (the same number goes out again, which receivers refuse).
//! * Receiving (after the ICV and SPI checks): a sequence number not above the counter is a
//!   replay and is dropped; otherwise the counter takes its value. So a backup that takes
//!   over numbers its adverts after the last one it accepted, and the old master, now a
//!   backup, accepts them.
//! * A master that hears a lower-priority master sets its counter to that advert's number + 1
//!   (so the other one accepts what it sends next and steps down).
//! * Becoming master with a cycled counter starts again from 0; an accepted advert in BACKUP,
//!   or one that makes a master step down, clears the mark.
//!
//! Imports nothing; `Instance` owns one and calls it at those points.

use super::RxCheckError;

/// Highest number keepalived still counts up from.
const LAST_INCREMENTED: u32 = 0xFFFF_FFFD;

/// keepalived's `seq_counter_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AhSequence {
    seq: u32,
    cycled: bool,
}

impl AhSequence {
    /// The counter: the number last sent or accepted.
    pub fn current(&self) -> u32 {
        self.seq
    }

    /// Whether the counter stopped at its end (see the module doc).
    pub fn cycled(&self) -> bool {
        self.cycled
    }

    /// The number for the next advert sent.
    pub fn next_to_send(&mut self) -> u32 {
        if self.seq > LAST_INCREMENTED {
            self.cycled = true;
        } else {
            self.seq += 1;
        }
        self.seq
    }

    /// An authenticated advert with sequence number `seq` arrived: a replay unless above the
    /// counter, which then takes its value.
    pub fn accept(&mut self, seq: u32) -> Result<(), RxCheckError> {
        if seq > self.seq {
            self.seq = seq;
            Ok(())
        } else {
            Err(RxCheckError::Replay {
                seq,
                last: self.seq,
            })
        }
    }

    /// As master, an advert from a lower-priority master with sequence number `seq` arrived:
    /// continue after it (keepalived adds 1, wrapping as C does).
    pub fn follow_lower_master(&mut self, seq: u32) {
        self.seq = seq.wrapping_add(1);
        self.cycled = false;
    }

    /// An accepted advert in BACKUP, or one that made us step down from MASTER.
    pub fn clear_cycled(&mut self) {
        self.cycled = false;
    }

    /// Becoming MASTER: a cycled counter starts again.
    pub fn becoming_master(&mut self) {
        if self.cycled {
            *self = Self::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_one_and_refuses_what_is_not_newer() {
        let mut s = AhSequence::default();
        assert_eq!((s.next_to_send(), s.next_to_send()), (1, 2));
        assert_eq!(s.accept(2), Err(RxCheckError::Replay { seq: 2, last: 2 }));
        assert_eq!(s.accept(1), Err(RxCheckError::Replay { seq: 1, last: 2 }));
        assert_eq!(s.accept(7), Ok(()));
        assert_eq!(
            s.next_to_send(),
            8,
            "sending goes on after what was accepted"
        );
        assert_eq!(s.accept(8), Err(RxCheckError::Replay { seq: 8, last: 8 }));
    }

    #[test]
    fn stops_at_the_end_and_restarts_only_when_becoming_master() {
        let mut s = AhSequence::default();
        assert_eq!(s.accept(0xFFFF_FFFC), Ok(()));
        assert_eq!(s.next_to_send(), 0xFFFF_FFFD);
        assert_eq!(s.next_to_send(), 0xFFFF_FFFE);
        assert!(!s.cycled());
        assert_eq!(s.next_to_send(), 0xFFFF_FFFE, "stuck: sent again");
        assert!(s.cycled());
        s.becoming_master();
        assert_eq!((s.current(), s.cycled()), (0, false));
        assert_eq!(s.next_to_send(), 1);
        // Not cycled: becoming master keeps the counter.
        s.becoming_master();
        assert_eq!(s.current(), 1);
    }

    #[test]
    fn a_master_follows_a_lower_master_past_its_number() {
        let mut s = AhSequence::default();
        s.next_to_send();
        s.follow_lower_master(41);
        assert_eq!(s.next_to_send(), 43);
        s.follow_lower_master(u32::MAX);
        assert_eq!(s.current(), 0, "wraps as keepalived's C does");
    }
}
