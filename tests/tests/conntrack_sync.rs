//! `conntrack_sync` on the shared test bed (two routers, Neutron's rules with its default
//! `--random-fully` SNAT, our agent with its XDP data plane): a long-lived TCP connection from
//! the client's address without a floating IP (10.0.10.6) to the server leaves through the
//! router's default SNAT (203.0.113.10, a random port the other router cannot guess). Each
//! test fails over `kill -9` of the master's agent and SIGTERM of it, alternately, and starts
//! the stopped agent again (it comes back as backup).
//!
//! - Without `conntrack_sync` (the control): the new master has no conntrack entry for the
//!   connection, and every failover ends it (0 of N survive).
//! - With it: every connection survives (N of N); each router's conntrackd's memory is
//!   reported.
//! - The order: a `conntrackd` wrapper first on the agents' PATH records each command; the
//!   commit (`-c`) starts and ends (and half a second later still) without the router's
//!   external address on the new master, then come `-f`, `-R`, `-B`; a backup runs `-t`,
//!   `-n`. A commit that never answers holds the takeover only for the bound, with a warning.
//! - conntrackd is started again when it dies, private to its namespace (lock file, socket),
//!   stopped and started by reloads switching `conntrack_sync` off and on, stopped with the
//!   agent on SIGTERM and gone with it on `kill -9`.
//!
//! Needs root, conntrackd and the XDP object (`cargo xtask test`).

use nix::sys::signal::Signal;
use vrrp_tests::{
    conntrack_bed::{Failover, Pair, Round, VR, WAIT, Wrapper, memory_kib, runs},
    require_root,
    testbed::{QG_IF, ROUTER_EXTERNAL},
    topo::{addresses, wait_for},
};

/// Failovers per kind.
const N: usize = 3;

/// `N` failovers of each kind, alternating, each on a connection of its own.
fn rounds(pair: &mut Pair) -> Vec<Round> {
    let mut out = Vec::new();
    for k in 0..2 * N {
        let how = if k % 2 == 0 {
            Failover::Kill
        } else {
            Failover::Term
        };
        let round = pair.round(7600 + k as u16, how);
        eprintln!(
            "{how:?} r{} -> r{}: {} ({} echoes before, {:?})",
            round.from + 1,
            round.to + 1,
            if round.survived() {
                "survived"
            } else {
                "broke"
            },
            round.echoed_before,
            round.report
        );
        out.push(round);
    }
    out
}

fn survived(rounds: &[Round], how: Failover) -> usize {
    rounds
        .iter()
        .filter(|r| r.how == how && r.survived())
        .count()
}

#[test]
fn without_conntrack_sync_a_snat_connection_dies_at_every_failover() {
    require_root();
    let mut pair = Pair::up(false, &[]);
    let rounds = rounds(&mut pair);
    let (kill, term) = (
        survived(&rounds, Failover::Kill),
        survived(&rounds, Failover::Term),
    );
    eprintln!("without conntrack_sync: kill -9 {kill}/{N} survived, SIGTERM {term}/{N} survived");
    assert_eq!(
        (kill, term),
        (0, 0),
        "without conntrack_sync a connection through the default SNAT survived a failover: \
         the test could not tell what conntrack_sync does\n{rounds:#?}"
    );
    assert!(
        pair.conntrackd(0).is_empty() && pair.conntrackd(1).is_empty(),
        "no conntrackd without conntrack_sync"
    );
}

#[test]
fn with_conntrack_sync_a_snat_connection_survives_every_failover() {
    require_root();
    let mut pair = Pair::up(true, &[]);
    let rounds = rounds(&mut pair);
    let (kill, term) = (
        survived(&rounds, Failover::Kill),
        survived(&rounds, Failover::Term),
    );
    eprintln!("with conntrack_sync: kill -9 {kill}/{N} survived, SIGTERM {term}/{N} survived");
    // Memory with both conntrackd running and in sync (one connection held by each).
    let backup = 1 - pair.master();
    let stream = pair.connection(7690, backup);
    for i in 0..2 {
        for d in pair.conntrackd(i) {
            let pid = d.pid.expect("conntrackd runs");
            let (rss, pss, private) = memory_kib(pid);
            eprintln!(
                "r{}: conntrackd pid {pid} in {}: RSS {rss} KiB, PSS {pss} KiB, private \
                 {private} KiB",
                i + 1,
                d.netns.unwrap_or_default()
            );
        }
    }
    drop(stream.stop());
    assert_eq!(
        (kill, term),
        (N, N),
        "with conntrack_sync every connection through the default SNAT survives\n{rounds:#?}"
    );
}

