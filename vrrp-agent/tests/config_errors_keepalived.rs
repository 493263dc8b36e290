//! Every kind of error in a keepalived.conf names the file, the line of the offending item,
//! and what is expected. (The `ka_instance` template puts the first extra line at line 7.)

mod config_support;

use config_support::*;

#[test]
fn syntax_errors() {
    ka_fails(
        &ka_instance("    notify \"/bin/notify.sh"),
        7,
        "unterminated quote: expected a closing `\"` on the same line",
    );
    ka_fails(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.1\n}\n",
        1,
        "missing `}` to close the `vrrp_instance` block opened here",
    );
    ka_fails(
        &format!("{}}}\n", ka_instance("")),
        9,
        "`}` without a matching `{`",
    );
    ka_fails(
        "global_defs {\n}\n{\n}\n",
        3,
        "`{` without a keyword before it",
    );
    ka_fails(&"a {\n".repeat(40), 16, "blocks nested more than 16 deep");
    ka_fails(
        "include /etc/keepalived/other.conf\n",
        1,
        "include: not supported; put the included configuration in this file",
    );
}

#[test]
fn statement_shape_errors() {
    ka_fails(
        &ka_instance("    priority"),
        7,
        "priority: expected a value, got nothing",
    );
    ka_fails(
        &ka_instance("    priority 100 200"),
        7,
        "priority: expected one value, got also `200`",
    );
    ka_fails(
        &ka_instance("    nopreempt yes"),
        7,
        "nopreempt: takes no value, got `yes`",
    );
    ka_fails(
        &ka_instance("    priority 100 {\n    }"),
        7,
        "priority: takes no `{ }` block",
    );
    ka_fails(
        &ka_instance("    track_interface eth1"),
        7,
        "track_interface: expected a `{ ... }` block",
    );
    ka_fails(
        &ka_instance("    virtual_ipaddress {\n        192.0.2.9 {\n        }\n    }"),
        8,
        "virtual_ipaddress: entries take no `{ }` block",
    );
    ka_fails("vrrp_instance {\n}\n", 1, "vrrp_instance: expected a name");
    ka_fails(
        "vrrp_instance A B {\n}\n",
        1,
        "vrrp_instance: expected one name, got also `B`",
    );
    ka_fails(
        &ka_instance("    notify_master"),
        7,
        "notify_master: expected a script path, got nothing",
    );
}

#[test]
fn instance_value_errors() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "    virtual_router_id 300",
            7,
            "virtual_router_id: expected a number 1-255, got `300`",
        ),
        (
            "    virtual_router_id 0",
            7,
            "virtual_router_id: expected a number 1-255, got `0`",
        ),
        (
            "    priority 0",
            7,
            "priority: expected a number 1-255, got `0`",
        ),
        (
            "    priority high",
            7,
            "priority: expected a number 1-255, got `high`",
        ),
        (
            "    state EQUAL",
            7,
            "state: expected MASTER or BACKUP, got `EQUAL`",
        ),
        ("    version 4", 7, "version: expected 2 or 3, got `4`"),
        (
            "    advert_int 0.5",
            7,
            "advert_int: expected a whole number of seconds 1-255 for VRRPv2, got `0.5`",
        ),
        (
            "    advert_int 256",
            7,
            "advert_int: expected a whole number of seconds 1-255 for VRRPv2, got `256`",
        ),
        (
            "    version 3\n    advert_int 41",
            8,
            "advert_int: expected 0.01 to 40.95 seconds for VRRPv3, got `41`",
        ),
        (
            "    advert_int 0.001",
            7,
            "advert_int: expected seconds with at most two decimals (e.g. 1 or 0.05), got `0.001`",
        ),
        (
            "    preempt_delay -1",
            7,
            "preempt_delay: expected seconds from 0 to 1000, got `-1`",
        ),
        (
            "    garp_master_repeat 0",
            7,
            "garp_master_repeat: expected a number 1-1000, got `0`",
        ),
        (
            "    garp_master_delay soon",
            7,
            "garp_master_delay: expected a number 0-3600, got `soon`",
        ),
        (
            "    garp_master_refresh -5",
            7,
            "garp_master_refresh: expected a number 0-86400, got `-5`",
        ),
        (
            "    interface eth0.with-a-long-name",
            7,
            "interface: expected an interface name (1-15 characters, no `/`, `:` or spaces), got `eth0.with-a-long-name`",
        ),
        (
            "    unicast_src_ip foo",
            7,
            "unicast_src_ip: expected an IP address, got `foo`",
        ),
        (
            "    mcast_src_ip 10.0.0",
            7,
            "mcast_src_ip: expected an IP address, got `10.0.0`",
        ),
        (
            "    native_ipv6",
            7,
            "vrrp_instance VI_1: native_ipv6, but the virtual addresses are IPv4",
        ),
    ];
    for (extra, line, message) in cases {
        ka_fails(&ka_instance(extra), *line, message);
    }
}

