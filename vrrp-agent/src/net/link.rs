//! Facts about an interface of the current network namespace that the sockets need: that a
//! name and an index denote the same interface, and its Ethernet address. Uses nix only
//! (`if_nametoindex`, `getifaddrs`, both answered from the calling thread's namespace).

use std::io;

use nix::{ifaddrs::getifaddrs, net::if_::if_nametoindex};

/// Fails unless `ifname` is the interface with index `ifindex` in the current namespace (a
/// mismatch usually means the caller is in the wrong namespace).
pub(crate) fn check_ifindex(ifindex: u32, ifname: &str) -> io::Result<()> {
    let found = if_nametoindex(ifname).map_err(|errno| {
        io::Error::new(
            io::Error::from(errno).kind(),
            format!("interface {ifname} not found in the current network namespace: {errno}"),
        )
    })?;
    if found != ifindex {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface {ifname} has index {found}, not {ifindex}"),
        ));
    }
    Ok(())
}

/// The Ethernet (6-byte) address of `ifname`, `None` if it has none (loopback has all
/// zeros and counts as none; tunnels have no link-layer address).
pub(crate) fn mac_address(ifname: &str) -> io::Result<Option<[u8; 6]>> {
    let addrs = getifaddrs().map_err(|errno| {
        io::Error::new(
            io::Error::from(errno).kind(),
            format!("listing interface addresses: {errno}"),
        )
    })?;
    Ok(addrs
        .filter(|a| a.interface_name == ifname)
        .filter_map(|a| {
            let link = *a.address?.as_link_addr()?;
            if link.halen() == 6 { link.addr() } else { None }
        })
        .find(|mac| *mac != [0; 6]))
}
