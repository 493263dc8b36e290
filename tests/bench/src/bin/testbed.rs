//! `testbed up|down|status`: the Neutron-like test bed of `vrrp_tests::testbed`, for people
//! (`cargo xtask testbed ...`). `up` leaves the namespaces in place and writes an agent
//! configuration per router; `down` removes this and every earlier bed, except beds a running
//! test, demo or bench is using.

use std::process::ExitCode;

use vrrp_tests::{
    netns::NetNs,
    testbed::{HA_IF, Options, QG_IF, QR_IF, RouterConfig, Testbed},
    topo::addresses,
};

const USAGE: &str =
    "usage: testbed up [--tag NAME] [--routers 2|3]\n       testbed down\n       testbed status";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]),
        Some("down") => {
            let (n, kept) = Testbed::down_all();
            println!("removed {n} test bed namespace(s), leftover agents and pinned XDP state");
            if !kept.is_empty() {
                println!(
                    "left in place, in use by a running test, demo or bench: {}",
                    kept.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Some("status") => status(),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn up(args: &[String]) -> ExitCode {
    let mut tag = "demo".to_string();
    let mut routers = 2;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--tag", Some(v)) => tag = v.clone(),
            ("--routers", Some(v)) => match v.parse::<usize>() {
                Ok(n @ 2..=3) => routers = n,
                _ => {
                    eprintln!("--routers: expected 2 or 3, got `{v}`");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("testbed: needs root (network namespaces)");
        return ExitCode::FAILURE;
    }
    let bed = Testbed::up(Options {
        tag: tag.clone(),
        routers,
        persistent: true,
        flood: false,
        ..Options::default()
    });
    print!("{}", bed.describe());
    let dir = std::path::PathBuf::from(format!("/tmp/vxtb-{tag}"));
    let _ = std::fs::create_dir_all(&dir);
    println!("agent configurations:");
    for i in 0..routers {
        let path = dir.join(format!("r{}.toml", i + 1));
        let config = bed.agent_config(
            i,
            &RouterConfig {
                priority: 100 - 10 * i as u8,
                bpf_pin_dir: Some(format!("/sys/fs/bpf/vxtb-{tag}-r{}", i + 1).into()),
                ..RouterConfig::default()
            },
        );
        if let Err(e) = std::fs::write(&path, config) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!(
            "  sudo vrrp-agent run -c {} --status-socket /run/vrrp-agent/vxtb-{tag}-r{}.sock",
            path.display(),
            i + 1
        );
    }
    println!("remove it all with `cargo xtask testbed down`");
    ExitCode::SUCCESS
}

fn status() -> ExitCode {
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("vxtb-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if names.is_empty() {
        println!("no test bed is up");
        return ExitCode::SUCCESS;
    }
    for n in &names {
        let ns = NetNs::existing(n);
        // Router namespaces are `vxtb-<tag>-r<N>` (the tag itself may contain "-r").
        let role = n.rsplit('-').next().unwrap_or_default();
        let is_router = role.len() > 1
            && role.starts_with('r')
            && role[1..].chars().all(|c| c.is_ascii_digit());
        if is_router {
            let show = |ifname: &str| addresses(&ns, ifname).join(" ");
            println!(
                "{n}: {HA_IF} [{}]  {QR_IF} [{}]  {QG_IF} [{}]",
                show(HA_IF),
                show(QR_IF),
                show(QG_IF)
            );
        } else {
            println!("{n}");
        }
    }
    ExitCode::SUCCESS
}