#[test]
fn authentication_errors() {
    ka_fails(
        &ka_instance("    authentication {\n        auth_type XYZ\n    }"),
        8,
        "auth_type: expected PASS or AH, got `XYZ`",
    );
    for ty in ["PASS", "AH"] {
        ka_fails(
            &ka_instance(&format!(
                "    authentication {{\n        auth_type {ty}\n    }}"
            )),
            8,
            &format!("authentication: auth_type {ty} needs an auth_pass"),
        );
    }
    // keepalived ignores authentication with version 3 and sends unauthenticated adverts;
    // refused here, at the authentication block.
    for ty in ["PASS", "AH"] {
        ka_fails(
            &ka_instance(&format!(
                "    version 3\n    authentication {{\n        auth_type {ty}\n        auth_pass x\n    }}"
            )),
            8,
            &format!(
                "vrrp_instance VI_1: authentication (auth_type {ty}) needs VRRPv2 (`version 2`); \
                 keepalived ignores it with version 3 and sends unauthenticated adverts"
            ),
        );
    }
}

#[test]
fn address_and_route_errors() {
    let block =
        |key: &str, entry: &str| ka_instance(&format!("    {key} {{\n        {entry}\n    }}"));
    let cases: &[(&str, &str, &str)] = &[
        (
            "virtual_ipaddress",
            "192.0.2.300/24",
            "virtual_ipaddress: expected an IP address with an optional /prefix, got `192.0.2.300/24`",
        ),
        (
            "virtual_ipaddress",
            "192.0.2.3/33",
            "virtual_ipaddress: prefix length of `192.0.2.3/33` must be 0-32",
        ),
        (
            "virtual_ipaddress",
            "192.0.2.3 dve eth0",
            "virtual_ipaddress 192.0.2.3: unknown option `dve` (expected dev, scope, label, brd or no_track)",
        ),
        (
            "virtual_ipaddress",
            "192.0.2.3 dev",
            "virtual_ipaddress 192.0.2.3: `dev` needs a value",
        ),
        (
            "virtual_ipaddress",
            "192.0.2.3 scope planet",
            "virtual_ipaddress 192.0.2.3: scope: expected global, site, link, host, nowhere or a number 0-255, got `planet`",
        ),
        (
            "virtual_ipaddress",
            "192.0.2.3 peer 192.0.2.4",
            "virtual_ipaddress 192.0.2.3: peer addresses are not supported",
        ),
        (
            "virtual_ipaddress",
            "2001:db8::1",
            "instance VI_1: advertised addresses mix IPv4 and IPv6 (2001:db8::1)",
        ),
        (
            "virtual_ipaddress_excluded",
            "2001:db8::1/64 brd +",
            "virtual_ipaddress_excluded 2001:db8::1/64: IPv6 addresses have no broadcast address",
        ),
        (
            "virtual_routes",
            "via 192.0.2.254",
            "virtual_routes via 192.0.2.254: no destination",
        ),
        (
            "virtual_routes",
            "10.0.0.0/8 via 2001:db8::1",
            "virtual_routes 10.0.0.0/8 via 2001:db8::1: mixes IPv4 and IPv6",
        ),
        (
            "virtual_routes",
            "10.0.0.0/8 table foo",
            "virtual_routes 10.0.0.0/8 table foo: table: expected main, local, default or a number 1-4294967295, got `foo`",
        ),
        (
            "virtual_routes",
            "10.0.0.0/8 via 192.0.2.254 mtu 1400",
            "virtual_routes 10.0.0.0/8 via 192.0.2.254 mtu 1400: unknown option `mtu` (expected via, dev, scope, protocol, table, metric, src or no_track)",
        ),
        (
            "virtual_routes",
            "blackhole 10.0.0.0/8",
            "virtual_routes blackhole 10.0.0.0/8: `blackhole` routes are not supported",
        ),
        (
            "virtual_routes",
            "10.0.0.0/8 protocol magic",
            "virtual_routes 10.0.0.0/8 protocol magic: protocol: expected a route protocol (static, kernel, boot, keepalived, ... or a number 0-255), got `magic`",
        ),
        (
            "unicast_peer",
            "192.0.2.9 ttl 3",
            "unicast_peer 192.0.2.9: unknown option `ttl`",
        ),
        (
            "unicast_peer",
            "2001:db8::2",
            "instance `VI_1`: unicast peer 2001:db8::2 is IPv6 but the instance is IPv4",
        ),
    ];
    for (key, entry, message) in cases {
        ka_fails(&block(key, entry), 8, message);
    }
    ka_fails(
        &ka_instance("    unicast_src_ip 2001:db8::1"),
        7,
        "instance `VI_1`: unicast_src_ip 2001:db8::1 is IPv6 but the instance is IPv4",
    );
}

