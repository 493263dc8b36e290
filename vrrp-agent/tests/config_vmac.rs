//! `use_vmac` and `vmac_xmit_base` in both formats: keepalived's default macvlan names
//! (`vrrp.VRID`, then `vrrp6.VRID` for the IPv6 instance of the same VRID), a configured
//! name, `vmac_xmit_base` (forced with unicast peers, cleared in strict mode, ignored without
//! `use_vmac`, as keepalived 2.2.7 does), and the errors: a MAC address, a bad or taken name.

mod config_support;

use config_support::*;
use vrrp_agent::config::VmacSpec;

fn vmac(name: &str, xmit_base: bool) -> Option<VmacSpec> {
    Some(VmacSpec {
        name: name.into(),
        xmit_base,
    })
}

#[test]
fn keepalived_use_vmac_takes_keepalived_s_default_names() {
    let text = "\
vrrp_instance V4 {
    interface eth0
    virtual_router_id 7
    use_vmac
    virtual_ipaddress {
        192.0.2.1/24
    }
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 7
    use_vmac
    virtual_ipaddress {
        fe80::7
        2001:db8::7/64
    }
}
vrrp_instance NAMED {
    interface eth1
    virtual_router_id 8
    use_vmac vip-8
    vmac_xmit_base
    virtual_ipaddress {
        198.51.100.1/24
    }
}
vrrp_instance PLAIN {
    interface eth1
    virtual_router_id 9
    virtual_ipaddress {
        198.51.100.9/24
    }
}
";
    let loaded = keepalived_ok(text);
    assert_eq!(loaded.warnings, []);
    let c = &loaded.config;
    assert_eq!(instance(c, "V4").vmac, vmac("vrrp.7", false));
    assert_eq!(instance(c, "V6").vmac, vmac("vrrp6.7", false));
    assert_eq!(instance(c, "NAMED").vmac, vmac("vip-8", true));
    assert_eq!(instance(c, "PLAIN").vmac, None, "shared MAC unless asked");
    assert_eq!(instance(c, "V4").vmac_mac(), Some([0, 0, 0x5e, 0, 1, 7]));
    assert_eq!(instance(c, "V6").vmac_mac(), Some([0, 0, 0x5e, 0, 2, 7]));
    let summary = vrrp_agent::config::summary(c);
    assert!(
        summary.contains("instance V4: netns -, interface eth0 (use_vmac vrrp.7), VRID 7,"),
        "{summary}"
    );
    assert!(
        summary.contains("interface eth1 (use_vmac vip-8, adverts on eth1), VRID 8,"),
        "{summary}"
    );
    assert!(summary.contains("interface eth1, VRID 9,"), "{summary}");
}

#[test]
fn keepalived_vmac_xmit_base_follows_keepalived_s_rules() {
    let unicast = keepalived_ok(&ka_instance(
        "    use_vmac\n    unicast_src_ip 192.0.2.10\n    unicast_peer {\n        192.0.2.11\n    }",
    ));
    assert_eq!(
        instance(&unicast.config, "VI_1").vmac,
        vmac("vrrp.51", true)
    );
    assert_eq!(
        warning_lines(&unicast.warnings),
        [(
            7,
            "instance `VI_1`: use_vmac with unicast peers sends and receives adverts on eth0 \
             (vmac_xmit_base), as keepalived does"
                .to_string()
        )]
    );
    let alone = keepalived_ok(&ka_instance("    vmac_xmit_base"));
    assert_eq!(instance(&alone.config, "VI_1").vmac, None);
    assert_eq!(
        warning_lines(&alone.warnings),
        [(
            7,
            "vrrp_instance VI_1: vmac_xmit_base without use_vmac is ignored".to_string()
        )]
    );
    let strict = keepalived_ok(&ka_instance(
        "    use_vmac\n    vmac_xmit_base\n    strict_mode",
    ));
    assert_eq!(
        instance(&strict.config, "VI_1").vmac,
        vmac("vrrp.51", false)
    );
    assert!(
        strict.warnings.iter().any(|w| w.line == 8
            && w.message
                == "vrrp_instance VI_1: vmac_xmit_base is incompatible with strict mode; \
                    ignored, as keepalived resets it"),
        "{:?}",
        strict.warnings
    );
}

#[test]
fn keepalived_use_vmac_errors_name_the_line() {
    ka_fails(
        &ka_instance("    use_vmac 00:00:5e:00:01:33"),
        7,
        "use_vmac: a MAC address (00:00:5e:00:01:33) is not supported: the macvlan has the \
         RFC 9568 virtual MAC 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID)",
    );
    ka_fails(
        &ka_instance("    use_vmac a-name-far-too-long"),
        7,
        "use_vmac: expected an interface name (1-15 characters, no `/`, `:` or spaces), got \
         `a-name-far-too-long`",
    );
    ka_fails(
        &ka_instance("    use_vmac eth0"),
        7,
        "instance `VI_1`: use_vmac eth0: that is the interface of an instance; the macvlan \
         needs a name of its own",
    );
    let twice = format!(
        "{}{}",
        ka_instance("    use_vmac vm"),
        ka_instance("    use_vmac vm")
            .replace("VI_1", "VI_2")
            .replace("51", "52")
    );
    ka_fails(
        &twice,
        15,
        "instance `VI_2`: use_vmac vm: instance `VI_1` (line 7) already uses that name",
    );
}

#[test]
fn toml_use_vmac_is_a_flag_or_a_name() {
    let c = toml_ok(&format!(
        "{}{}{}",
        toml_instance("use_vmac = true"),
        toml_instance("use_vmac = \"vm-2\"\nvmac_xmit_base = true")
            .replace("VI_1", "VI_2")
            .replace("51", "52"),
        toml_instance("use_vmac = false")
            .replace("VI_1", "VI_3")
            .replace("51", "53"),
    ))
    .config;
    assert_eq!(instance(&c, "VI_1").vmac, vmac("vrrp.51", false));
    assert_eq!(instance(&c, "VI_2").vmac, vmac("vm-2", true));
    assert_eq!(instance(&c, "VI_3").vmac, None);
    toml_fails(
        &toml_instance("vmac_xmit_base = true"),
        6,
        "instance `VI_1`: vmac_xmit_base needs use_vmac",
    );
    toml_fails(
        &toml_instance("use_vmac = \"has space\""),
        6,
        "instance `VI_1`: use_vmac: expected an interface name (1-15 characters, no `/`, `:` \
         or spaces), got `has space`",
    );
}
