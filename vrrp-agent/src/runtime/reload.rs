//! What a reload changes: for each configured instance, whether it is new, unchanged,
//! changeable in place, or must be replaced (its identity changed). Pure.

use crate::config::InstanceSpec;

/// What to do with one instance on reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Identical: leave it alone (no flap).
    Keep {
        old: usize,
        new: usize,
    },
    /// Same identity (namespace, interface, VRID, family, version, `use_vmac`), other
    /// settings differ:
    /// reconfigure the running state machine in place.
    Update {
        old: usize,
        new: usize,
    },
    /// Same name, different identity: shut the old one down and start the new one.
    Replace {
        old: usize,
        new: usize,
    },
    Add {
        new: usize,
    },
    Remove {
        old: usize,
    },
}

/// What an instance cannot change in place. `use_vmac` is part of it: switching it on or off,
/// renaming the macvlan or moving adverts between it and the interface replaces the instance
/// (its addresses move between interfaces).
type Identity<'a> = (
    &'a Option<String>,
    &'a str,
    u8,
    bool,
    u8,
    Option<&'a crate::config::VmacSpec>,
);

fn identity(s: &InstanceSpec) -> Identity<'_> {
    (
        &s.netns,
        s.interface.as_str(),
        s.vrrp.vrid,
        s.vrrp.is_ipv6(),
        s.vrrp.version.number(),
        s.vmac.as_ref(),
    )
}

/// Pairs old and new instances by name.
pub fn plan(old: &[InstanceSpec], new: &[InstanceSpec]) -> Vec<Change> {
    let mut out = Vec::new();
    for (o, spec) in old.iter().enumerate() {
        if !new.iter().any(|n| n.vrrp.name == spec.vrrp.name) {
            out.push(Change::Remove { old: o });
        }
    }
    for (n, spec) in new.iter().enumerate() {
        match old.iter().position(|o| o.vrrp.name == spec.vrrp.name) {
            None => out.push(Change::Add { new: n }),
            Some(o) if old[o] == *spec => out.push(Change::Keep { old: o, new: n }),
            Some(o) if identity(&old[o]) == identity(spec) => {
                out.push(Change::Update { old: o, new: n });
            }
            Some(o) => out.push(Change::Replace { old: o, new: n }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::{InstanceSpec, NotifySpec},
        fsm::InstanceConfig,
    };

    fn spec(name: &str, vrid: u8, iface: &str) -> InstanceSpec {
        InstanceSpec {
            vrrp: InstanceConfig::new(name, vrid, "10.0.0.100".parse().unwrap()),
            netns: None,
            interface: iface.into(),
            unicast_peers: vec![],
            unicast_src: None,
            mcast_src: None,
            notify: NotifySpec::default(),
            track: vec![],
            floating_ips: vec![],
            advert_sources: vec![],
            vmac: None,
            conntrack_sync: None,
        }
    }

    #[test]
    fn pairs_by_name_and_classifies() {
        let old = vec![
            spec("a", 1, "eth0"),
            spec("b", 2, "eth0"),
            spec("c", 3, "eth0"),
        ];
        let mut b2 = spec("b", 2, "eth0");
        b2.vrrp.priority = 200;
        let new = vec![
            spec("a", 1, "eth0"),
            b2,
            spec("c", 3, "eth1"),
            spec("d", 4, "eth0"),
        ];
        let mut p = plan(&old, &new);
        p.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            p,
            [
                Change::Add { new: 3 },
                Change::Keep { old: 0, new: 0 },
                Change::Replace { old: 2, new: 2 },
                Change::Update { old: 1, new: 1 },
            ]
        );
        assert_eq!(plan(&old, &old[..1]).len(), 3, "two removals and a keep");
    }

    #[test]
    fn switching_use_vmac_replaces_the_instance() {
        let old = vec![spec("a", 1, "eth0")];
        let mut on = spec("a", 1, "eth0");
        on.vmac = Some(crate::config::VmacSpec {
            name: "vrrp.1".into(),
            xmit_base: false,
        });
        assert_eq!(
            plan(&old, &[on.clone()]),
            [Change::Replace { old: 0, new: 0 }]
        );
        assert_eq!(
            plan(&[on.clone()], &old),
            [Change::Replace { old: 0, new: 0 }]
        );
        assert_eq!(
            plan(&[on.clone()], &[on]),
            [Change::Keep { old: 0, new: 0 }]
        );
    }
}
