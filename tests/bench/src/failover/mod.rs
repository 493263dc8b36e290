//! `bench failover`: outage, TCP survival and dual forwarding when the master fails, vrrp-xdp
//! against keepalived on the same test bed with the same intervals, several repetitions per
//! case. Runs the trials ([`trial`]), then aggregates them into the report (pure, in
//! [`summary`]).

pub mod daemon;
pub mod measure;
pub mod summary;
pub mod trial;

use daemon::{Fault, Implementation};
use trial::{Outcome, Setup};

use super::{BenchOptions, report::Section};

/// VRRP version and advertisement interval of one comparison: VRRPv2 at 1 s and at Neutron's
/// default 2 s, VRRPv3 at 100 ms and at 10 ms (the smallest interval keepalived accepts:
/// `advert_int 0.01`; 0.001 is refused as "outside range [0.01, 255]").
pub const INTERVALS: [(u8, f64); 4] = [(2, 1.0), (2, 2.0), (3, 0.1), (3, 0.01)];

/// One trial's record.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trial {
    pub setup: Setup,
    pub repetition: usize,
    pub outcome: Result<Outcome, String>,
}

/// Only cases whose description (`vrrp-xdp v3 0.1s kill -9`) contains this run, for trying
/// one case: `VXT_FAILOVER_ONLY="keepalived v3 0.1s" cargo xtask bench failover --quick`.
const ONLY_ENV: &str = "VXT_FAILOVER_ONLY";

pub fn run(opts: &BenchOptions) -> anyhow::Result<Section> {
    let reps = opts.pick(5, 1);
    let only = std::env::var(ONLY_ENV).ok();
    let mut trials = vec![];
    let total = reps * INTERVALS.len() * Fault::ALL.len() * 2;
    let mut n = 0;
    let t0 = std::time::Instant::now();
    // Repetitions outermost and implementations alternating, so slow drifts of the machine
    // hit both alike.
    for repetition in 0..reps {
        for (version, interval) in INTERVALS {
            for fault in Fault::ALL {
                for implementation in [Implementation::VrrpXdp, Implementation::Keepalived] {
                    let what = format!(
                        "{} v{version} {interval}s {}",
                        implementation.name(),
                        fault.name()
                    );
                    if only.as_ref().is_some_and(|o| !what.contains(o.as_str())) {
                        continue;
                    }
                    n += 1;
                    let setup = Setup {
                        implementation,
                        version,
                        interval,
                        fault,
                    };
                    let tag = format!("fo{}-{n}", std::process::id() % 10000);
                    let outcome = std::panic::catch_unwind(|| trial::run(&setup, &tag))
                        .map_err(|p| {
                            p.downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "panicked".into())
                        })
                        .and_then(|r| r.map_err(|e| format!("{e:#}")));
                    println!(
                        "  [{n}/{total} {:.0}s] {what}: {}",
                        t0.elapsed().as_secs_f64(),
                        match &outcome {
                            Ok(o) => format!(
                                "outage {:.0} ms (gateway {:.0}, floating IP {:.0}, silence {:.0}), takeover {}, dual {:.0} ms{}, TCP {}",
                                o.outage_ms(),
                                o.outage_gateway_ms,
                                o.outage_floating_ms,
                                o.silence_ms,
                                o.takeover_ms
                                    .map(|t| format!("{t:.0} ms"))
                                    .unwrap_or_else(|| "never".into()),
                                o.dual_forwarding_ms,
                                if o.dual_until_end { " (until end)" } else { "" },
                                if o.tcp_survived { "survived" } else { "broke" }
                            ),
                            Err(e) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
                        }
                    );
                    trials.push(Trial {
                        setup,
                        repetition,
                        outcome,
                    });
                }
            }
        }
    }
    Ok(summary::section(&trials, opts.quick))
}
