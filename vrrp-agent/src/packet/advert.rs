//! The VRRP advertisement: the one packet type of RFC 5798 (v3) and RFC 3768 (v2).
//!
//! ```text
//!  v3:  | ver=3 | type=1 | VRID | Priority | Count IPvX Addr |
//!       | rsvd(4) | Max Adver Int (12, centiseconds) | Checksum |
//!       | IPvX Address(es) ...                                 |
//!  v2:  | ver=2 | type=1 | VRID | Priority | Count IP Addrs   |
//!       | Auth Type | Adver Int (seconds) | Checksum           |
//!       | IP Address(es) ... | Authentication Data (8 bytes)   |
//! ```
//!
//! With authentication type 2 (AH) the message is the payload of an IPsec AH header; that
//! layer is `super::ah`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    Centisecs, DecodeError, EncodeError, VRRP_TTL,
    checksum::{ChecksumForm, verify_vrrp_checksum, vrrp_checksum_as},
};

/// Length of the fixed header, both versions.
pub const VRRP_HEADER_LEN: usize = 8;
const V2_AUTH_LEN: usize = 8;
const TYPE_ADVERT: u8 = 1;

/// Protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// RFC 3768, IPv4 only, interval in seconds, optional authentication (password or AH).
    V2,
    /// RFC 5798, IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6; type 2 from RFC 2338 §5.3.6.3). VRRPv3 has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Type 0. VRRPv2 still carries 8 zero bytes of authentication data.
    None,
    /// Type 1: up to 8 bytes of clear-text password, zero padded.
    Simple([u8; 8]),
    /// Type 2, IP Authentication Header, as keepalived implements it (`auth_type AH`): the
    /// advert travels in an IPsec AH whose ICV is HMAC-MD5-96 keyed with `key` (the password,
    /// at most 8 bytes, zero padded), see [`super::ah`]. The VRRP message itself carries 8 zero
    /// bytes of authentication data. `seq` is the AH sequence number of this advert: 0 in a
    /// configuration; the state machine numbers what it sends, and a decoded advert has the
    /// number it arrived with.
    Ah { key: [u8; 8], seq: u32 },
}

impl Auth {
    /// A simple password as keepalived takes it (`auth_pass`): at most 8 bytes are used.
    pub fn simple(password: &str) -> Self {
        Auth::Simple(password_bytes(password))
    }

    /// An AH key as keepalived takes it (`auth_pass` with `auth_type AH`): at most 8 bytes
    /// are used, zero padded, and the whole 8 bytes key the HMAC.
    pub fn ah(password: &str) -> Self {
        Auth::Ah {
            key: password_bytes(password),
            seq: 0,
        }
    }

    /// The Auth Type field of the VRRPv2 header.
    pub const fn type_number(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Simple(_) => 1,
            Auth::Ah { .. } => 2,
        }
    }

    /// The same authentication with the AH sequence number `seq` (unchanged if not AH).
    pub fn with_seq(self, seq: u32) -> Self {
        match self {
            Auth::Ah { key, .. } => Auth::Ah { key, seq },
            other => other,
        }
    }
}

/// keepalived's `auth_data`: the first 8 bytes of the password, zero padded.
fn password_bytes(password: &str) -> [u8; 8] {
    let mut data = [0u8; 8];
    let bytes = password.as_bytes();
    let n = bytes.len().min(8);
    data[..n].copy_from_slice(&bytes[..n]);
    data
}

/// What the IP layer tells us about a received packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// A VRRP advertisement (decoded, or to be encoded).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// v3: Max Adver Int; v2: Adver Int (whole seconds on the wire).
    pub interval: Centisecs,
    /// All of the family of the IP packet carrying the advert.
    pub addresses: Vec<IpAddr>,
    /// Always [`Auth::None`] for v3.
    pub auth: Auth,
}

impl Advert {
    /// Length of the encoded message.
    pub fn encoded_len(&self) -> usize {
        let addr_len = match self.addresses.first() {
            Some(IpAddr::V6(_)) => 16,
            _ => 4,
        };
        let auth = if self.version == Version::V2 {
            V2_AUTH_LEN
        } else {
            0
        };
        VRRP_HEADER_LEN + self.addresses.len() * addr_len + auth
    }

