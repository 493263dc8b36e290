//! Every kind of error in a native TOML file names the file, the line of the offending item,
//! and what is expected. (The `toml_instance` template puts the first extra line at line 6.)

mod config_support;

use config_support::*;

#[test]
fn syntax_and_schema_errors_come_with_their_line() {
    let err = toml_err("[global]\nrouter_id = \"a\"\n[[instance]\nname = \"x\"\n");
    assert_error(&err, "inline.toml", 3, "unclosed array table, expected `]`");

    // A typo is an error, not an ignored key.
    let err = toml_err(&toml_instance("adress = \"192.0.2.2\""));
    assert_eq!(err.line, 6);
    assert!(
        err.message
            .starts_with("unknown field `adress`, expected one of `name`, "),
        "{err}"
    );

    let err = toml_err("[global]\nrouter = \"a\"\n");
    assert_eq!(err.line, 2);
    assert!(
        err.message
            .starts_with("unknown field `router`, expected one of `router_id`"),
        "{err}"
    );

    // ... also inside a table entry of a list.
    let err = toml_err(&toml_instance(
        "excluded_addresses = [\n    \"10.0.0.1/24\",\n    { adress = \"10.0.0.2\" },\n]",
    ));
    assert_eq!(err.line, 8);
    assert_eq!(
        err.message,
        "unknown field `adress`, expected one of `address`, `dev`, `scope`, `label`, `broadcast`, `no_track`"
    );

    toml_fails(
        &toml_instance("priority = \"high\""),
        6,
        "invalid type: string \"high\", expected i64",
    );
    toml_fails(
        &toml_instance("state = \"MASTER\""),
        6,
        "unknown variant `MASTER`, expected `backup` or `master`",
    );
    toml_fails(
        &toml_instance("auth_type = \"AH\""),
        6,
        "unknown variant `AH`, expected `pass` or `ah`",
    );
    toml_fails(
        "[[instance]]\nname = \"a\"\nvrid = 1\n",
        1,
        "missing field `interface`",
    );
    toml_fails(
        &toml_instance(
            "[[instance.track_reachability]]\naddress = \"192.0.2.254\"\ninterface = \"eth1\"\nmethod = \"arp\"",
        ),
        9,
        "unknown variant `arp`, expected one of `neighbor`, `neighbour`, `icmp`",
    );
}

