//! One network node run by vrrp-agent: a single process with an `[[instance]]` per router
//! namespace, its status read over its socket (pid, per-instance advert counters, states).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{
    interrupt,
    layout::{self, Node},
    procfs,
};
use vrrp_tests::{agent::Agent, tempdir::TempDir};

pub struct AgentNode {
    pub agent: Agent,
    pub pid: Option<i32>,
}

/// Sums over the instances of one status report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AgentCounters {
    pub adverts_rx: u64,
    pub adverts_tx: u64,
    /// became_master + released_master.
    pub transitions: u64,
    pub masters: usize,
    pub instances: usize,
}

impl AgentNode {
    pub fn start(
        node: Node,
        namespaces: &[String],
        dir: &TempDir,
        interval: f64,
        xdp: bool,
    ) -> Self {
        let toml = layout::agent_toml(node, namespaces, interval, xdp);
        Self {
            agent: Agent::run(&format!("node-{}", node.label()), dir, &toml),
            pid: None,
        }
    }

    /// Waits until the status socket answers with every instance (the agent has set them all
    /// up: it answers only once its startup is done).
    pub fn wait_ready(&mut self, instances: usize, timeout: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + timeout;
        loop {
            interrupt::check()?;
            if let Some(r) = self.agent.status()
                && r.instances.len() == instances
            {
                self.pid = Some(r.agent.pid as i32);
                return Ok(());
            }
            if Instant::now() > end {
                let logs = self.agent.logs();
                let tail: Vec<&str> = logs.lines().rev().take(20).collect();
                anyhow::bail!(
                    "{}: no status with {instances} instances within {timeout:?}; last log lines:\n{}",
                    self.agent.socket().display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn counters(&self) -> Option<AgentCounters> {
        let r = self.agent.status()?;
        let mut c = AgentCounters {
            instances: r.instances.len(),
            ..Default::default()
        };
        for i in &r.instances {
            c.adverts_rx += i.counters.adverts_rx;
            c.adverts_tx += i.counters.adverts_tx;
            c.transitions += i.counters.became_master + i.counters.released_master;
            c.masters += usize::from(i.state == "MASTER");
        }
        Some(c)
    }

    pub fn pids(&self) -> Vec<i32> {
        let Some(pid) = self.pid.filter(|p| procfs::alive(*p)) else {
            return vec![];
        };
        procfs::descendants(&procfs::all_processes(), &[pid])
            .into_iter()
            .collect()
    }

    /// SIGTERM (resign and release every instance), then waits for the exit; the time taken.
    pub fn stop(&mut self, timeout: Duration) -> Option<Duration> {
        let pid = self.pid?;
        let t0 = Instant::now();
        if !procfs::alive(pid) {
            return None;
        }
        self.agent.signal(Signal::SIGTERM);
        while procfs::alive(pid) {
            if t0.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(t0.elapsed())
    }
}
