//! The receive checks that need the instance's configuration (RFC 9568 §7.1, RFC 3768 §7.1),
//! after the codec's own checks passed.

use std::{collections::BTreeSet, net::IpAddr};

use super::{InstanceConfig, replay::AhSequence};
use crate::packet::{Advert, Auth, Centisecs, Version};

/// An advert the instance must not act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RxCheckError {
    #[error("VRRPv{got} advert for a VRRPv{want} instance")]
    VersionMismatch { got: u8, want: u8 },
    #[error("advert of the other address family")]
    FamilyMismatch,
    #[error("authentication type differs from ours")]
    AuthTypeMismatch,
    #[error("wrong password")]
    AuthFailure,
    #[error("AH sequence number {seq} is not above {last}, the last one sent or accepted (replay)")]
    Replay { seq: u32, last: u32 },
    #[error("VRRPv2 advert interval {got} differs from ours ({want}), RFC 3768 §7.1")]
    IntervalMismatch { got: Centisecs, want: Centisecs },
    #[error("VRRPv2 advert from a non-owner with an address list unlike ours")]
    AddressList,
    #[error("we own the addresses (priority 255) and ignore other routers' adverts")]
    WeAreOwner,
    #[error(
        "it claims to own the addresses too (priority 255): only one router per VRID may \
         (RFC 9568 §8.3.2); check both configurations"
    )]
    SecondOwner,
}

impl RxCheckError {
    /// Stable snake_case name for counters and logs.
    pub const fn kind(&self) -> &'static str {
        match self {
            RxCheckError::VersionMismatch { .. } => "version_mismatch",
            RxCheckError::FamilyMismatch => "family_mismatch",
            RxCheckError::AuthTypeMismatch => "auth_type_mismatch",
            RxCheckError::AuthFailure => "auth_failure",
            RxCheckError::Replay { .. } => "auth_replay",
            RxCheckError::IntervalMismatch { .. } => "interval_mismatch",
            RxCheckError::AddressList => "address_list",
            RxCheckError::WeAreOwner => "owner_conflict",
            RxCheckError::SecondOwner => "second_owner",
        }
    }
}

/// Result of the checks for an advert that may be acted on.
pub struct Accepted {
    /// The advertised address list differs from ours (RFC: log and count, then continue).
    pub address_list_differs: bool,
}

/// Runs the instance-level checks. `effective_priority` decides whether we are the owner.
/// An AH advert (authenticated by the codec) also passes the anti-replay check of `ah`, which
/// then takes its sequence number (keepalived does this before the remaining checks).
pub fn check(
    config: &InstanceConfig,
    effective_priority: u8,
    src: IpAddr,
    advert: &Advert,
    ah: &mut AhSequence,
) -> Result<Accepted, RxCheckError> {
    if advert.version != config.version {
        return Err(RxCheckError::VersionMismatch {
            got: advert.version.number(),
            want: config.version.number(),
        });
    }
    if src.is_ipv6() != config.is_ipv6() {
        return Err(RxCheckError::FamilyMismatch);
    }
    if config.version == Version::V2 {
        match (&config.auth, &advert.auth) {
            (Auth::None, Auth::None) => {}
            (Auth::Simple(ours), Auth::Simple(theirs)) => {
                if ours != theirs {
                    return Err(RxCheckError::AuthFailure);
                }
            }
            (Auth::Ah { key: ours, .. }, Auth::Ah { key: theirs, seq }) => {
                if ours != theirs {
                    return Err(RxCheckError::AuthFailure);
                }
                ah.accept(*seq)?;
            }
            _ => return Err(RxCheckError::AuthTypeMismatch),
        }
        if advert.interval != config.advert_interval {
            return Err(RxCheckError::IntervalMismatch {
                got: advert.interval,
                want: config.advert_interval,
            });
        }
    }
    if effective_priority == 255 {
        return Err(if advert.priority == 255 {
            RxCheckError::SecondOwner
        } else {
            RxCheckError::WeAreOwner
        });
    }
    let ours: BTreeSet<IpAddr> = config.virtual_addresses.iter().map(|a| a.addr).collect();
    let theirs: BTreeSet<IpAddr> = advert.addresses.iter().copied().collect();
    let address_list_differs = ours != theirs || advert.addresses.len() != ours.len();
    if address_list_differs && config.version == Version::V2 && advert.priority != 255 {
        return Err(RxCheckError::AddressList);
    }
    Ok(Accepted {
        address_list_differs,
    })
}