/// The calls of router `ns` since the `from`-th.
fn calls_of(w: &Wrapper, ns: &str, from: usize) -> Vec<String> {
    w.calls()
        .into_iter()
        .skip(from)
        .filter(|(n, _)| n == ns)
        .map(|(_, c)| c)
        .collect()
}

#[test]
fn the_takeover_commits_before_it_takes_the_addresses_then_flushes_resyncs_and_bulk_sends() {
    require_root();
    let dir = vrrp_tests::tempdir::TempDir::new("ctw");
    let wrapper = Wrapper::new(&dir, "0.5", false);
    let path = wrapper.path_env();
    let mut pair = Pair::up(true, &[("PATH", &path)]);
    let (r1, r2) = (
        pair.bed.routers[0].name().to_string(),
        pair.bed.routers[1].name().to_string(),
    );
    // The initial election: r1 backup at startup, then master (its commit held the takeover
    // too); r2 backup.
    let first = ["-t", "-n", "-c before=0 after=0 rc=0", "-f", "-R", "-B"];
    let startup = std::panic::catch_unwind(|| {
        wait_for(WAIT, "the startup steps", || {
            (calls_of(&wrapper, &r1, 0) == first && calls_of(&wrapper, &r2, 0) == ["-t", "-n"])
                .then_some(())
        });
    });
    assert!(startup.is_ok(), "{:?}", wrapper.calls());
    let seen = wrapper.calls().len();
    let round = pair.round(7700, Failover::Kill);
    assert!(round.survived(), "{round:?}");
    // Everything the commit answers comes before r2's agent reports MASTER: the calls are
    // in the log once `round` has waited for it; the rest follows the commit.
    wait_for(WAIT, "r2's master steps", || {
        (calls_of(&wrapper, &r2, seen).len() >= 4).then_some(())
    });
    let calls = calls_of(&wrapper, &r2, seen);
    assert_eq!(
        calls,
        ["-c before=0 after=0 rc=0", "-f", "-R", "-B"],
        "r2 commits (the router's address {ROUTER_EXTERNAL} not yet on {QG_IF}, also half a \
         second after the commit answered), then flushes, resyncs from the kernel and \
         bulk-sends"
    );
    assert!(
        addresses(&pair.bed.routers[1], QG_IF)
            .iter()
            .any(|a| a.starts_with(&format!("{ROUTER_EXTERNAL}/"))),
        "r2 took the address after the commit"
    );
    let logs = pair.agent(1).logs();
    assert!(
        logs.contains("connections committed into the kernel; taking over"),
        "{logs}"
    );
    // r1's agent, started again, is backup: shorten the timers, ask for a resync.
    let steps = std::panic::catch_unwind(|| {
        wait_for(WAIT, "r1's backup steps", || {
            (calls_of(&wrapper, &r1, seen) == ["-t", "-n"]).then_some(())
        });
    });
    assert!(steps.is_ok(), "r1: {:?}", calls_of(&wrapper, &r1, seen));
}

#[test]
fn a_commit_that_never_answers_holds_the_takeover_only_for_the_bound() {
    require_root();
    let dir = vrrp_tests::tempdir::TempDir::new("ctw");
    let wrapper = Wrapper::new(&dir, "0", true);
    let path = wrapper.path_env();
    let mut pair = Pair::up(true, &[("PATH", &path)]);
    let r2 = pair.bed.routers[1].name().to_string();
    pair.agents[0].as_ref().expect("r1").signal(Signal::SIGKILL);
    pair.agents[0].as_mut().expect("r1").wait_exit(WAIT);
    pair.agent(1).wait_state(VR, "MASTER", WAIT);
    wait_for(WAIT, "r2 to take the address without the commit", || {
        addresses(&pair.bed.routers[1], QG_IF)
            .iter()
            .any(|a| a.starts_with(&format!("{ROUTER_EXTERNAL}/")))
            .then_some(())
    });
    let logs = pair.agent(1).logs();
    assert!(
        logs.contains("conntrackd did not answer the commit in time; taking over without it"),
        "{logs}"
    );
    assert!(
        calls_of(&wrapper, &r2, 0).contains(&"-c started".to_string()),
        "the commit was asked for: {:?}",
        wrapper.calls()
    );
}