#[test]
fn family_and_presence_errors() {
    ka_fails(
        "vrrp_instance VI_6 {\n    interface eth0\n    virtual_router_id 5\n    version 2\n    virtual_ipaddress {\n        2001:db8::5\n    }\n}\n",
        4,
        "instance VI_6: VRRPv2 is IPv4 only",
    );
    ka_fails(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n}\n",
        1,
        "instance VI_1: no virtual address to advertise",
    );
    ka_fails(
        "vrrp_instance VI_1 {\n    virtual_router_id 5\n}\n",
        1,
        "vrrp_instance VI_1: `interface` is required",
    );
    ka_fails(
        "vrrp_instance VI_1 {\n    interface eth0\n}\n",
        1,
        "vrrp_instance VI_1: `virtual_router_id` is required",
    );
}

#[test]
fn tracking_errors() {
    ka_fails(
        &ka_instance("    track_interface {\n        eth1 weight 300\n    }"),
        8,
        "track_interface eth1: weight: expected a number from -253 to 253, got `300`",
    );
    ka_fails(
        &ka_instance("    track_interface {\n        eth1 weight 10 reverse\n    }"),
        8,
        "track_interface eth1: `reverse` weights are not supported",
    );
    ka_fails(
        &ka_instance("    track_interface {\n        eth1 10\n    }"),
        8,
        "track_interface eth1: expected `weight N` after the name, got `10`",
    );
    ka_fails(
        &ka_instance("    track_script {\n        chk_missing\n    }"),
        8,
        "instance `VI_1`: track_script `chk_missing`: no script of that name",
    );
}