    /// Encodes the VRRP message (no IP header) with its checksum, for sending from `src` to
    /// `dst` (which the v3 checksum covers; `dst` and every address must be of the family of
    /// `src`). A VRRPv3 advert over IPv4 gets the pseudo-header form of the checksum; see
    /// [`encode_as`](Self::encode_as).
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
        self.encode_as(src, dst, ChecksumForm::WithPseudoHeader)
    }

    /// [`encode`](Self::encode) with the checksum in `form` (which matters for VRRPv3 over
    /// IPv4 only).
    pub fn encode_as(
        &self,
        src: IpAddr,
        dst: IpAddr,
        form: ChecksumForm,
    ) -> Result<Vec<u8>, EncodeError> {
        let count =
            u8::try_from(self.addresses.len()).map_err(|_| EncodeError::TooManyAddresses {
                count: self.addresses.len(),
            })?;
        if let Some(addr) = self
            .addresses
            .iter()
            .chain([&dst])
            .find(|a| a.is_ipv4() != src.is_ipv4())
        {
            return Err(EncodeError::MixedFamilies { addr: *addr, src });
        }
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push((self.version.number() << 4) | TYPE_ADVERT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(count);
        match self.version {
            Version::V3 => {
                if self.auth != Auth::None {
                    return Err(EncodeError::AuthInV3);
                }
                if self.interval.get() == 0 || self.interval > Centisecs::V3_MAX {
                    return Err(self.interval_error("must be 1 to 4095 centiseconds"));
                }
                out.extend_from_slice(&(self.interval.get() as u16).to_be_bytes());
            }
            Version::V2 => {
                if src.is_ipv6() {
                    return Err(EncodeError::V2OverIpv6);
                }
                let secs = match self.interval.whole_secs() {
                    Some(s @ 1..=255) => s as u8,
                    _ => return Err(self.interval_error("must be whole seconds from 1 to 255")),
                };
                out.push(self.auth.type_number());
                out.push(secs);
            }
        }
        out.extend_from_slice(&[0, 0]); // checksum, filled in below
        for addr in &self.addresses {
            match addr {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            out.extend_from_slice(match &self.auth {
                // keepalived leaves the authentication data of an AH advert zero.
                Auth::None | Auth::Ah { .. } => &[0; 8],
                Auth::Simple(data) => data,
            });
        }
        let csum = vrrp_checksum_as(self.version, form, &out, src, dst);
        out[6..8].copy_from_slice(&csum.to_be_bytes());
        Ok(out)
    }

    fn interval_error(&self, why: &'static str) -> EncodeError {
        EncodeError::Interval {
            interval: self.interval,
            version: self.version,
            why,
        }
    }

    /// Decodes and checks a received VRRP message (the IP payload). Checks, in order: TTL,
    /// length of the fixed header, version, type, length of the address list (and v2 auth
    /// data), checksum (a VRRPv3 advert over IPv4 in either [`ChecksumForm`]), interval, v2
    /// authentication type. Bytes after the announced length are allowed (and covered by the
    /// checksum, as the sender computed it over them).
    pub fn decode(vrrp: &[u8], meta: &RxMeta) -> Result<Self, DecodeError> {
        Self::decode_with_form(vrrp, meta).map(|(advert, _)| advert)
    }

    /// [`Advert::decode`], also telling which form its checksum had.
    pub fn decode_with_form(
        vrrp: &[u8],
        meta: &RxMeta,
    ) -> Result<(Self, ChecksumForm), DecodeError> {
        if meta.ttl != VRRP_TTL {
            return Err(DecodeError::Ttl { ttl: meta.ttl });
        }
        Self::decode_unchecked_ttl(vrrp, meta, None)
    }

    /// [`Advert::decode`] without the TTL / hop-limit check, for adverts from a configured
    /// unicast peer: keepalived does not check it on unicast and sends IPv6 unicast adverts
    /// with the default hop limit (64), so a router that insisted on 255 would never hear it.
    pub fn decode_any_ttl(vrrp: &[u8], meta: &RxMeta) -> Result<Self, DecodeError> {
        Self::decode_any_ttl_with_form(vrrp, meta).map(|(advert, _)| advert)
    }

    /// [`Advert::decode_any_ttl`], also telling which form its checksum had.
    pub fn decode_any_ttl_with_form(
        vrrp: &[u8],
        meta: &RxMeta,
    ) -> Result<(Self, ChecksumForm), DecodeError> {
        Self::decode_unchecked_ttl(vrrp, meta, None)
    }

    /// [`Advert::decode_any_ttl`] of a message that arrived in an AH header already
    /// authenticated (`ah` is the [`Auth::Ah`] it was authenticated with): a VRRPv2 auth type 2
    /// then decodes to `ah`; without one, auth type 2 is an error (an AH advert stripped of its
    /// AH header).
    pub(super) fn decode_unchecked_ttl(
        vrrp: &[u8],
        meta: &RxMeta,
        ah: Option<Auth>,
    ) -> Result<(Self, ChecksumForm), DecodeError> {
        let [ver_type, vrid, priority, count, b4, b5, c0, c1, ..] = *vrrp else {
            return Err(DecodeError::Truncated { len: vrrp.len() });
        };
        let ipv6 = meta.src.is_ipv6();
        let version = match ver_type >> 4 {
            2 if ipv6 => return Err(DecodeError::V2OverIpv6),
            2 => Version::V2,
            3 => Version::V3,
            version => return Err(DecodeError::Version { version }),
        };
        if ver_type & 0x0f != TYPE_ADVERT {
            return Err(DecodeError::Type {
                ty: ver_type & 0x0f,
            });
        }
        let addr_len = if ipv6 { 16 } else { 4 };
        let auth_len = if version == Version::V2 {
            V2_AUTH_LEN
        } else {
            0
        };
        let needed = VRRP_HEADER_LEN + usize::from(count) * addr_len + auth_len;
        if vrrp.len() < needed {
            return Err(DecodeError::Length {
                needed,
                actual: vrrp.len(),
                count,
            });
        }
        let Some(form) = verify_vrrp_checksum(version, vrrp, meta.src, meta.dst) else {
            return Err(DecodeError::Checksum {
                found: u16::from_be_bytes([c0, c1]),
            });
        };
        let interval = match version {
            Version::V3 => Centisecs(u32::from(u16::from_be_bytes([b4, b5]) & 0x0fff)),
            Version::V2 => Centisecs::from_secs(u32::from(b5)),
        };
        if interval.get() == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        let auth = match (version, b4) {
            (Version::V3, _) => Auth::None,
            (Version::V2, 0) => Auth::None,
            (Version::V2, 1) => {
                let auth_at = needed - V2_AUTH_LEN;
                let mut data = [0u8; 8];
                data.copy_from_slice(&vrrp[auth_at..auth_at + V2_AUTH_LEN]);
                Auth::Simple(data)
            }
            (Version::V2, 2) => ah.ok_or(DecodeError::AuthAh)?,
            (Version::V2, ty) => return Err(DecodeError::AuthType { ty }),
        };
        let list = &vrrp[VRRP_HEADER_LEN..VRRP_HEADER_LEN + usize::from(count) * addr_len];
        let addresses = list
            .chunks_exact(addr_len)
            .map(|a| match <[u8; 16]>::try_from(a) {
                Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
                Err(_) => IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            })
            .collect();
        let advert = Advert {
            version,
            vrid,
            priority,
            interval,
            addresses,
            auth,
        };
        Ok((advert, form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 message with interval 0 and an unknown auth type: the documented order of the
    /// checks (interval before auth type) decides which one is reported.
    #[test]
    fn zero_interval_is_reported_before_the_auth_type() {
        let src: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let dst: IpAddr = Ipv4Addr::new(224, 0, 0, 18).into();
        let mut vrrp = vec![
            0x21, 1, 100, 1, 5, 0, 0, 0, 192, 0, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let csum = super::super::checksum::vrrp_checksum(Version::V2, &vrrp, src, dst);
        vrrp[6..8].copy_from_slice(&csum.to_be_bytes());
        let meta = RxMeta { src, dst, ttl: 255 };
        assert_eq!(Advert::decode(&vrrp, &meta), Err(DecodeError::ZeroInterval));
    }

    /// The v3 checksum covers both addresses: with `dst` of another family than `src` it
    /// could not be computed, so encoding must refuse instead of sending a wrong checksum.
    #[test]
    fn encode_refuses_a_destination_of_another_family() {
        let advert = Advert {
            version: Version::V3,
            vrid: 1,
            priority: 100,
            interval: Centisecs(100),
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
            auth: Auth::None,
        };
        let src: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let dst: IpAddr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12).into();
        assert_eq!(
            advert.encode(src, dst),
            Err(EncodeError::MixedFamilies { addr: dst, src })
        );
    }
}