#[test]
fn conntrackd_is_private_to_its_router_restarted_when_it_dies_follows_reloads_and_ends_with_the_agent()
 {
    require_root();
    let mut pair = Pair::up(true, &[]);
    // One each, in each router's namespace, with files of its own.
    let (c1, c2) = (pair.conntrackd_conf(0), pair.conntrackd_conf(1));
    assert_ne!(c1.parent(), c2.parent());
    for (i, conf) in [&c1, &c2].into_iter().enumerate() {
        let text = std::fs::read_to_string(conf).expect("conntrackd.conf");
        let dir = conf.parent().expect("folder").display().to_string();
        for want in [
            format!("LockFile {dir}/conntrackd.lock"),
            format!("Path {dir}/conntrackd.ctl"),
            "Mode FTFW".to_string(),
            format!("IPv4_interface 169.254.192.{}", i + 1),
            "Interface ha-0a1b2c3d-4e".to_string(),
        ] {
            assert!(text.contains(&want), "r{}: {want} missing:\n{text}", i + 1);
        }
        let d = pair.conntrackd(i);
        assert_eq!(d.len(), 1, "{d:?}");
        let pid = d[0].pid.expect("runs");
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("its namespace");
        let router = std::fs::metadata(format!("/run/netns/{}", pair.bed.routers[i].name()))
            .expect("router namespace");
        assert_eq!(
            ns.to_string_lossy(),
            format!("net:[{}]", std::os::unix::fs::MetadataExt::ino(&router)),
            "r{}'s conntrackd runs in its router's namespace",
            i + 1
        );
    }

    // Killed: started again.
    let old = pair.conntrackd(1)[0].pid.expect("runs");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old), Signal::SIGKILL).expect("kill");
    let again = wait_for(WAIT, "conntrackd started again", || {
        pair.conntrackd(1)
            .into_iter()
            .next()
            .filter(|d| d.starts == 2 && d.pid.is_some_and(|p| p != old))
    });
    assert!(pair.agent(1).logs().contains("conntrackd exited"));
    // It works again: the backup's cache fills from the master.
    let stream = pair.connection(7800, 1);
    drop(stream.stop());
    eprintln!("restarted: {again:?}");

    // A reload switching it off stops it; on again, a new one runs.
    let on = std::fs::read_to_string(pair.agent(1).config()).expect("config");
    let off = on.replace("conntrack_sync = true", "conntrack_sync = false");
    assert_ne!(on, off);
    std::fs::write(pair.agent(1).config(), off).expect("config");
    pair.agent(1).signal(Signal::SIGHUP);
    wait_for(WAIT, "r2's conntrackd to stop on reload", || {
        (pair.conntrackd(1).is_empty() && !runs(&c2)).then_some(())
    });
    std::fs::write(pair.agent(1).config(), on).expect("config");
    pair.agent(1).signal(Signal::SIGHUP);
    wait_for(WAIT, "r2's conntrackd to start again on reload", || {
        pair.conntrackd(1)
            .into_iter()
            .next()
            .filter(|d| d.starts == 1 && d.pid.is_some())
    });
    assert_eq!(
        pair.agent(1).instance(VR).map(|i| i.state),
        Some("BACKUP".to_string()),
        "the reload changed nothing else"
    );

    // SIGTERM: stopped with the agent.
    let a = pair.agents[1].as_mut().expect("r2");
    a.signal(Signal::SIGTERM);
    a.wait_exit(WAIT);
    assert!(!runs(&c2), "r2's conntrackd stopped with its agent");
    // kill -9: gone with it (its parent-death signal).
    let a = pair.agents[0].as_mut().expect("r1");
    a.signal(Signal::SIGKILL);
    a.wait_exit(WAIT);
    wait_for(WAIT, "r1's conntrackd to be gone with its agent", || {
        (!runs(&c1)).then_some(())
    });
}
