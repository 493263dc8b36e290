//! Links for `use_vmac`: creating a VEPA-mode macvlan (or switching one to that mode) with a given name, lower device and
//! MAC, setting an alias, switching a link up or down, deleting one. Whether one is there already and
//! whether it is usable is the caller's business (`runtime::vmac` adopts, replaces or
//! creates). Imports `handle`, `error`.

use rtnetlink::{
    LinkMacVlan, LinkUnspec,
    packet_route::link::{LinkAttribute, MacVlanMode},
};

use super::{Netlink, NetlinkError, error::kernel_errno};

impl Netlink {
    /// Creates macvlan `name` on `lower` in mode VEPA (see `runtime::vmac_link` for why not
    /// keepalived's private), with hardware address `mac`, administratively down. Fails if a
    /// link of that name exists. (The kernel ignores an alias given here: see
    /// [`Self::set_link_alias`].)
    pub async fn add_macvlan(
        &self,
        name: &str,
        lower: u32,
        mac: [u8; 6],
    ) -> Result<(), NetlinkError> {
        let message = LinkMacVlan::new(name, lower, MacVlanMode::Vepa)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|e| self.request_error(format!("creating macvlan {name}"), e))
    }

    /// Switches macvlan `name` (index `index`) to mode VEPA.
    pub async fn set_macvlan_vepa(&self, index: u32, name: &str) -> Result<(), NetlinkError> {
        let mut message = LinkMacVlan::new(name, 0, MacVlanMode::Vepa).build();
        message.header.index = index;
        message
            .attributes
            .retain(|a| !matches!(a, LinkAttribute::Link(_) | LinkAttribute::IfName(_)));
        self.handle
            .link()
            .change(message)
            .execute()
            .await
            .map_err(|e| self.request_error(format!("setting {name} to mode vepa"), e))
    }

    /// Sets `alias` as the description of link `index`.
    pub async fn set_link_alias(&self, index: u32, alias: &str) -> Result<(), NetlinkError> {
        let mut message = LinkUnspec::new_with_index(index).build();
        message
            .attributes
            .push(LinkAttribute::IfAlias(alias.to_string()));
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| self.request_error(format!("setting the alias of index {index}"), e))
    }

    /// Sets link `index` administratively up or down.
    pub async fn set_link_up(&self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let builder = LinkUnspec::new_with_index(index);
        let message = if up { builder.up() } else { builder.down() }.build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| {
                let state = if up { "up" } else { "down" };
                self.request_error(format!("setting index {index} {state}"), e)
            })
    }

    /// Deletes link `index`; one that is gone already is fine.
    pub async fn del_link(&self, index: u32) -> Result<(), NetlinkError> {
        match self.handle.link().del(index).execute().await {
            Err(e) if kernel_errno(&e) != Some(libc::ENODEV) => {
                Err(self.request_error(format!("deleting index {index}"), e))
            }
            _ => Ok(()),
        }
    }
}
