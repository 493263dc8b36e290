//! `cargo xtask demo`: a first look at vrrp-xdp on real traffic.
//!
//! Two network namespaces joined by a veth pair (an "HA segment"). keepalived (Debian's) runs
//! a VRRPv3 instance in one of them, advertising every 50 ms; vrrp-agent attaches its XDP
//! program to the other end and prints what the program counts. Everything it creates is
//! removed at the end, also on failure or Ctrl-C of a step.

use std::{
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    thread::sleep,
    time::Duration,
};

use anyhow::{Context, Result, bail};

use crate::{
    cmd::{self, step, workspace_root},
    ebpf::{self, BuildArgs},
    setup::is_root,
};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Seconds to watch the counters.
    #[arg(long, default_value_t = 3)]
    pub seconds: u32,
}

/// Namespaces and processes of the demo; removed on drop.
struct Topology {
    a: String,
    b: String,
    dir: PathBuf,
    keepalived: Option<Child>,
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some(mut k) = self.keepalived.take() {
            let _ = Command::new("kill").arg(k.id().to_string()).status();
            let _ = k.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn ip(args: &[&str]) -> Result<()> {
    cmd::output(Command::new("ip").args(args)).map(|_| ())
}

pub fn run(args: &DemoArgs) -> Result<()> {
    if !is_root() {
        bail!("the demo creates network namespaces and loads XDP: run it as root");
    }
    ebpf::run_build(&BuildArgs { release: false })?;
    let agent = workspace_root().join("target/debug/vrrp-agent");

    let t = step("topology: two namespaces joined by a veth pair (ha-a <-> ha-b)");
    let pid = std::process::id();
    let topo = Topology {
        a: format!("vxdemo-{pid}-a"),
        b: format!("vxdemo-{pid}-b"),
        dir: std::env::temp_dir().join(format!("vrrp-xdp-demo-{pid}")),
        keepalived: None,
    };
    let mut topo = topo;
    fs::create_dir_all(&topo.dir)?;
    ip(&["netns", "add", &topo.a])?;
    ip(&["netns", "add", &topo.b])?;
    ip(&[
        "link", "add", "ha-a", "netns", &topo.a, "type", "veth", "peer", "name", "ha-b", "netns",
        &topo.b,
    ])?;
    for (ns, dev, addr) in [
        (&topo.a, "ha-a", "169.254.192.2/18"),
        (&topo.b, "ha-b", "169.254.192.1/18"),
    ] {
        ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    cmd::done(&format!("namespaces {} and {}", topo.a, topo.b), t);

    let t = step("keepalived: VRRPv3 instance VR_1 (VRID 1) on ha-a, adverts every 50 ms");
    let conf = topo.dir.join("keepalived.conf");
    fs::write(
        &conf,
        "global_defs {\n  vrrp_garp_master_delay 1\n}\n\
         vrrp_instance VR_1 {\n  state BACKUP\n  interface ha-a\n  virtual_router_id 1\n  \
         priority 50\n  nopreempt\n  advert_int 0.05\n  version 3\n  \
         virtual_ipaddress {\n    169.254.0.1/24 dev ha-a\n  }\n}\n",
    )?;
    let keepalived = Command::new("ip")
        .args([
            "netns",
            "exec",
            &topo.a,
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-f",
        ])
        .arg(&conf)
        .arg("-p")
        .arg(topo.dir.join("keepalived.pid"))
        .arg("-r")
        .arg(topo.dir.join("vrrp.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start keepalived (run `cargo xtask setup`)")?;
    topo.keepalived = Some(keepalived);
    cmd::done(
        "keepalived started; it becomes MASTER after 3 x 50 ms + skew",
        t,
    );

    step(&format!(
        "vrrp-agent: XDP program on ha-b, counters every second for {}s",
        args.seconds
    ));
    eprintln!(
        "    $ vrrp-agent dataplane-stats -i ha-b --netns {} --vrid 1 --count {}\n",
        topo.b, args.seconds
    );
    sleep(Duration::from_millis(500));
    cmd::run(
        Command::new(&agent)
            .args([
                "dataplane-stats",
                "-i",
                "ha-b",
                "--netns",
                &topo.b,
                "--vrid",
                "1",
            ])
            .args(["--interval", "1", "--count"])
            .arg(args.seconds.to_string()),
    )?;
    eprintln!(
        "==> the adverts row is keepalived's VRRPv3 traffic for VRID 1 (about 20 per second), \
         counted in the kernel before any socket sees it.\n==> cleaning up"
    );
    drop(topo);
    Ok(())
}
