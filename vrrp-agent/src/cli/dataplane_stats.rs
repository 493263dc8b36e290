//! `vrrp-agent dataplane-stats`: the XDP program's counters, printed every interval. By
//! default those of a running agent, read from the maps it pinned (found through its status
//! socket, or named by its pin folder), never touching its program or its interfaces; with
//! `-i`, a program of this command's own, attached to interfaces no agent uses and detached
//! on exit.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
};
use vrrp_agent::{
    api::client,
    config::GlobalConfig,
    dataplane::{Attachment, Dataplane, LoadOptions, XdpModePreference, manager::maps_dir},
};
use vrrp_ebpf_common::dataplane::{
    FAMILY_IPV4, FAMILY_IPV6, InstanceKey, InstanceValue, MAX_SLOTS,
};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vrrp-agent dataplane-stats                              # the agent on /run/vrrp-agent/agent.sock
  vrrp-agent dataplane-stats --status-socket /run/vrrp-agent/k.sock --json --count 5
  vrrp-agent dataplane-stats --bpf-pin-dir /sys/fs/bpf/vrrp-xdp/agent
  vrrp-agent dataplane-stats -i ha-a --vrid 1             # a program of its own, until Ctrl-C
  vrrp-agent dataplane-stats -i ha-a --netns qrouter-1 --vrid 1 --vrid 2 --json --count 5

A running agent's counters are read from the maps it pinned: its program and interfaces are
left alone. The counters are those of the whole data plane of that agent (with the node agent,
of every router it runs). With -i, adverts pass only for configured instances: without --vrid,
every advert is dropped and counted as advert_unknown_instance.")]
pub struct Args {
    /// Attach a program of this command's own to this interface (repeat for several), which
    /// must have no XDP program yet, instead of reading a running agent's counters.
    #[arg(short, long = "interface", value_name = "IFACE")]
    interfaces: Vec<String>,
    /// Read the counters of the agent that serves this status socket [default: the default
    /// status socket, /run/vrrp-agent/agent.sock].
    #[arg(long, value_name = "PATH", conflicts_with_all = ["interfaces", "bpf_pin_dir"])]
    status_socket: Option<PathBuf>,
    /// Read the counters pinned in this folder: an agent's --bpf-pin-dir (or `bpf_pin_dir`,
    /// or the keepalived entry point's `pin_dir`).
    #[arg(long, value_name = "DIR", conflicts_with = "interfaces")]
    bpf_pin_dir: Option<PathBuf>,
    /// With -i: the network namespace (as in `ip netns`) holding the interfaces.
    #[arg(long, value_name = "NAME", requires = "interfaces")]
    netns: Option<String>,
    /// With -i: XDP mode: auto (native, falling back to generic with a warning), native,
    /// generic.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    xdp_mode: XdpModePreference,
    /// Seconds between snapshots.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    interval: f64,
    /// Exit after this many snapshots (default: run until Ctrl-C / SIGTERM).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// One JSON object per line instead of tables.
    #[arg(long)]
    json: bool,
    /// With -i: register a VRRP instance with this VRID (IPv4 and IPv6, no allow-list) on
    /// every interface, so that its adverts pass (repeat for several).
    #[arg(long = "vrid", value_name = "VRID", requires = "interfaces")]
    vrids: Vec<u8>,
}

