//! Support for the netlink tests: a namespace with a veth to a peer namespace, `ip -j` output
//! as JSON (the independent view of what the kernel holds), and waiting on netlink events with
//! a deadline. Imports `netns` and `vrrp_agent::netlink`.

use std::{future::Future, net::IpAddr, time::Duration};

use serde_json::Value;
use vrrp_agent::netlink::{NetlinkEvent, NetlinkEvents};

use crate::netns::{NetNs, veth};

/// How long an expected event may take.
pub const EVENT_WAIT: Duration = Duration::from_secs(10);

/// A namespace whose `vx0` is a veth to `vx1` in `peer`, both up (no addresses).
#[derive(Debug)]
pub struct Lan {
    pub ns: NetNs,
    pub peer: NetNs,
}

impl Lan {
    pub fn new() -> Self {
        let ns = NetNs::new();
        let peer = NetNs::new();
        veth(&ns, "vx0", &peer, "vx1");
        Self { ns, peer }
    }
}

impl Default for Lan {
    fn default() -> Self {
        Self::new()
    }
}

/// `ip -n <ns> -j args...`, parsed.
pub fn ip_json(ns: &NetNs, args: &[&str]) -> Value {
    let mut full = vec!["-j"];
    full.extend_from_slice(args);
    let text = ns.ip(&full);
    // `ip -j` prints nothing at all for some empty results.
    if text.trim().is_empty() {
        return Value::Array(Vec::new());
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("`ip -j {args:?}`: {e}: {text}"))
}

/// The `addr_info` entries of `dev`, as `ip -j addr show dev <dev>` reports them.
pub fn addr_info(ns: &NetNs, dev: &str) -> Vec<Value> {
    ip_json(ns, &["addr", "show", "dev", dev])[0]["addr_info"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The `addr_info` entry of `addr` on `dev`, if the kernel has it.
pub fn addr_entry(ns: &NetNs, dev: &str, addr: IpAddr) -> Option<Value> {
    addr_info(ns, dev)
        .into_iter()
        .find(|a| a["local"].as_str() == Some(addr.to_string().as_str()))
}

/// The entries of `ip -j <family> route show <selector...>`.
pub fn routes(ns: &NetNs, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["route", "show"];
    full.extend_from_slice(args);
    ip_json(ns, &full).as_array().cloned().unwrap_or_default()
}

/// The `ip -j link show dev` entry of `dev`, if it exists.
pub fn link(ns: &NetNs, dev: &str) -> Option<Value> {
    ip_json(ns, &["link", "show"])
        .as_array()?
        .iter()
        .find(|l| l["ifname"] == dev)
        .cloned()
}

/// The MAC address `ip` reports for `dev`, as bytes.
pub fn mac(ns: &NetNs, dev: &str) -> [u8; 6] {
    let link = link(ns, dev).unwrap_or_else(|| panic!("{dev} not in {}", ns.name()));
    let text = link["address"].as_str().expect("address");
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("hex"))
        .collect();
    bytes.try_into().expect("6 bytes")
}

/// Waits for the first event `pick` accepts; fails the test (listing what came instead) when
/// none does within [`EVENT_WAIT`].
pub async fn wait_event<T>(
    events: &mut NetlinkEvents,
    what: &str,
    mut pick: impl FnMut(&NetlinkEvent) -> Option<T>,
) -> T {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(EVENT_WAIT, async {
        while let Some(event) = events.recv().await {
            if let Some(found) = pick(&event) {
                return Some(found);
            }
            seen.push(event);
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => found,
        Ok(None) => panic!("event stream ended while waiting for {what}; saw {seen:#?}"),
        Err(_) => panic!("waited {EVENT_WAIT:?} in vain for {what}; saw {seen:#?}"),
    }
}

/// Fails the test if an event `bad` accepts arrives within `quiet`.
pub async fn assert_no_event(
    events: &mut NetlinkEvents,
    quiet: Duration,
    what: &str,
    mut bad: impl FnMut(&NetlinkEvent) -> bool,
) {
    let _ = tokio::time::timeout(quiet, async {
        while let Some(event) = events.recv().await {
            assert!(!bad(&event), "unexpected {what}: {event:?}");
        }
    })
    .await;
}

/// Reads events until none has come for `quiet` (fails the test if that takes longer than
/// [`EVENT_WAIT`]).
pub async fn drain(events: &mut NetlinkEvents, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while let Ok(Some(_)) = tokio::time::timeout(quiet, events.recv()).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events kept coming for {EVENT_WAIT:?}"
        );
    }
}

/// Polls `probe` until it gives `Some` (every 100 ms, up to `limit`).
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
