//! The kernel side of `use_vmac`: the instance's macvlan (the RFC 9568 virtual MAC, created
//! down), created or adopted, with the settings keepalived 2.2.7 gives it (vrrp_if_config.c,
//! vrrp_vmac.c), and deleted with the base interface's settings restored.
//!
//! Its mode is VEPA, not keepalived's private. A private macvlan takes a multicast frame
//! whose source is its own MAC for itself alone (`macvlan_handle_frame`): the adverts of
//! another router that is master with the same virtual MAC (a split brain, a preempting
//! router) never reach the interface below. keepalived receives on the macvlan, whose VRRP
//! group membership it keeps there (and moves the IGMP / MLD reports that would leave from the
//! virtual MAC to the base interface with nftables). The agent receives on the instance's
//! interface, where its XDP program checks adverts anyway; in VEPA mode such a frame reaches
//! the interface too, and the macvlan joins no group, so it never reports one (not even the
//! leave a killed master's socket would send). A private macvlan of keepalived's is switched
//! to VEPA when adopted.
//!
//! - On the macvlan of an IPv4 instance: `arp_ignore=1` (it answers ARP only for its own
//!   addresses, so a backup's macvlan never answers for the base interface's), `accept_local=1`,
//!   `rp_filter=0`, `promote_secondaries=1`, and IPv6 off (`disable_ipv6=1`).
//! - On the base interface of an IPv4 instance: `arp_ignore=1` and `arp_filter=1` (it no
//!   longer answers ARP for the virtual addresses with its own MAC), and beyond keepalived
//!   `arp_announce=2`: the ARP requests it sends name its own address, never a virtual
//!   address its traffic comes from (a reply from a virtual address in the interface's own
//!   subnet may leave through it; with `arp_announce=0` its ARP request would teach the
//!   LAN the interface's MAC for the virtual address). All put back as they were when the
//!   last macvlan of ours on it goes.
//! - On the macvlan of an IPv6 instance: no automatic link-local address
//!   (`addr_gen_mode=1`): the RFC 9568 virtual MAC is the same on every router, so would be
//!   the EUI-64 address.
//!
//! The macvlan carries an alias (`vrrp-agent use_vmac; base arp_ignore=I arp_filter=F
//! arp_announce=A`):
//! a restarted agent recognises its own macvlan (also one a killed run left, under another
//! name) and what the base's settings were before the first macvlan changed them. A macvlan
//! of the right name, device and MAC that lacks the alias (keepalived's) is adopted; anything
//! else in the way is an error, never deleted.
//!
//! Imports `crate::{config, netlink, netns}`.

use std::path::PathBuf;

use crate::{
    config::InstanceSpec,
    netlink::{LinkInfo, MACVLAN_MODE_VEPA, Netlink, NetlinkError},
    netns,
};

/// How the agent's macvlans describe themselves (`IFLA_IFALIAS`).
const ALIAS_PREFIX: &str = "vrrp-agent use_vmac";

/// The base interface's ARP settings before the agent changed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseArp {
    pub arp_ignore: u8,
    pub arp_filter: u8,
    pub arp_announce: u8,
}

/// The base settings, by name, in the order of [`BaseArp::values`].
const BASE_KEYS: [&str; 3] = ["arp_ignore", "arp_filter", "arp_announce"];

impl BaseArp {
    fn values(self) -> [u8; 3] {
        [self.arp_ignore, self.arp_filter, self.arp_announce]
    }

    fn from_values(v: &[Option<u8>]) -> Option<Self> {
        match v {
            [Some(arp_ignore), Some(arp_filter), Some(arp_announce)] => Some(Self {
                arp_ignore: *arp_ignore,
                arp_filter: *arp_filter,
                arp_announce: *arp_announce,
            }),
            _ => None,
        }
    }
}

/// A macvlan of the agent, as set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacLink {
    pub netns: Option<String>,
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
    /// The base interface (the instance's), by index and name.
    pub base: u32,
    pub base_name: String,
    /// Whether the instance is IPv4 (the base's ARP settings are then ours to restore).
    pub ipv4: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VmacError {
    #[error("use_vmac {name}: {why}")]
    Conflict { name: String, why: String },
    #[error("use_vmac {name}: {error}")]
    Netlink {
        name: String,
        error: Box<NetlinkError>,
    },
    #[error("use_vmac {name}: setting {path}: {error}")]
    Sysctl {
        name: String,
        path: String,
        error: String,
    },
}

/// The alias recording `arp`.
fn alias(arp: Option<BaseArp>) -> String {
    match arp {
        Some(a) => {
            let settings: Vec<String> = BASE_KEYS
                .iter()
                .zip(a.values())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{ALIAS_PREFIX}; base {}", settings.join(" "))
        }
        None => ALIAS_PREFIX.to_string(),
    }
}