/// Whose counters are printed.
enum Source<'a> {
    /// This command's own program on these interfaces.
    Attached(&'a [Attachment]),
    /// A running agent's, through the maps it pinned.
    Agent(&'a AgentMaps),
}

/// Where a running agent's maps are, and who it is.
struct AgentMaps {
    maps: PathBuf,
    /// The status socket it was found through, and its pid.
    agent: Option<(PathBuf, u32)>,
}

/// The router id of the program this command loads to read a running agent's maps: never
/// attached, so it never sees a frame (as the agent's own control program).
const READER_ROUTER: u32 = u32::MAX;

pub fn run(args: Args) -> Result<()> {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        anyhow::bail!("--interval must be a positive number of seconds");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(watch(args))
}

async fn watch(args: Args) -> Result<()> {
    if args.interfaces.is_empty() {
        return read_agent(&args).await;
    }
    let opts = LoadOptions {
        ebpf_log_level: super::debug_enabled().then_some(aya_log::Level::Debug),
        ..Default::default()
    };
    let mut dp = Dataplane::load(&opts)?;
    for iface in &args.interfaces {
        dp.attach(args.netns.as_deref(), iface, args.xdp_mode)
            .with_context(|| {
                format!(
                    "attaching to {iface} (to read the counters of an agent running there, \
                     leave out -i: see --status-socket and --bpf-pin-dir)"
                )
            })?;
    }
    register_instances(&mut dp, opts.router_id, &args.vrids)?;
    let result = print_until_stopped(&mut dp, &args, |dp| {
        print_snapshot(dp, &args, false, Source::Attached(dp.attachments()))
    })
    .await;
    let detached = dp.detach_all();
    let final_snapshot = print_snapshot(&dp, &args, true, Source::Attached(dp.attachments()));
    result?;
    detached?;
    final_snapshot
}

/// Prints a running agent's counters from its pinned maps until stopped.
async fn read_agent(args: &Args) -> Result<()> {
    let found = find_agent_maps(args)?;
    let mut dp = Dataplane::load(&LoadOptions {
        ebpf_log_level: None,
        router_id: READER_ROUTER,
        pin_dir: Some(found.maps.clone()),
    })
    .with_context(|| format!("opening the agent's maps at {}", found.maps.display()))?;
    let result = print_until_stopped(&mut dp, args, |dp| {
        print_snapshot(dp, args, false, Source::Agent(&found))
    })
    .await;
    let final_snapshot = print_snapshot(&dp, args, true, Source::Agent(&found));
    result?;
    final_snapshot
}

/// The maps of the agent named by `--bpf-pin-dir`, or of the one serving the status socket.
fn find_agent_maps(args: &Args) -> Result<AgentMaps> {
    if let Some(dir) = &args.bpf_pin_dir {
        let maps = maps_dir(dir);
        if !maps.is_dir() {
            bail!(
                "no XDP maps at {}: no agent runs (or ever ran) with the pin folder {}",
                maps.display(),
                dir.display()
            );
        }
        return Ok(AgentMaps { maps, agent: None });
    }
    let socket = args
        .status_socket
        .clone()
        .unwrap_or_else(|| GlobalConfig::default().status_socket);
    let report = client::query(&socket).map_err(|e| {
        anyhow::anyhow!(
            "no running agent found: {e}; name a running agent's status socket with \
             --status-socket or its pin folder with --bpf-pin-dir (or attach a program of \
             this command's own with -i)"
        )
    })?;
    let pid = report.agent.pid;
    let Some(pin_dir) = report.agent.pin_dir else {
        bail!(
            "the agent on {} (pid {pid}) runs without the XDP data plane ({})",
            socket.display(),
            report.agent.dataplane
        );
    };
    let maps = maps_dir(&as_seen_from_here(&pin_dir, pid));
    if !maps.is_dir() {
        bail!(
            "the agent on {} (pid {pid}) pins its maps at {}, which this process cannot see",
            socket.display(),
            maps.display()
        );
    }
    Ok(AgentMaps {
        maps,
        agent: Some((socket, pid)),
    })
}

/// `path` as process `pid` reported it, for this process: a path through the agent's own
/// descriptors (`/proc/self/fd/N/...`, see `dataplane::pin_root`) goes through
/// `/proc/<pid>/` instead.
fn as_seen_from_here(path: &Path, pid: u32) -> PathBuf {
    match path.strip_prefix("/proc/self") {
        Ok(rest) => Path::new("/proc").join(pid.to_string()).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// One instance per (attached interface, VRID, family), in slots 0, 1, 2, ...
fn register_instances(dp: &mut Dataplane, router: u32, vrids: &[u8]) -> Result<()> {
    let ifindexes: Vec<u32> = dp.attachments().iter().map(|a| a.ifindex).collect();
    let mut slot = 0u32;
    for ifindex in ifindexes {
        for &vrid in vrids {
            for family in [FAMILY_IPV4, FAMILY_IPV6] {
                if slot >= MAX_SLOTS {
                    anyhow::bail!("more than {MAX_SLOTS} instances requested");
                }
                let key = InstanceKey {
                    router,
                    ifindex,
                    vrid,
                    family,
                    _pad: [0; 2],
                };
                dp.upsert_instance(key, InstanceValue { slot, flags: 0 })
                    .with_context(|| format!("registering VRID {vrid}"))?;
                slot += 1;
            }
        }
    }
    Ok(())
}

/// Calls `snapshot` every interval until --count snapshots, SIGINT or SIGTERM, forwarding the
/// program's own logs meanwhile.
async fn print_until_stopped(
    dp: &mut Dataplane,
    args: &Args,
    snapshot: impl Fn(&Dataplane) -> Result<()>,
) -> Result<()> {
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut logger = match dp.take_logger() {
        // SAFETY: the logger owns its ring-buffer map fd for its whole life and always returns
        // that same fd; the AsyncFd takes ownership of the logger, so the fd outlives it.
        Some(l) => Some(
            unsafe { AsyncFd::register_with_interest(l, Interest::READABLE) }
                .map_err(|e| anyhow::anyhow!("watching the XDP log buffer: {e}"))?,
        ),
        None => None,
    };
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(args.interval));
    let mut printed = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                snapshot(dp)?;
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    return Ok(());
                }
            }
            _ = sigint.recv() => { tracing::info!("SIGINT: stopping"); return Ok(()) }
            _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping"); return Ok(()) }
            ready = async { logger.as_mut().expect("guarded").readable_mut().await }, if logger.is_some() => {
                let mut guard = ready.context("polling the XDP log buffer")?;
                guard.get_inner_mut().flush();
                guard.clear_ready();
            }
        }
    }
}

