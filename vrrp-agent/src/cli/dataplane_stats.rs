//! `vrrp-agent dataplane-stats`: attach, print counter snapshots, detach on exit.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
};
use vrrp_agent::dataplane::{Dataplane, LoadOptions, XdpModePreference};
use vrrp_ebpf_common::dataplane::{
    FAMILY_IPV4, FAMILY_IPV6, InstanceKey, InstanceValue, MAX_SLOTS,
};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vrrp-agent dataplane-stats -i ha-a --vrid 1             # table every second until Ctrl-C
  vrrp-agent dataplane-stats -i ha-a --netns qrouter-1 --vrid 1 --vrid 2 --json --count 5

Adverts pass only for configured instances: without --vrid, every advert is dropped and counted
as advert_unknown_instance.")]
pub struct Args {
    /// Interface to attach to (repeat for several).
    #[arg(short, long = "interface", value_name = "IFACE", required = true)]
    interfaces: Vec<String>,
    /// Network namespace (as in `ip netns`) holding the interfaces.
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
    /// XDP mode: auto (native, falling back to generic with a warning), native, generic.
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
    /// Register a VRRP instance with this VRID (IPv4 and IPv6, no allow-list) on every
    /// interface, so that its adverts pass (repeat for several).
    #[arg(long = "vrid", value_name = "VRID")]
    vrids: Vec<u8>,
}

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
    let opts = LoadOptions {
        ebpf_log_level: super::debug_enabled().then_some(aya_log::Level::Debug),
        ..Default::default()
    };
    let mut dp = Dataplane::load(&opts)?;
    for iface in &args.interfaces {
        dp.attach(args.netns.as_deref(), iface, args.xdp_mode)
            .with_context(|| format!("attaching to {iface}"))?;
    }
    register_instances(&mut dp, opts.router_id, &args.vrids)?;
    let result = print_until_stopped(&mut dp, &args).await;
    let detached = dp.detach_all();
    let final_snapshot = print_snapshot(&dp, &args, true);
    result?;
    detached?;
    final_snapshot
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

async fn print_until_stopped(dp: &mut Dataplane, args: &Args) -> Result<()> {
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
                print_snapshot(dp, args, false)?;
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    return Ok(());
                }
            }
            _ = sigint.recv() => { tracing::info!("SIGINT: detaching"); return Ok(()) }
            _ = sigterm.recv() => { tracing::info!("SIGTERM: detaching"); return Ok(()) }
            ready = async { logger.as_mut().expect("guarded").readable_mut().await }, if logger.is_some() => {
                let mut guard = ready.context("polling the XDP log buffer")?;
                guard.get_inner_mut().flush();
                guard.clear_ready();
            }
        }
    }
}

fn print_snapshot(dp: &Dataplane, args: &Args, last: bool) -> Result<()> {
    let counters = dp.counters()?;
    if args.json {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let interfaces: Vec<_> = dp
            .attachments()
            .iter()
            .map(|a| {
                serde_json::json!({
                    "interface": a.interface, "netns": a.netns, "ifindex": a.ifindex, "mode": a.mode,
                })
            })
            .collect();
        let line = serde_json::json!({
            "unix_ms": ts, "final": last, "interfaces": interfaces, "counters": counters,
        });
        println!("{line}");
    } else {
        let names: Vec<String> = dp
            .attachments()
            .iter()
            .map(|a| format!("{} ({})", a.interface, a.mode))
            .collect();
        let header = if last {
            "final counters (detached)".to_string()
        } else {
            format!("counters on {}", names.join(", "))
        };
        println!("== {header}\n{counters}");
    }
    Ok(())
}