/// Whether `alias` is one of ours, and the base's settings it records.
fn parse_alias(alias: Option<&str>) -> Option<Option<BaseArp>> {
    let rest = alias?.strip_prefix(ALIAS_PREFIX)?;
    let value = |key: &str| -> Option<u8> {
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    let values: Vec<Option<u8>> = BASE_KEYS.iter().map(|k| value(k)).collect();
    Some(BaseArp::from_values(&values))
}

/// Whether `link` is a macvlan on `base` with `mac` (name and mode aside).
fn fits(link: &LinkInfo, base: u32, mac: [u8; 6]) -> bool {
    link.macvlan_mode.is_some() && link.link == Some(base) && link.mac == Some(mac)
}

/// Creates the macvlan of `spec` (which has `use_vmac`) on its interface `base`, or adopts
/// the one there; sets it up as keepalived does and leaves its link state alone (a new one is
/// down). A macvlan of ours under another name with the same MAC on `base` (a killed run's,
/// configured differently) is deleted first: the kernel lets only one of them be up.
pub async fn ensure(
    netlink: &Netlink,
    spec: &InstanceSpec,
    base: &LinkInfo,
) -> Result<VmacLink, VmacError> {
    let (Some(vmac), Some(mac)) = (&spec.vmac, spec.vmac_mac()) else {
        return Err(VmacError::Conflict {
            name: spec.interface.clone(),
            why: "the instance has no use_vmac".into(),
        });
    };
    let name = vmac.name.clone();
    let nl_err = |error| VmacError::Netlink {
        name: name.clone(),
        error: Box::new(error),
    };
    let conflict = |why: String| VmacError::Conflict {
        name: name.clone(),
        why,
    };
    let links = netlink.links().await.map_err(nl_err)?;
    // Ours on this base: the settings they recorded; and a stale one in the way.
    let mut recorded = None;
    for l in &links {
        let Some(arp) = parse_alias(l.alias.as_deref()) else {
            continue;
        };
        if l.link == Some(base.index) && l.macvlan_mode.is_some() {
            recorded = recorded.or(arp);
            if l.name != name && l.mac == Some(mac) {
                tracing::warn!(
                    netns = spec.netns.as_deref().unwrap_or("-"),
                    stale = l.name,
                    vmac = name,
                    "deleting a macvlan an earlier run left with this instance's MAC"
                );
                netlink.del_link(l.index).await.map_err(nl_err)?;
            }
        }
    }
    if let Some(other) = links
        .iter()
        .find(|l| l.name != name && l.link == Some(base.index) && l.mac == Some(mac))
        .filter(|l| parse_alias(l.alias.as_deref()).is_none())
    {
        return Err(conflict(format!(
            "{} on {} already has the virtual MAC {}",
            other.name,
            base.name,
            mac_text(mac)
        )));
    }
    let arp = match recorded {
        Some(a) => Some(a),
        None if !spec.vrrp.is_ipv6() => read_base_arp(spec, base)?,
        None => None,
    };
    let existing = links.iter().find(|l| l.name == name);
    match existing {
        Some(l) if fits(l, base.index, mac) => {
            tracing::info!(
                vmac = name,
                index = l.index,
                "adopting the macvlan already there"
            );
            if l.macvlan_mode != Some(MACVLAN_MODE_VEPA) {
                netlink
                    .set_macvlan_vepa(l.index, &name)
                    .await
                    .map_err(nl_err)?;
            }
        }
        Some(l) if l.macvlan_mode.is_some() && parse_alias(l.alias.as_deref()).is_some() => {
            tracing::info!(
                vmac = name,
                "replacing the macvlan of an earlier run (other device or MAC)"
            );
            netlink.del_link(l.index).await.map_err(nl_err)?;
            netlink
                .add_macvlan(&name, base.index, mac)
                .await
                .map_err(nl_err)?;
        }
        Some(l) if l.macvlan_mode.is_some() => {
            return Err(conflict(format!(
                "a macvlan of that name exists (on index {}, MAC {}) that the agent did not \
                 create; delete it or choose another name",
                l.link.unwrap_or(0),
                l.mac.map(mac_text).unwrap_or_default()
            )));
        }
        Some(_) => {
            return Err(conflict(
                "an interface of that name exists and is not a macvlan".into(),
            ));
        }
        None => netlink
            .add_macvlan(&name, base.index, mac)
            .await
            .map_err(nl_err)?,
    }
    let link = netlink
        .link_by_name(&name)
        .await
        .map_err(nl_err)?
        .ok_or_else(|| conflict("vanished right after it was created".into()))?;
    // The kernel takes no alias with a new link: set it now (an adopted one has it).
    if parse_alias(link.alias.as_deref()).is_none() {
        netlink
            .set_link_alias(link.index, &alias(arp))
            .await
            .map_err(nl_err)?;
    }
    let vmac = VmacLink {
        netns: spec.netns.clone(),
        name,
        index: link.index,
        mac,
        base: base.index,
        base_name: base.name.clone(),
        ipv4: !spec.vrrp.is_ipv6(),
    };
    apply_settings(&vmac)?;
    Ok(vmac)
}

/// Deletes the macvlan; when no other macvlan of ours is left on its base, puts the base's
/// ARP settings back as the alias recorded them.
pub async fn remove(netlink: &Netlink, vmac: &VmacLink) -> Result<(), VmacError> {
    let nl_err = |error| VmacError::Netlink {
        name: vmac.name.clone(),
        error: Box::new(error),
    };
    let links = netlink.links().await.map_err(nl_err)?;
    let recorded = links
        .iter()
        .find(|l| l.index == vmac.index)
        .and_then(|l| parse_alias(l.alias.as_deref()))
        .flatten();
    netlink.del_link(vmac.index).await.map_err(nl_err)?;
    let others = links.iter().any(|l| {
        l.index != vmac.index
            && l.link == Some(vmac.base)
            && l.macvlan_mode.is_some()
            && parse_alias(l.alias.as_deref()).is_some()
    });
    if let (false, true, Some(arp)) = (others, vmac.ipv4, recorded) {
        let settings: Vec<(PathBuf, u8)> = BASE_KEYS
            .iter()
            .zip(arp.values())
            .map(|(k, v)| (conf4(&vmac.base_name, k), v))
            .collect();
        write_sysctls(vmac, &settings)?;
    }
    Ok(())
}

fn conf4(ifname: &str, key: &str) -> PathBuf {
    PathBuf::from("/proc/sys/net/ipv4/conf")
        .join(ifname)
        .join(key)
}

fn conf6(ifname: &str, key: &str) -> PathBuf {
    PathBuf::from("/proc/sys/net/ipv6/conf")
        .join(ifname)
        .join(key)
}

/// keepalived's settings for the macvlan (and for an IPv4 instance, its base).
fn apply_settings(vmac: &VmacLink) -> Result<(), VmacError> {
    let settings: Vec<(PathBuf, u8)> = if vmac.ipv4 {
        vec![
            (conf4(&vmac.name, "arp_ignore"), 1),
            (conf4(&vmac.name, "accept_local"), 1),
            (conf4(&vmac.name, "rp_filter"), 0),
            (conf4(&vmac.name, "promote_secondaries"), 1),
            (conf6(&vmac.name, "disable_ipv6"), 1),
            (conf4(&vmac.base_name, "arp_ignore"), 1),
            (conf4(&vmac.base_name, "arp_filter"), 1),
            (conf4(&vmac.base_name, "arp_announce"), 2),
        ]
    } else {
        vec![(conf6(&vmac.name, "addr_gen_mode"), 1)]
    };
    write_sysctls(vmac, &settings)
}

/// The base's ARP settings now (before a first macvlan changes them).
fn read_base_arp(spec: &InstanceSpec, base: &LinkInfo) -> Result<Option<BaseArp>, VmacError> {
    let paths: Vec<PathBuf> = BASE_KEYS.iter().map(|k| conf4(&base.name, k)).collect();
    let name = spec
        .vmac
        .as_ref()
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let read = netns::run_in(spec.netns.as_deref(), move || {
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u8>().ok())
            .collect::<Vec<_>>()
    })
    .map_err(|e| VmacError::Sysctl {
        name,
        path: base.name.clone(),
        error: e.to_string(),
    })?;
    Ok(BaseArp::from_values(&read))
}

