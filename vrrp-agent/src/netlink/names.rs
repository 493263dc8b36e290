//! iproute2's names for route/address scopes and route protocols, as configuration files spell
//! them (`scope link`, `protocol static`), turned into the numbers the kernel wants. Pure
//! functions; imports only this module's error type.

use super::NetlinkError;

/// `RT_SCOPE_*` values by iproute2 name (`/etc/iproute2/rt_scopes`).
const SCOPES: &[(&str, u8)] = &[
    ("global", 0),
    ("universe", 0),
    ("site", 200),
    ("link", 253),
    ("host", 254),
    ("nowhere", 255),
];

/// `RTPROT_*` values by iproute2 name (`/etc/iproute2/rt_protos`).
const PROTOCOLS: &[(&str, u8)] = &[
    ("unspec", 0),
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("mrouted", 17),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
];

/// Parses a scope: `global`/`universe`, `site`, `link`, `host`, `nowhere` (any case), or a
/// number 0-255 (decimal or `0x` hex, as iproute2 accepts).
pub fn parse_scope(text: &str) -> Result<u8, NetlinkError> {
    lookup(SCOPES, text).ok_or_else(|| NetlinkError::BadScope(text.to_string()))
}

/// Parses a route protocol: iproute2's names (`kernel`, `boot`, `static`, `keepalived`,
/// `bgp`, ...; any case) or a number 0-255 (decimal or `0x` hex).
pub fn parse_protocol(text: &str) -> Result<u8, NetlinkError> {
    lookup(PROTOCOLS, text).ok_or_else(|| NetlinkError::BadProtocol(text.to_string()))
}

fn lookup(table: &[(&str, u8)], text: &str) -> Option<u8> {
    let text = text.trim();
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|&(_, value)| value)
        .or_else(|| parse_number(text))
}

fn parse_number(text: &str) -> Option<u8> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names() {
        assert_eq!(parse_scope("global").unwrap(), 0);
        assert_eq!(parse_scope("universe").unwrap(), 0);
        assert_eq!(parse_scope("site").unwrap(), 200);
        assert_eq!(parse_scope("link").unwrap(), 253);
        assert_eq!(parse_scope("LINK").unwrap(), 253);
        assert_eq!(parse_scope("host").unwrap(), 254);
        assert_eq!(parse_scope("nowhere").unwrap(), 255);
    }

    #[test]
    fn scope_numbers() {
        assert_eq!(parse_scope("0").unwrap(), 0);
        assert_eq!(parse_scope("253").unwrap(), 253);
        assert_eq!(parse_scope("0xfd").unwrap(), 253);
        assert_eq!(parse_scope(" 200 ").unwrap(), 200);
    }

    #[test]
    fn bad_scopes_are_errors_naming_the_input() {
        for bad in ["", "links", "256", "-1", "0x100", "glob al"] {
            let err = parse_scope(bad).unwrap_err();
            assert!(
                matches!(&err, NetlinkError::BadScope(s) if s == bad),
                "{bad}"
            );
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn protocol_names() {
        assert_eq!(
            parse_protocol("static").unwrap(),
            4,
            "keepalived's `protocol static`"
        );
        assert_eq!(parse_protocol("kernel").unwrap(), 2);
        assert_eq!(parse_protocol("boot").unwrap(), 3);
        assert_eq!(parse_protocol("Static").unwrap(), 4);
        assert_eq!(parse_protocol("keepalived").unwrap(), 18);
        assert_eq!(parse_protocol("bgp").unwrap(), 186);
        assert_eq!(parse_protocol("redirect").unwrap(), 1);
    }

    #[test]
    fn protocol_numbers() {
        assert_eq!(parse_protocol("4").unwrap(), 4);
        assert_eq!(parse_protocol("255").unwrap(), 255);
        assert_eq!(parse_protocol("0x12").unwrap(), 18);
    }

    #[test]
    fn bad_protocols_are_errors_naming_the_input() {
        for bad in ["", "statics", "300", "0xg1"] {
            let err = parse_protocol(bad).unwrap_err();
            assert!(
                matches!(&err, NetlinkError::BadProtocol(s) if s == bad),
                "{bad}"
            );
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
