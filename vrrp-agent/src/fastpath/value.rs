//! The abstract values the analysis computes with: an IPv4 address that is either known or
//! "any but these", a set of possible 32-bit marks (or "unknown"), and a three-valued truth.
//! Pure; imports nothing of ours.

use std::{collections::BTreeSet, net::Ipv4Addr};

use ipnet::Ipv4Net;

/// Whether a condition holds for a class of packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    /// Holds for some packets of the class and not for others, in a way the analysis does not
    /// split the class by.
    Unknown,
}

impl Tri {
    pub fn from_bool(b: bool) -> Self {
        if b { Tri::True } else { Tri::False }
    }

    pub fn negate_if(self, negated: bool) -> Self {
        match (self, negated) {
            (Tri::True, true) => Tri::False,
            (Tri::False, true) => Tri::True,
            (t, _) => t,
        }
    }
}

/// An IPv4 address of a class of packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Exact(Ipv4Addr),
    /// Any address but these (the program leaves them to the kernel).
    AnyExcept(BTreeSet<Ipv4Addr>),
}

impl Addr {
    /// Whether the address is in `net`: `None` when the class holds addresses on both sides.
    pub fn in_net(&self, net: &Ipv4Net) -> Option<bool> {
        match self {
            Addr::Exact(a) => Some(net.contains(a)),
            Addr::AnyExcept(ex) => {
                if net.prefix_len() == 0 {
                    Some(true)
                } else if net.prefix_len() == 32 && ex.contains(&net.addr()) {
                    Some(false)
                } else {
                    None
                }
            }
        }
    }
}

/// The most marks a set holds before it becomes [`Marks::Unknown`].
const MAX_MARKS: usize = 64;

/// The possible values of a packet mark or a connection mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marks {
    Set(BTreeSet<u32>),
    Unknown,
}

impl Marks {
    pub fn zero() -> Self {
        Marks::Set(BTreeSet::from([0]))
    }

    fn from_iter(values: impl IntoIterator<Item = u32>) -> Self {
        let set: BTreeSet<u32> = values.into_iter().collect();
        if set.len() > MAX_MARKS {
            Marks::Unknown
        } else {
            Marks::Set(set)
        }
    }

    /// `x = (x & !mask) ^ value` for every value.
    pub fn set_xmark(&self, value: u32, mask: u32) -> Self {
        match self {
            Marks::Set(s) => Marks::from_iter(s.iter().map(|x| (x & !mask) ^ value)),
            Marks::Unknown if mask == u32::MAX => Marks::Set(BTreeSet::from([value])),
            Marks::Unknown => Marks::Unknown,
        }
    }

    /// `x = (x & !keep_mask) ^ (y & take_mask)` for every pair (the CONNMARK save and
    /// restore operations).
    pub fn combine(&self, keep_mask: u32, other: &Marks, take_mask: u32) -> Self {
        match (self, other) {
            (Marks::Set(a), Marks::Set(b)) => Marks::from_iter(
                a.iter()
                    .flat_map(|x| b.iter().map(move |y| (x & !keep_mask) ^ (y & take_mask))),
            ),
            (Marks::Set(a), Marks::Unknown) if take_mask == 0 => {
                Marks::from_iter(a.iter().map(|x| x & !keep_mask))
            }
            (Marks::Unknown, Marks::Set(b)) if keep_mask == u32::MAX => {
                Marks::from_iter(b.iter().map(|y| y & take_mask))
            }
            _ => Marks::Unknown,
        }
    }

    /// Splits by `(x & mask) == value`: the marks for which it holds and those for which it
    /// does not (`None` on either side: no such mark); `Err` when unknown.
    pub fn split(&self, value: u32, mask: u32) -> Result<(Option<Marks>, Option<Marks>), ()> {
        match self {
            Marks::Set(s) => {
                let (yes, no): (BTreeSet<u32>, BTreeSet<u32>) =
                    s.iter().partition(|x| *x & mask == value);
                let wrap = |s: BTreeSet<u32>| (!s.is_empty()).then_some(Marks::Set(s));
                Ok((wrap(yes), wrap(no)))
            }
            Marks::Unknown => Err(()),
        }
    }

    pub fn union(&self, other: &Marks) -> Marks {
        match (self, other) {
            (Marks::Set(a), Marks::Set(b)) => Marks::from_iter(a.iter().chain(b).copied()),
            _ => Marks::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_follow_iptables_xmark_and_connmark_arithmetic() {
        let m = Marks::zero()
            .set_xmark(0x2, 0xffff)
            .set_xmark(0x400_0000, 0xffff_0000);
        assert_eq!(m, Marks::Set(BTreeSet::from([0x400_0002])));
        // CONNMARK --save-mark --nfmask 0xffff0000 --ctmask 0xffff0000 into a zero ctmark.
        let ct = Marks::zero().combine(0xffff_0000, &m, 0xffff_0000);
        assert_eq!(ct, Marks::Set(BTreeSet::from([0x400_0000])));
        // --restore-mark into a fresh packet mark 0x2.
        let restored = Marks::Set(BTreeSet::from([0x2])).combine(0xffff_0000, &ct, 0xffff_0000);
        assert_eq!(restored, Marks::Set(BTreeSet::from([0x400_0002])));
        let (yes, no) = Marks::Set(BTreeSet::from([0, 0x400_0000]))
            .split(0, 0xffff_0000)
            .unwrap();
        assert_eq!(yes, Some(Marks::Set(BTreeSet::from([0]))));
        assert_eq!(no, Some(Marks::Set(BTreeSet::from([0x400_0000]))));
        assert!(Marks::Unknown.split(0, 1).is_err());
        assert_eq!(
            Marks::Unknown.set_xmark(7, u32::MAX),
            Marks::Set(BTreeSet::from([7]))
        );
    }

    #[test]
    fn an_address_class_answers_only_what_it_knows() {
        let any = Addr::AnyExcept(BTreeSet::from(["169.254.169.254".parse().unwrap()]));
        assert_eq!(any.in_net(&"0.0.0.0/0".parse().unwrap()), Some(true));
        assert_eq!(
            any.in_net(&"169.254.169.254/32".parse().unwrap()),
            Some(false)
        );
        assert_eq!(any.in_net(&"10.0.0.0/8".parse().unwrap()), None);
        let one = Addr::Exact("10.0.10.5".parse().unwrap());
        assert_eq!(one.in_net(&"10.0.10.0/24".parse().unwrap()), Some(true));
        assert_eq!(one.in_net(&"10.0.11.0/24".parse().unwrap()), Some(false));
    }
}
