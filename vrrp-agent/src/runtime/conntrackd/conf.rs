//! conntrackd's configuration for one router namespace, shaped like the one Neutron's
//! `ConntrackdManager` writes (`ha_conntrackd_enabled`): FTFW sync over the instance's HA
//! interface from its primary address, multicast to 225.0.0.50 port 3780 + VRID (Neutron's
//! defaults), or UDP to the one peer of a unicast instance; TCP, SCTP, DCCP, UDP, ICMP and
//! ICMPv6 flows, loopback and the sync address itself ignored; Neutron's hash and buffer sizes.
//! Beyond Neutron: its lock file, control socket and log file are private to the namespace,
//! in a folder of its own under the agent's state folder, and it logs to that file, not to
//! syslog. Pure: paths and text only.

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

/// conntrackd keeps its control socket's path in a `sockaddr_un` (`UNIX_PATH_MAX` 107 in its
/// source, as Neutron notes) and other paths in 255 bytes.
pub const UNIX_PATH_MAX: usize = 107;
pub const PATH_MAX: usize = 255;
/// Neutron's `ha_conntrackd_ipv4_mcast_addr`.
pub const MCAST_GROUP: Ipv4Addr = Ipv4Addr::new(225, 0, 0, 50);
/// Neutron's `ha_conntrackd_group`: the port is this plus the VRID.
pub const BASE_PORT: u16 = 3780;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    #[error(
        "conntrackd's control socket path {path} is {len} bytes long, conntrackd takes at \
         most {max} (choose a shorter state folder)"
    )]
    PathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },
}

/// How the replicas reach each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Neutron's: multicast to [`MCAST_GROUP`].
    Multicast,
    /// A unicast instance's one peer.
    Udp { peer: Ipv4Addr },
}

/// What the configuration of one namespace's conntrackd depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conf {
    /// Its folder (`<state dir>/conntrackd/<namespace>`).
    pub dir: PathBuf,
    /// The HA interface (the instance's VRRP interface).
    pub interface: String,
    /// Its primary address: the sync traffic's source, ignored by the filter.
    pub address: Ipv4Addr,
    pub vrid: u8,
    pub transport: Transport,
}

impl Conf {
    /// The folder of namespace `netns`'s conntrackd under `state_dir`.
    pub fn dir_for(state_dir: &Path, netns: Option<&str>) -> PathBuf {
        state_dir
            .join("conntrackd")
            .join(netns.unwrap_or("default-netns"))
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("conntrackd.conf")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.join("conntrackd.lock")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("conntrackd.ctl")
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("conntrackd.log")
    }

    pub fn port(&self) -> u16 {
        BASE_PORT + u16::from(self.vrid)
    }

