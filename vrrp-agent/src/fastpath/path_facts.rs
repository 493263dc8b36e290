//! What besides netfilter rules keeps a class of traffic on the kernel path: policy routing
//! rules (the program's FIB lookup is the main table's), IPsec policies, tc on the ingress or
//! egress interface (a redirected frame skips tc on both), reverse-path filtering (the kernel
//! drops spoofed sources the program would forward), forwarding switched off. Pure; reads the
//! `pathstate::facts` model.

use super::plan::Blocker;
use crate::pathstate::Facts;

/// Why no IPv4 traffic of the namespace may take the fast path, if anything.
pub fn router(facts: &Facts) -> Vec<Blocker> {
    let mut out = Vec::new();
    if let Some(rule) = facts.extra_rules_v4.first() {
        out.push(Blocker::general(
            "all traffic",
            &format!(
                "policy routing rule `{rule}`: the fast path looks routes up in the main table \
                 only"
            ),
        ));
    }
    if facts.xfrm_policies > 0 {
        out.push(Blocker::general(
            "all traffic",
            &format!(
                "{} IPsec (xfrm) policies: the kernel may encrypt or drop forwarded packets",
                facts.xfrm_policies
            ),
        ));
    }
    out
}

/// Why traffic arriving on `iif` and leaving through `oif` may not take the fast path.
pub fn path(facts: &Facts, class: &str, iif: &str, oif: &str) -> Option<Blocker> {
    for name in [iif, oif] {
        let Some(i) = facts.iface(name) else {
            return Some(Blocker::general(
                class,
                &format!("interface {name} is not in the namespace"),
            ));
        };
        if let Some(tc) = i.tc.first() {
            return Some(Blocker::general(
                class,
                &format!("tc on {name} (`{tc}`): a redirected frame would skip it"),
            ));
        }
    }
    let i = facts.iface(iif)?;
    let rp = facts.all.rp_filter.max(i.conf.rp_filter);
    if rp != 0 {
        return Some(Blocker::general(
            class,
            &format!(
                "reverse-path filtering (rp_filter {rp}) on {iif}: the kernel drops sources it \
                 cannot route back, the fast path does not check"
            ),
        ));
    }
    if !i.conf.forwarding {
        return Some(Blocker::general(
            class,
            &format!("forwarding is off on {iif}"),
        ));
    }
    None
}
