//! `use_vmac`: the name of each instance's macvlan, and the settings `use_vmac` implies.
//! keepalived 2.2.7's default name (vrrp.c `create_vmac_name`) is `vrrp.VRID`; when another
//! instance of the same network namespace holds that name already (the IPv4 instance of the
//! same VRID, or the same VRID on another interface), an IPv6 instance tries `vrrp6.VRID`
//! next, then `vrrp1.VRID`, `vrrp2.VRID`, ... (an IPv4 one `vrrp1.VRID`, ...). Names given
//! in the configuration are taken first and must differ within a namespace and from every
//! instance's interface. With unicast peers adverts stay on the instance's interface
//! (`vmac_xmit_base`), which keepalived sets itself, with a warning; so do we.
//!
//! Imports `super::{diag, draft, types}`.

use std::collections::{HashMap, HashSet};

use super::{
    diag::Diag,
    draft::DraftInstance,
    types::{ConfigError, VmacSpec},
};

/// keepalived's prefix of macvlan names.
const PREFIX: &str = "vrrp";

/// Fills `spec.vmac` of every instance that asked for `use_vmac`.
pub(crate) fn resolve(diag: &mut Diag, instances: &mut [DraftInstance]) -> Result<(), ConfigError> {
    // Per namespace: names taken (the instances' interfaces, then configured names).
    let mut taken: HashMap<Option<String>, HashSet<String>> = HashMap::new();
    for inst in instances.iter() {
        taken
            .entry(inst.spec.netns.clone())
            .or_default()
            .insert(inst.spec.interface.clone());
    }
    let mut given: HashMap<(Option<String>, String), (String, usize)> = HashMap::new();
    for inst in instances.iter() {
        let Some(v) = &inst.vmac else { continue };
        let Some(name) = &v.name else { continue };
        let line = if v.line == 0 { inst.line } else { v.line };
        let me = &inst.spec.vrrp.name;
        let key = (inst.spec.netns.clone(), name.clone());
        if let Some((other, other_line)) = given.get(&key) {
            return Err(diag.error(
                line,
                format!(
                    "instance `{me}`: use_vmac {name}: instance `{other}` (line {other_line}) \
                     already uses that name"
                ),
            ));
        }
        if taken
            .get(&inst.spec.netns)
            .is_some_and(|t| t.contains(name))
        {
            return Err(diag.error(
                line,
                format!(
                    "instance `{me}`: use_vmac {name}: that is the interface of an instance; \
                     the macvlan needs a name of its own"
                ),
            ));
        }
        given.insert(key, (me.clone(), line));
    }
    for (netns, name) in given.keys() {
        taken.entry(netns.clone()).or_default().insert(name.clone());
    }
    for inst in instances.iter_mut() {
        let Some(v) = inst.vmac.take() else { continue };
        let line = if v.line == 0 { inst.line } else { v.line };
        let taken = taken.entry(inst.spec.netns.clone()).or_default();
        let name = match v.name {
            Some(name) => name,
            None => {
                let name = default_name(inst.spec.vrrp.vrid, inst.spec.vrrp.is_ipv6(), taken);
                taken.insert(name.clone());
                name
            }
        };
        let mut xmit_base = v.xmit_base;
        if !inst.spec.unicast_peers.is_empty() && !xmit_base {
            diag.warn(
                line,
                format!(
                    "instance `{}`: use_vmac with unicast peers sends and receives adverts on \
                     {} (vmac_xmit_base), as keepalived does",
                    inst.spec.vrrp.name, inst.spec.interface
                ),
            );
            xmit_base = true;
        }
        inst.spec.vmac = Some(VmacSpec { name, xmit_base });
    }
    Ok(())
}

/// The first of keepalived's names for `vrid` that is not `taken`.
fn default_name(vrid: u8, ipv6: bool, taken: &HashSet<String>) -> String {
    let first = format!("{PREFIX}.{vrid}");
    if !taken.contains(&first) {
        return first;
    }
    // IPv6 tries 6 first, then 1, 2, ... (skipping 6); IPv4 1, 2, ...
    let numbers = ipv6
        .then_some(6)
        .into_iter()
        .chain((1u32..).filter(move |n| !ipv6 || *n != 6));
    numbers
        .map(|n| format!("{PREFIX}{n}.{vrid}"))
        .find(|name| !taken.contains(name))
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn default_names_are_keepalived_s() {
        assert_eq!(default_name(1, false, &set(&[])), "vrrp.1");
        assert_eq!(default_name(1, true, &set(&[])), "vrrp.1");
        assert_eq!(default_name(1, true, &set(&["vrrp.1"])), "vrrp6.1");
        assert_eq!(
            default_name(1, true, &set(&["vrrp.1", "vrrp6.1"])),
            "vrrp1.1"
        );
        assert_eq!(
            default_name(
                1,
                true,
                &set(&[
                    "vrrp.1", "vrrp6.1", "vrrp1.1", "vrrp2.1", "vrrp3.1", "vrrp4.1", "vrrp5.1"
                ])
            ),
            "vrrp7.1"
        );
        assert_eq!(default_name(9, false, &set(&["vrrp.9"])), "vrrp1.9");
    }
}
