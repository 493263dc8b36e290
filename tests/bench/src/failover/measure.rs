//! What one failover trial's probes say (pure): the outage, as the longest run of lost probes
//! on the sender's clock (so a receiver or sender that the scheduler held up cannot fake or
//! hide one), the longest silence at the receiver, and how long two routers forwarded at
//! once (the span of probes that arrived twice, since the bed's bridges flood every frame to
//! both).

use std::time::{Duration, Instant};

/// Arrivals at one probe sink: (when, sequence number).
pub type Arrivals = [(Instant, u64)];

/// The longest gap between consecutive arrivals in `[from, until]`, counting the edges: if
/// nothing arrives after `from`, the whole window is the outage.
pub fn outage(arrivals: &Arrivals, from: Instant, until: Instant) -> Duration {
    let mut times: Vec<Instant> = arrivals
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t >= from && *t <= until)
        .collect();
    times.sort();
    let mut edges = vec![from];
    edges.extend(times);
    edges.push(until);
    edges
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// The longest run of lost probes sent after `from`, on the sender's clock: from the send
/// time of the last probe that arrived before the run to that of the first one after it (or
/// to `until` if none came back). `sent[seq]` is when probe `seq` left.
pub fn lost_run(sent: &[Instant], arrivals: &Arrivals, from: Instant, until: Instant) -> Duration {
    let mut arrived = vec![false; sent.len()];
    for (_, seq) in arrivals {
        if let Some(a) = arrived.get_mut(*seq as usize) {
            *a = true;
        }
    }
    let mut longest = Duration::ZERO;
    let mut last_ok: Option<Instant> = None;
    let mut in_run = false;
    for (seq, t) in sent.iter().enumerate() {
        if arrived[seq] {
            if in_run && let Some(prev) = last_ok {
                longest = longest.max(t.saturating_duration_since(prev));
            }
            in_run = false;
            last_ok = Some(*t);
        } else if *t >= from {
            in_run = true;
        }
    }
    if in_run && let Some(prev) = last_ok {
        longest = longest.max(until.saturating_duration_since(prev));
    }
    longest
}

/// Two forwarders at once, as seen by one sink.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DualForwarding {
    /// Probes that arrived more than once.
    pub duplicated: u64,
    /// From the first to the last second copy (zero without duplicates).
    pub span: Duration,
    /// The last second copy came near the end of the observation: it likely went on.
    pub until_end: bool,
}

/// Duplicates among `arrivals` after `from`; `until` is the end of the observation, and a
/// last duplicate within `slack` of it counts as "still going at the end".
pub fn dual_forwarding(
    arrivals: &Arrivals,
    from: Instant,
    until: Instant,
    slack: Duration,
) -> DualForwarding {
    let mut seen = std::collections::HashMap::<u64, u32>::new();
    let mut seconds: Vec<Instant> = vec![];
    let mut sorted: Vec<&(Instant, u64)> = arrivals.iter().collect();
    sorted.sort_by_key(|(t, _)| *t);
    for (t, seq) in sorted {
        let n = seen.entry(*seq).or_default();
        *n += 1;
        if *n == 2 && *t >= from {
            seconds.push(*t);
        }
    }
    match (seconds.first(), seconds.last()) {
        (Some(first), Some(last)) => DualForwarding {
            duplicated: seconds.len() as u64,
            span: *last - *first,
            until_end: until.saturating_duration_since(*last) <= slack,
        },
        _ => DualForwarding::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64, seq: u64) -> (Instant, u64) {
        (t0 + Duration::from_millis(ms), seq)
    }

    #[test]
    fn outage_is_the_longest_gap_including_the_edges() {
        let t0 = Instant::now();
        let a = [at(t0, 0, 0), at(t0, 1, 1), at(t0, 50, 2), at(t0, 51, 3)];
        let until = t0 + Duration::from_millis(60);
        assert_eq!(outage(&a, t0, until), Duration::from_millis(49));
        // Nothing after the fault: the whole window.
        assert_eq!(
            outage(&a, t0 + Duration::from_millis(52), until),
            Duration::from_millis(8)
        );
        // Silence until the end counts.
        let until = t0 + Duration::from_millis(200);
        assert_eq!(outage(&a, t0, until), Duration::from_millis(149));
    }

    #[test]
    fn lost_runs_are_measured_on_the_senders_clock() {
        let t0 = Instant::now();
        let sent: Vec<Instant> = (0..10)
            .map(|i| t0 + Duration::from_millis(i * 10))
            .collect();
        // 3, 4, 5 lost; arrivals timestamps late (a held-up receiver) do not matter.
        let late = t0 + Duration::from_secs(5);
        let arrivals: Vec<(Instant, u64)> =
            [0, 1, 2, 6, 7, 8, 9].iter().map(|s| (late, *s)).collect();
        let until = t0 + Duration::from_millis(200);
        assert_eq!(
            lost_run(&sent, &arrivals, t0, until),
            Duration::from_millis(40)
        );
        // Losses before `from` are not this fault's.
        assert_eq!(
            lost_run(&sent, &arrivals, t0 + Duration::from_millis(61), until),
            Duration::ZERO
        );
        // Never recovered: until the end.
        let arrivals: Vec<(Instant, u64)> = [0, 1].iter().map(|s| (late, *s)).collect();
        assert_eq!(
            lost_run(&sent, &arrivals, t0, until),
            Duration::from_millis(190)
        );
        // A sender that stalled (no probes) is no outage.
        let sent = vec![t0, t0 + Duration::from_millis(500)];
        let arrivals = [(late, 0), (late, 1)];
        assert_eq!(lost_run(&sent, &arrivals, t0, until), Duration::ZERO);
    }

    #[test]
    fn dual_forwarding_spans_second_copies_after_the_fault() {
        let t0 = Instant::now();
        let a = [
            at(t0, 0, 0),
            at(t0, 0, 0), // before the fault: ignored
            at(t0, 10, 1),
            at(t0, 20, 2),
            at(t0, 21, 2),
            at(t0, 30, 3),
            at(t0, 31, 3),
            at(t0, 40, 4),
        ];
        let d = dual_forwarding(
            &a,
            t0 + Duration::from_millis(5),
            t0 + Duration::from_millis(100),
            Duration::from_millis(10),
        );
        assert_eq!(d.duplicated, 2);
        assert_eq!(d.span, Duration::from_millis(10));
        assert!(!d.until_end);
        let d = dual_forwarding(
            &a,
            t0,
            t0 + Duration::from_millis(35),
            Duration::from_millis(10),
        );
        assert!(d.until_end, "{d:?}");
    }

    #[test]
    fn no_duplicates_no_dual_forwarding() {
        let t0 = Instant::now();
        let a = [at(t0, 0, 0), at(t0, 1, 1)];
        assert_eq!(
            dual_forwarding(&a, t0, t0 + Duration::from_secs(1), Duration::ZERO),
            DualForwarding::default()
        );
    }
}