#[test]
fn script_errors() {
    let script = |body: &str| format!("vrrp_script chk {{\n{body}\n}}\n{}", ka_instance(""));
    ka_fails(
        &script("    interval 2"),
        1,
        "vrrp_script chk: `script` is required",
    );
    ka_fails(
        &script("    script \"\""),
        1,
        "vrrp_script chk: script: expected a command, got an empty string",
    );
    ka_fails(
        &script("    script /bin/true\n    interval 0"),
        3,
        "interval: expected seconds from 0.001 to 3600, got `0`",
    );
    ka_fails(
        &script("    script /bin/true\n    fall 0"),
        3,
        "fall: expected a number 1-1000, got `0`",
    );
    ka_fails(
        &script("    script /bin/true\n    weight -254"),
        3,
        "vrrp_script chk: weight: expected a number from -253 to 253, got `-254`",
    );
    ka_fails(
        &script("    script /bin/true\n    user"),
        3,
        "user: expected a user name, got nothing",
    );
    ka_fails(
        &script("    script /bin/true\n    user nobody nogroup extra"),
        3,
        "user: expected a user and a group at most, got also `extra`",
    );
    ka_fails(
        &format!(
            "vrrp_script chk {{\n    script /bin/true\n}}\nvrrp_script chk {{\n    script /bin/false\n}}\n{}",
            ka_instance("")
        ),
        4,
        "script `chk` is defined twice (first at line 1)",
    );
}

#[test]
fn cross_reference_errors() {
    let two = format!(
        "{}{}",
        ka_instance(""),
        ka_instance("").replace("VI_1", "VI_2")
    );
    // VI_2 starts at line 9 and uses eth0 / VRID 51 / IPv4 too.
    ka_fails(
        &two,
        9,
        "instance `VI_2`: VRID 51 on eth0 (IPv4) is already used by instance `VI_1` (line 1)",
    );
    ka_fails(
        &format!("{}{}", ka_instance(""), ka_instance("")),
        9,
        "instance `VI_1` is defined twice (first at line 1)",
    );
    let group = |body: &str| format!("{}vrrp_sync_group G {{\n{body}\n}}\n", ka_instance(""));
    // The group starts at line 9.
    ka_fails(
        &group("    group {\n        VI_1\n        VI_9\n    }"),
        12,
        "sync group `G`: no instance named `VI_9`",
    );
    ka_fails(
        &group("    group {\n    }"),
        9,
        "sync group `G`: no members",
    );
    ka_fails(
        &group("    group VI_1"),
        10,
        "group: expected a `{ ... }` block",
    );
    ka_fails(
        &format!(
            "{}vrrp_sync_group H {{\n    group {{\n        VI_1\n    }}\n}}\n",
            group("    group {\n        VI_1\n    }")
        ),
        16,
        "sync group `H`: instance `VI_1` is already in sync group `G` (line 11); an instance can be in one group only",
    );
    ka_fails(
        &group("    group {\n        VI_1\n    }\n    notify_fault \"\""),
        13,
        "sync group `G`: notify_fault: expected a script path, got an empty string",
    );
    ka_fails(
        &ka_instance("    notify \"\""),
        7,
        "instance `VI_1`: notify: expected a script path, got an empty string",
    );
}

#[test]
fn global_defs_errors() {
    let with_global = |body: &str| format!("global_defs {{\n{body}\n}}\n{}", ka_instance(""));
    ka_fails(
        &with_global("    vrrp_version 5"),
        2,
        "vrrp_version: expected 2 or 3, got `5`",
    );
    ka_fails(
        &with_global("    vrrp_garp_master_delay soon"),
        2,
        "vrrp_garp_master_delay: expected a number 0-3600, got `soon`",
    );
    ka_fails(
        &with_global("    vrrp_garp_master_refresh_repeat 0"),
        2,
        "vrrp_garp_master_refresh_repeat: expected a number 1-1000, got `0`",
    );
    ka_fails(
        &with_global("    script_user"),
        2,
        "script_user: expected a user name, got nothing",
    );
    ka_fails(
        &with_global("    script_user nobody nogroup wheel"),
        2,
        "script_user: expected a user and a group at most, got also `wheel`",
    );
    ka_fails(
        &with_global("    enable_script_security yes"),
        2,
        "enable_script_security: takes no value, got `yes`",
    );
    ka_fails(
        &with_global("    router_id"),
        2,
        "router_id: expected a value, got nothing",
    );
}