#[test]
fn instance_value_errors() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "priority = 0",
            6,
            "instance `VI_1`: priority: expected a number 1-255, got `0`",
        ),
        (
            "priority = 256",
            6,
            "instance `VI_1`: priority: expected a number 1-255, got `256`",
        ),
        (
            "version = 4",
            6,
            "instance `VI_1`: version: expected 2 or 3, got `4`",
        ),
        (
            "advert_interval = 0.005",
            6,
            "instance `VI_1`: advert_interval: expected seconds from 0.01 to 255, got 0.005",
        ),
        (
            "advert_interval = 0.015",
            6,
            "instance `VI_1`: advert_interval: expected a multiple of 0.01 s, got 0.015",
        ),
        (
            "advert_interval = 41",
            6,
            "instance `VI_1`: advert_interval: expected 0.01 to 40.95 seconds for VRRPv3, got `41`",
        ),
        (
            "version = 2\nadvert_interval = 1.5",
            7,
            "instance `VI_1`: advert_interval: expected a whole number of seconds 1-255 for VRRPv2, got `1.5`",
        ),
        (
            "preempt_delay = -1",
            6,
            "instance `VI_1`: preempt_delay: expected seconds from 0 to 1000, got -1",
        ),
        (
            "version = 2\nauth_pass = \"much-too-long\"",
            7,
            "instance `VI_1`: auth_pass: expected 1-8 characters, got 13",
        ),
        // The state machine's own check, at the auth_pass line (the default version is 3).
        (
            "auth_pass = \"secret\"",
            6,
            "instance VI_1: authentication exists in VRRPv2 only",
        ),
        (
            "auth_type = \"ah\"\nauth_pass = \"secret\"",
            7,
            "instance VI_1: authentication exists in VRRPv2 only",
        ),
        (
            "version = 2\nauth_type = \"ah\"",
            7,
            "instance `VI_1`: auth_type needs an auth_pass",
        ),
        (
            "version = 2\nstate = \"master\"\nauth_type = \"ah\"\nauth_pass = \"secret\"",
            8,
            "instance `VI_1`: auth_type: an AH instance starts as backup unless it owns the \
             addresses (priority 255): it must first learn the sequence number from the \
             master's adverts (keepalived clears `state MASTER` too); remove state = \"master\"",
        ),
        (
            "netns = \"a/b\"",
            6,
            "instance `VI_1`: netns: expected a namespace name (no `/` or spaces), got `a/b`",
        ),
        (
            "unicast_src = \"2001:db8::1\"",
            6,
            "instance `VI_1`: unicast_src_ip 2001:db8::1 is IPv6 but the instance is IPv4",
        ),
        (
            "unicast_peers = [\n    \"192.0.2.3\",\n    \"2001:db8::3\",\n]",
            8,
            "instance `VI_1`: unicast peer 2001:db8::3 is IPv6 but the instance is IPv4",
        ),
        (
            "mcast_src = \"192.0.2\"",
            6,
            "instance `VI_1`: mcast_src: expected an IP address, got `192.0.2`",
        ),
        (
            "notify_master = \"  \"",
            6,
            "instance `VI_1`: notify_master: expected a script path, got an empty string",
        ),
        (
            "garp = { master_repeat = 0 }",
            6,
            "instance `VI_1`: garp: master_repeat: expected a number 1-1000, got `0`",
        ),
        (
            "garp = { master_delay = 4000 }",
            6,
            "instance `VI_1`: garp: master_delay: expected seconds from 0 to 3600, got 4000",
        ),
    ];
    for (extra, line, message) in cases {
        toml_fails(&toml_instance(extra), *line, message);
    }
    toml_fails(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 300\n",
        4,
        "instance `VI_1`: vrid: expected a number 1-255, got `300`",
    );
    toml_fails(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"a-much-too-long-name\"\nvrid = 3\n",
        3,
        "instance `VI_1`: interface: expected an interface name (1-15 characters, no `/`, `:` or spaces), got `a-much-too-long-name`",
    );
    toml_fails(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 3\n",
        1,
        "instance VI_1: no virtual address to advertise",
    );
    toml_fails(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 3\nversion = 2\nvirtual_addresses = [\"2001:db8::1\"]\n",
        5,
        "instance VI_1: VRRPv2 is IPv4 only",
    );
}

#[test]
fn entry_errors_point_at_the_entry() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "excluded_addresses = [\n    \"10.0.0.1/24\",\n    \"10.0.0.300/24 dev eth1\",\n]",
            8,
            "instance `VI_1`: excluded_addresses: expected an IP address with an optional /prefix, got `10.0.0.300/24`",
        ),
        (
            "excluded_addresses = [{ address = \"10.0.0.1/24\", scope = \"planet\" }]",
            6,
            "instance `VI_1`: excluded_addresses 10.0.0.1/24: scope: expected global, site, link, host, nowhere or a number 0-255, got `planet`",
        ),
        (
            "routes = [\"10.0.0.0/8 via 2001:db8::1\"]",
            6,
            "instance `VI_1`: routes 10.0.0.0/8 via 2001:db8::1: mixes IPv4 and IPv6",
        ),
        (
            "routes = [{ destination = \"10.0.0.0/8\", table = 0 }]",
            6,
            "instance `VI_1`: routes 10.0.0.0/8 table 0: table: expected main, local, default or a number 1-4294967295, got `0`",
        ),
        (
            "track_interfaces = [{ name = \"eth1\", weight = 254 }]",
            6,
            "instance `VI_1`: track_interfaces eth1: weight: expected a number from -253 to 253, got `254`",
        ),
        (
            "track_scripts = [\"chk_missing\"]",
            6,
            "instance `VI_1`: track_script `chk_missing`: no script of that name",
        ),
        (
            "[[instance.track_reachability]]\naddress = \"gateway\"\ninterface = \"eth1\"",
            6,
            "instance `VI_1`: track_reachability: address: expected an IP address, got `gateway`",
        ),
        (
            "[[instance.track_reachability]]\naddress = \"192.0.2.254\"\ninterface = \"eth1\"\ninterval = 0",
            6,
            "instance `VI_1`: track_reachability: interval: expected seconds from 0.01 to 3600, got 0",
        ),
        (
            "[[instance.track_reachability]]\naddress = \"192.0.2.254\"\ninterface = \"eth1\"\nfall = 0",
            6,
            "instance `VI_1`: track_reachability: fall: expected a number 1-1000, got `0`",
        ),
    ];
    for (extra, line, message) in cases {
        toml_fails(&toml_instance(extra), *line, message);
    }
    toml_fails(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 3\nvirtual_addresses = [\n    \"192.0.2.2/24\",\n    \"2001:db8::2/64\",\n]\n",
        7,
        "instance VI_1: advertised addresses mix IPv4 and IPv6 (2001:db8::2)",
    );
}