    /// Whether conntrackd can take these paths.
    pub fn check(&self) -> Result<(), ConfError> {
        let too_long = |path: PathBuf, max: usize| {
            let len = path.as_os_str().len();
            (len > max).then_some(ConfError::PathTooLong { path, len, max })
        };
        match too_long(self.socket(), UNIX_PATH_MAX)
            .or_else(|| too_long(self.file(), PATH_MAX))
            .or_else(|| too_long(self.lock_file(), PATH_MAX))
            .or_else(|| too_long(self.log_file(), PATH_MAX))
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The configuration file's text.
    pub fn text(&self) -> String {
        let channel = match &self.transport {
            Transport::Multicast => format!(
                "    Multicast Default {{\n        IPv4_address {MCAST_GROUP}\n        \
                 IPv4_interface {addr}\n        Group {port}\n        Interface {iface}\n\
                 {buffers}    }}\n",
                addr = self.address,
                port = self.port(),
                iface = self.interface,
                buffers = BUFFERS,
            ),
            Transport::Udp { peer } => format!(
                "    UDP Default {{\n        IPv4_address {addr}\n        \
                 IPv4_Destination_Address {peer}\n        Port {port}\n        Interface \
                 {iface}\n{buffers}    }}\n",
                addr = self.address,
                port = self.port(),
                iface = self.interface,
                buffers = BUFFERS,
            ),
        };
        format!(
            "# Written by vrrp-agent (conntrack_sync); rewritten when the agent starts it.\n\
             General {{\n    HashSize 32768\n    HashLimit 131072\n    Syslog off\n    \
             LogFile {log}\n    LockFile {lock}\n    UNIX {{\n        Path {socket}\n        \
             Backlog 20\n    }}\n    SocketBufferSize 262142\n    SocketBufferSizeMaxGrown \
             655355\n    Filter From Kernelspace {{\n        Protocol Accept {{\n            \
             TCP\n            SCTP\n            DCCP\n            UDP\n            ICMP\n            \
             IPv6-ICMP\n        }}\n        Address Ignore {{\n            IPv4_address \
             127.0.0.1\n            IPv6_address ::1\n            IPv4_address {addr}\n        \
             }}\n    }}\n}}\nSync {{\n    Mode FTFW {{\n    }}\n{channel}}}\n",
            log = self.log_file().display(),
            lock = self.lock_file().display(),
            socket = self.socket().display(),
            addr = self.address,
        )
    }
}

/// Neutron's `ha_conntrackd_sndsocketbuffer` / `rcvsocketbuffer`, and checksums on.
const BUFFERS: &str = "        SndSocketBuffer 24985600\n        RcvSocketBuffer 24985600\n        \
                       Checksum on\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(transport: Transport) -> Conf {
        Conf {
            dir: Conf::dir_for(Path::new("/run/vrrp-agent/state"), Some("qrouter-1")),
            interface: "ha-0a1b2c3d-4e".into(),
            address: Ipv4Addr::new(169, 254, 192, 1),
            vrid: 7,
            transport,
        }
    }

    #[test]
    fn multicast_like_neutron_with_private_files_in_the_namespaces_folder() {
        let c = conf(Transport::Multicast);
        let text = c.text();
        let dir = "/run/vrrp-agent/state/conntrackd/qrouter-1";
        for want in [
            "Mode FTFW {",
            "Multicast Default {",
            "IPv4_address 225.0.0.50",
            "IPv4_interface 169.254.192.1",
            "Group 3787",
            "Interface ha-0a1b2c3d-4e",
            "IPv4_address 127.0.0.1",
            "IPv6_address ::1",
            "Syslog off",
            "HashSize 32768",
            "Checksum on",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert!(text.contains(&format!("LockFile {dir}/conntrackd.lock")));
        assert!(text.contains(&format!("Path {dir}/conntrackd.ctl")));
        assert!(text.contains(&format!("LogFile {dir}/conntrackd.log")));
        // The sync address is ignored too (its own traffic is not synced).
        let ignore = text.split("Address Ignore").nth(1).unwrap_or_default();
        assert!(ignore.contains("IPv4_address 169.254.192.1"), "{text}");
        assert_eq!(
            text.matches('{').count(),
            text.matches('}').count(),
            "{text}"
        );
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn a_unicast_instance_syncs_over_udp_to_its_peer() {
        let text = conf(Transport::Udp {
            peer: Ipv4Addr::new(169, 254, 192, 2),
        })
        .text();
        assert!(text.contains("UDP Default {"), "{text}");
        assert!(text.contains("IPv4_Destination_Address 169.254.192.2"));
        assert!(text.contains("Port 3787"));
        assert!(!text.contains("Multicast"));
    }

    #[test]
    fn namespaces_get_folders_of_their_own() {
        let base = Path::new("/s");
        assert_ne!(
            Conf::dir_for(base, Some("a")),
            Conf::dir_for(base, Some("b"))
        );
        assert_eq!(
            Conf::dir_for(base, None),
            Path::new("/s/conntrackd/default-netns")
        );
    }

    #[test]
    fn a_socket_path_conntrackd_cannot_take_is_an_error() {
        let mut c = conf(Transport::Multicast);
        c.dir = PathBuf::from(format!("/{}", "x".repeat(100)));
        match c.check() {
            Err(ConfError::PathTooLong { len, max, .. }) => {
                assert_eq!(max, UNIX_PATH_MAX);
                assert!(len > max);
            }
            other => panic!("{other:?}"),
        }
    }
}