/// Writes `settings` (procfs path, value) inside the macvlan's namespace.
fn write_sysctls(vmac: &VmacLink, settings: &[(PathBuf, u8)]) -> Result<(), VmacError> {
    let owned: Vec<(PathBuf, u8)> = settings.to_vec();
    let result = netns::run_in(vmac.netns.as_deref(), move || {
        for (path, value) in &owned {
            // A kernel without IPv6 has no IPv6 settings to make.
            if path.starts_with("/proc/sys/net/ipv6")
                && !std::path::Path::new("/proc/sys/net/ipv6").exists()
            {
                continue;
            }
            if let Err(e) = std::fs::write(path, format!("{value}\n")) {
                return Err((path.display().to_string(), e.to_string()));
            }
        }
        Ok(())
    })
    .map_err(|e| VmacError::Sysctl {
        name: vmac.name.clone(),
        path: "(namespace)".into(),
        error: e.to_string(),
    })?;
    result.map_err(|(path, error)| VmacError::Sysctl {
        name: vmac.name.clone(),
        path,
        error,
    })
}

/// `00:00:5e:00:01:07`.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_records_the_base_settings_and_marks_the_macvlan_as_ours() {
        let arp = BaseArp {
            arp_ignore: 2,
            arp_filter: 0,
            arp_announce: 1,
        };
        assert_eq!(
            alias(Some(arp)),
            "vrrp-agent use_vmac; base arp_ignore=2 arp_filter=0 arp_announce=1"
        );
        assert_eq!(parse_alias(Some(&alias(Some(arp)))), Some(Some(arp)));
        assert_eq!(parse_alias(Some(&alias(None))), Some(None));
        assert_eq!(parse_alias(Some("keepalived's")), None);
        assert_eq!(parse_alias(None), None);
        assert_eq!(mac_text([0, 0, 0x5e, 0, 1, 0x0a]), "00:00:5e:00:01:0a");
    }
}