#[test]
fn script_group_and_global_errors() {
    let script = |body: &str| format!("{}[[script]]\nname = \"chk\"\n{body}\n", toml_instance(""));
    // The script table starts at line 7.
    toml_fails(
        &script("command = \"\""),
        9,
        "script `chk`: command: expected a command, got an empty string",
    );
    toml_fails(
        &script("command = \"/bin/true\"\ninterval = 0"),
        10,
        "script `chk`: interval: expected seconds from 0.001 to 3600, got 0",
    );
    toml_fails(
        &script("command = \"/bin/true\"\nrise = 0"),
        10,
        "script `chk`: rise: expected a number 1-1000, got `0`",
    );
    toml_fails(
        &script("command = \"/bin/true\"\nweight = 300"),
        10,
        "script `chk`: weight: expected a number from -253 to 253, got `300`",
    );
    toml_fails(
        &script("command = \"/bin/true\"\ngroup = \"nogroup\""),
        10,
        "script `chk`: group needs user (a group alone names no user to run as)",
    );
    toml_fails(
        &script("command = \"/bin/true\"\nuser = \"\""),
        10,
        "script `chk`: user: expected a name, got an empty string",
    );
    toml_fails(
        "[global]\nnotify_timeout = 0\n",
        2,
        "notify_timeout: expected seconds from 0.001 to 3600, got 0",
    );
    toml_fails(
        "[global]\nscript_group = \"nogroup\"\n",
        2,
        "global: script_group needs script_user (a group alone names no user to run as)",
    );

    let group = |members: &str| {
        format!(
            "{}[[sync_group]]\nname = \"G\"\nmembers = [\n{members}\n]\n",
            toml_instance("")
        )
    };
    toml_fails(
        &group("    \"VI_1\",\n    \"VI_9\","),
        11,
        "sync group `G`: no instance named `VI_9`",
    );
    toml_fails(&group(""), 7, "sync group `G`: no members");
    toml_fails(
        &format!(
            "{}[[sync_group]]\nname = \"H\"\nmembers = [\"VI_1\"]\n",
            group("    \"VI_1\",")
        ),
        14,
        "sync group `H`: instance `VI_1` is already in sync group `G` (line 10); an instance can be in one group only",
    );
}

#[test]
fn duplicates() {
    let two = format!("{}{}", toml_instance(""), toml_instance(""));
    toml_fails(
        &two,
        7,
        "instance `VI_1` is defined twice (first at line 1)",
    );
    let same_vrid = format!(
        "{}{}",
        toml_instance("netns = \"r1\""),
        toml_instance("netns = \"r1\"").replace("VI_1", "VI_2")
    );
    toml_fails(
        &same_vrid,
        7,
        "instance `VI_2`: VRID 51 on eth0 in netns r1 (IPv4) is already used by instance `VI_1` (line 1)",
    );
    // Other namespaces are other routers.
    let other_netns = format!(
        "{}{}",
        toml_instance("netns = \"r1\""),
        toml_instance("netns = \"r2\"").replace("VI_1", "VI_2")
    );
    assert_eq!(toml_ok(&other_netns).config.instances.len(), 2);
    let scripts = format!(
        "{}[[script]]\nname = \"chk\"\ncommand = \"/bin/true\"\n[[script]]\nname = \"chk\"\ncommand = \"/bin/false\"\n",
        toml_instance("")
    );
    toml_fails(
        &scripts,
        10,
        "script `chk` is defined twice (first at line 7)",
    );
}