fn print_snapshot(dp: &Dataplane, args: &Args, last: bool, source: Source<'_>) -> Result<()> {
    let counters = dp.counters()?;
    if args.json {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let line = match source {
            Source::Attached(attachments) => {
                let interfaces: Vec<_> = attachments
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "interface": a.interface, "netns": a.netns, "ifindex": a.ifindex, "mode": a.mode,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "unix_ms": ts, "final": last, "interfaces": interfaces, "counters": counters,
                })
            }
            Source::Agent(found) => {
                let agent = found.agent.as_ref().map(
                    |(socket, pid)| serde_json::json!({ "status_socket": socket, "pid": pid }),
                );
                serde_json::json!({
                    "unix_ms": ts, "final": last, "agent": agent, "maps": found.maps,
                    "counters": counters,
                })
            }
        };
        println!("{line}");
    } else {
        let header = match (source, last) {
            (Source::Attached(_), true) => "final counters (detached)".to_string(),
            (Source::Attached(attachments), false) => {
                let names: Vec<String> = attachments
                    .iter()
                    .map(|a| format!("{} ({})", a.interface, a.mode))
                    .collect();
                format!("counters on {}", names.join(", "))
            }
            (Source::Agent(found), last) => {
                let whose = match &found.agent {
                    Some((socket, pid)) => {
                        format!("the agent on {} (pid {pid})", socket.display())
                    }
                    None => "the agent".to_string(),
                };
                format!(
                    "{}counters of {whose}, maps at {}",
                    if last { "final " } else { "" },
                    found.maps.display()
                )
            }
        };
        println!("== {header}\n{counters}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_through_the_agents_own_descriptors_are_read_through_its_proc_entry() {
        assert_eq!(
            as_seen_from_here(Path::new("/proc/self/fd/7/vrrp-xdp/k"), 42),
            Path::new("/proc/42/fd/7/vrrp-xdp/k")
        );
        assert_eq!(
            as_seen_from_here(Path::new("/sys/fs/bpf/vrrp-xdp/agent"), 42),
            Path::new("/sys/fs/bpf/vrrp-xdp/agent")
        );
    }
}
