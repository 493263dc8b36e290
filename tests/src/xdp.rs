//! Running the real XDP program on single frames with BPF_PROG_TEST_RUN and observing exactly
//! which counters moved.

use std::collections::BTreeMap;

use vrrp_agent::dataplane::{CounterSnapshot, Dataplane, LoadOptions};
use vrrp_ebpf_common::counters::Stat;

pub const XDP_PASS: u32 = 2;

/// Loads a private instance of the program (its own maps, so parallel tests never see each
/// other's counts).
pub fn load() -> Dataplane {
    crate::require_root();
    Dataplane::load(&LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Counter changes caused by one frame: every non-zero delta, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub stats: BTreeMap<&'static str, u64>,
    pub adverts: BTreeMap<(u8, u8, &'static str), u64>,
}

impl Delta {
    /// The delta of one well-formed advert.
    pub fn advert(vrid: u8, version: u8, ipv6: bool) -> Self {
        let mut d = Self::frame(Stat::Adverts);
        d.adverts
            .insert((vrid, version, if ipv6 { "ipv6" } else { "ipv4" }), 1);
        d
    }

    /// The delta of one frame counted as `kind` (not an advert).
    pub fn frame(kind: Stat) -> Self {
        let mut stats = BTreeMap::new();
        stats.insert(Stat::Frames.name(), 1);
        stats.insert(kind.name(), 1);
        Self {
            stats,
            adverts: BTreeMap::new(),
        }
    }

    fn between(before: &CounterSnapshot, after: &CounterSnapshot) -> Self {
        let mut d = Self::default();
        for (name, a) in &after.stats {
            let b = before.stats.get(name).copied().unwrap_or(0);
            assert!(*a >= b, "counter {name} went backwards");
            if a > &b {
                d.stats.insert(*name, a - b);
            }
        }
        for a in &after.adverts {
            let b = before
                .adverts
                .iter()
                .find(|x| (x.vrid, x.version, x.family) == (a.vrid, a.version, a.family))
                .map_or(0, |x| x.count);
            if a.count > b {
                d.adverts.insert((a.vrid, a.version, a.family), a.count - b);
            }
        }
        d
    }
}

/// What one run of the program did.
#[derive(Debug)]
pub struct Observed {
    pub action: u32,
    pub data_out: Vec<u8>,
    pub delta: Delta,
}

/// Runs the program once on `frame`.
pub fn run(dp: &Dataplane, frame: &[u8]) -> Observed {
    let before = dp.counters().expect("read counters");
    let outcome = dp.test_run(frame, 1).expect("BPF_PROG_TEST_RUN");
    let after = dp.counters().expect("read counters");
    Observed {
        action: outcome.action,
        data_out: outcome.data_out,
        delta: Delta::between(&before, &after),
    }
}

/// Runs the program on `frame` and asserts: XDP_PASS, the frame unchanged, exactly `expected`
/// counter movement.
#[track_caller]
pub fn assert_pass(dp: &Dataplane, frame: &[u8], expected: Delta, what: &str) {
    let seen = run(dp, frame);
    assert_eq!(seen.action, XDP_PASS, "{what}: verdict");
    assert_eq!(
        seen.data_out, frame,
        "{what}: the program must not modify the frame"
    );
    assert_eq!(seen.delta, expected, "{what}: counter movement");
}
