//! [`read_facts`]: every reader of `pathstate` run once for one network namespace, on a
//! short-lived thread inside it, assembled into [`Facts`]; and [`FactsError`], the errors of
//! reading and watching. Only what leaves nothing to report fails the read (the namespace
//! cannot be entered, the interfaces cannot be listed); every other reader fails closed in
//! its own way (see their module docs). Imports `crate::netns` and this module's siblings.

use std::io;

use super::{
    conf,
    facts::Facts,
    links, nl,
    nl::{NlError, NlSocket},
    policy_rules::{self, IpFamily},
    tc, xdp_features, xfrm,
};
use crate::netns::{self, NetnsError};

/// Why the facts of a namespace could not be read or watched.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot open rtnetlink in the namespace")]
    Rtnetlink(#[source] NlError),
    #[error("cannot list the interfaces of the namespace")]
    Links(#[source] NlError),
    #[error("cannot subscribe to {what} changes")]
    Subscribe {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("watching needs a tokio runtime")]
    NoRuntime,
    #[error("receiving {what} changes failed")]
    Watch {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Reads the facts of namespace `netns` (`None`: the caller's). Blocks for as long as the
/// dumps take (a few milliseconds for a router namespace).
pub fn read_facts(netns: Option<&str>) -> Result<Facts, FactsError> {
    netns::run_in(netns, read_here)?
}

/// Reads the facts of the calling thread's namespace.
fn read_here() -> Result<Facts, FactsError> {
    let mut rtnl = NlSocket::open(nl::NETLINK_ROUTE).map_err(FactsError::Rtnetlink)?;
    let mut ifaces = links::read_links(&mut rtnl).map_err(FactsError::Links)?;

    let extra_rules_v4 = policy_rules::read_extra_rules(&mut rtnl, IpFamily::V4);
    let extra_rules_v6 = policy_rules::read_extra_rules(&mut rtnl, IpFamily::V6);

    let mut tc = tc::read_tc(&mut rtnl, &ifaces);

    let xfrm = xfrm::read_xfrm();
    match &xfrm {
        Ok(counts) if counts.policies > 0 || counts.blocking_defaults > 0 => {
            tracing::debug!(
                policies = counts.policies,
                states = counts.states,
                blocking_defaults = counts.blocking_defaults,
                "IPsec in the namespace"
            );
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(error = %nl::describe(error), "cannot count IPsec policies; assuming some");
        }
    }

    let features = xdp_features::read_xdp_features().unwrap_or_else(|error| {
        tracing::warn!(
            error = %nl::describe(&error),
            "cannot read xdp-features; no interface is taken to accept XDP redirects"
        );
        Default::default()
    });

    for iface in &mut ifaces {
        iface.tc = tc.remove(&iface.ifindex).unwrap_or_default();
        iface.conf = conf::read_conf(&iface.name);
        iface.xdp_xmit = features
            .get(&iface.ifindex)
            .is_some_and(|f| xdp_features::accepts_redirect(*f));
    }
    Ok(Facts {
        extra_rules_v4,
        extra_rules_v6,
        xfrm_policies: xfrm::policies_fact(&xfrm),
        all: conf::read_conf("all"),
        ifaces,
    })
}
