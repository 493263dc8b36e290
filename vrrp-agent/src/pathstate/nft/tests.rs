//! The nf_tables reader against dumps captured from a real kernel (iptables-nft 1.8.9 loading
//! Neutron's rules, `nft -f` loading a native ruleset; see `tests/fixtures/netfilter`), and
//! against hand-made expression lists for what those dumps do not contain.

use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, Expressions, Immediate, Lookup, Meta, MetaKey, Operator, Payload,
    Register, Verdict, VerdictAttribute,
};

use super::{
    dump::{build, rule_of},
    expr::{Expr, decode_rule},
    socket::{Message, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE},
};
use crate::pathstate::{
    ruleset::{
        Action, Backend, ChainType, Cond, CtStates, Family, Hook, IfaceMatch, Policy, Rule, Ruleset,
    },
    testdata::{assert_table, fixture, parse_save, unhex},
};

/// Messages of a captured dump (`nft <type> <family> <hex attributes>` lines).
fn messages(name: &str) -> Vec<Message> {
    fixture(name)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == "nft").then_some(())?;
            Some(Message {
                msg_type: f.next()?.parse().ok()?,
                family: f.next()?.parse().ok()?,
                attrs: unhex(f.next().unwrap_or("")),
            })
        })
        .collect()
}

fn ruleset(name: &str) -> Ruleset {
    let m = messages(name);
    let of = |t: u8| -> Vec<Message> { m.iter().filter(|x| x.msg_type == t).cloned().collect() };
    build(
        &of(NFT_MSG_NEWTABLE),
        &of(NFT_MSG_NEWCHAIN),
        &of(NFT_MSG_NEWRULE),
    )
    .expect("build")
}

fn rules_of<'a>(rs: &'a Ruleset, table: &str, chain: &str) -> &'a [Rule] {
    &rs.chains
        .iter()
        .find(|c| c.chain.table == table && c.chain.chain == chain)
        .unwrap_or_else(|| panic!("no chain {table} {chain}"))
        .rules
}

#[test]
fn neutron_ipv4_rules_from_iptables_nft_read_as_iptables_save_prints_them() {
    let rs = ruleset("neutron-v4.nft.hex");
    let save = parse_save(&fixture("neutron-v4.rules"));
    assert_eq!(save.len(), 4);
    for t in &save {
        assert_table(&rs, Backend::Nftables, Family::Ipv4, t);
    }
    // The model, not only its rendering, for the rules the analysis cares most about.
    let pre = rules_of(&rs, "nat", "neutron-l3-agent-PREROUTING");
    assert_eq!(
        pre[0].conds[0],
        Cond::InIface {
            iface: IfaceMatch {
                name: "qr-".into(),
                prefix: true
            },
            negated: false
        }
    );
    let post = rules_of(&rs, "nat", "neutron-l3-agent-POSTROUTING");
    assert_eq!(
        post[0].conds,
        vec![
            Cond::OutIface {
                iface: IfaceMatch {
                    name: "qg-5f6a7b8c-9d".into(),
                    prefix: false
                },
                negated: true
            },
            Cond::CtState {
                states: CtStates(CtStates::DNAT),
                negated: true
            }
        ]
    );
    let snat = rules_of(&rs, "nat", "neutron-l3-agent-float-snat");
    assert!(matches!(&snat[0].actions[..], [Action::Snat(r)] if r.random_fully && !r.random));
    let bottom = rules_of(&rs, "nat", "neutron-postrouting-bottom");
    match &bottom[0].actions[..] {
        [Action::Jump(r)] => {
            assert_eq!(r.backend, Backend::Nftables);
            assert_eq!(r.family, Family::Ipv4);
            assert_eq!(r.table, "nat");
            assert_eq!(r.chain, "neutron-l3-agent-snat");
        }
        other => panic!("{other:?}"),
    }

    // Base chains: hooks, priorities and types as iptables-nft registered them.
    let base = |table: &str, chain: &str| {
        rs.base_chains
            .iter()
            .find(|b| b.chain.table == table && b.chain.chain == chain)
            .unwrap_or_else(|| panic!("{table} {chain} is not a base chain"))
    };
    assert_eq!(base("raw", "PREROUTING").priority, -300);
    assert_eq!(base("mangle", "PREROUTING").priority, -150);
    assert_eq!(base("mangle", "OUTPUT").chain_type, ChainType::Route);
    assert_eq!(base("mangle", "INPUT").chain_type, ChainType::Filter);
    assert_eq!(base("nat", "PREROUTING").priority, -100);
    assert_eq!(base("nat", "PREROUTING").chain_type, ChainType::Nat);
    assert_eq!(base("nat", "OUTPUT").priority, -100);
    assert_eq!(base("nat", "INPUT").priority, 100);
    assert_eq!(base("nat", "POSTROUTING").priority, 100);
    assert_eq!(base("nat", "POSTROUTING").hook, Hook::Postrouting);
    assert_eq!(base("filter", "FORWARD").priority, 0);
    assert_eq!(base("filter", "FORWARD").hook, Hook::Forward);
    assert_eq!(rs.base_chains.len(), 5 + 2 + 3 + 4);
}

#[test]
fn neutron_ipv6_rules_from_ip6tables_nft_read_as_ip6tables_save_prints_them() {
    let rs = ruleset("neutron-v6.nft.hex");
    for t in &parse_save(&fixture("neutron-v6.rules")) {
        assert_table(&rs, Backend::Nftables, Family::Ipv6, t);
    }
    let input = rules_of(&rs, "filter", "neutron-l3-agent-INPUT");
    assert!(input[0].conds.contains(&Cond::Dst {
        net: "fe80::a9fe:a9fe/128".parse().unwrap(),
        negated: false
    }));
    assert!(
        rs.base_chains
            .iter()
            .all(|b| b.chain.family == Family::Ipv6)
    );
}

#[test]
fn a_native_ruleset_with_sets_nat_and_a_netdev_chain() {
    let rs = ruleset("native.nft.hex");
    let pre: Vec<String> = rules_of(&rs, "vxnative", "pre")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        pre[0],
        "-i qr-+ -s 10.0.0.0/8 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    );
    // A /20 is a masked load; the range 1000-2000 came as two comparisons.
    assert_eq!(pre[1], "-s 10.0.16.0/20 -p tcp --dport 1000:2000 -j DROP");
    // A named set: unknown, with the rule still there and its verdict known.
    let lookup = &rules_of(&rs, "vxnative", "pre")[2];
    // (The `meta nfproto ipv4` the set's type brought stays unknown too: no address
    // condition of the rule implies it.)
    assert!(
        matches!(&lookup.conds[..], [Cond::Unknown(f), Cond::Unknown(w)]
            if f.contains("nfproto") && w.contains("@blocked")),
        "{lookup}"
    );
    assert_eq!(lookup.actions, vec![Action::Drop]);
    assert_eq!(pre[3], "-j MARK --set-xmark 0x10/0xffffffff");
    assert_eq!(pre[4], "-d 2001:db8::/32 -p udp --sport 53 -j filtered");
    assert_eq!(
        rules_of(&rs, "vxnative", "filtered")
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["-m conntrack --ctstate INVALID -j DROP", "-j RETURN"]
    );
    let post: Vec<String> = rules_of(&rs, "vxnative", "post")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        post,
        [
            "-o qg-1 -s 10.0.10.0/24 -j SNAT --to-source 203.0.113.10 --random-fully",
            "-o qg-1 -j MASQUERADE"
        ]
    );
    let ing = rs
        .base_chains
        .iter()
        .find(|b| b.chain.chain == "ing")
        .expect("netdev chain");
    assert_eq!(ing.chain.family, Family::Netdev);
    assert_eq!(ing.hook, Hook::Ingress);
    assert_eq!(ing.device.as_deref(), Some("vxd0"));
    assert_eq!(ing.policy, Policy::Drop);
    // `ip daddr` in a netdev chain depends on `meta protocol ip`, implied by the address.
    assert_eq!(
        rules_of(&rs, "vxdev", "ing")[0].to_string(),
        "-d 192.0.2.7/32 -j DROP"
    );
    let pre_base = rs
        .base_chains
        .iter()
        .find(|b| b.chain.chain == "pre")
        .unwrap();
    assert_eq!(
        (pre_base.chain.family, pre_base.priority),
        (Family::Inet, -150)
    );
}

#[test]
fn broken_and_truncated_rule_messages_never_panic_nor_vanish() {
    let all: Vec<Message> = ["neutron-v4.nft.hex", "neutron-v6.nft.hex", "native.nft.hex"]
        .iter()
        .flat_map(|f| messages(f))
        .filter(|m| m.msg_type == NFT_MSG_NEWRULE)
        .collect();
    assert!(all.len() > 50);
    let mut decoded = 0;
    for m in &all {
        let fam = super::dump::family(m.family).unwrap();
        for cut in (0..m.attrs.len()).step_by(3) {
            let _ = rule_of(fam, &m.attrs[..cut]);
        }
        for i in (0..m.attrs.len()).step_by(5) {
            for x in [0x00, 0xff, 0x41] {
                let mut a = m.attrs.clone();
                a[i] = x;
                if let Ok((_, _, rule)) = rule_of(fam, &a) {
                    decoded += 1;
                    // Whatever it became, it is a rule of something.
                    let _ = rule.to_string();
                }
            }
        }
    }
    assert!(decoded > 0);
}

// --- hand-made expression lists ---------------------------------------------------------

fn e(name: &str, data: Expressions) -> Expr {
    Expr::Decoded {
        name: name.into(),
        data: Some(data),
    }
}

fn meta_load(key: MetaKey) -> Expr {
    e(
        "meta",
        Expressions::Meta(vec![
            Meta::Key(key),
            Meta::DestinationRegister(Register::Reg1),
        ]),
    )
}

fn cmp(op: Operator, data: &[u8]) -> Expr {
    e(
        "cmp",
        Expressions::Cmp(vec![
            Cmp::SourceRegister(Register::Reg1),
            Cmp::Op(op),
            Cmp::Data(DataAttribute::Value(data.to_vec())),
        ]),
    )
}

fn verdict(code: Verdict) -> Expr {
    e(
        "immediate",
        Expressions::Immediate(vec![
            Immediate::DestinationRegister(Register::Verdict),
            Immediate::Data(DataAttribute::Verdict(vec![VerdictAttribute::Code(code)])),
        ]),
    )
}

fn other(name: &str, attrs: &[(u16, Vec<u8>)]) -> Expr {
    e(
        name,
        Expressions::Other {
            expression_type: name.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| DefaultNla::new(*k, v.clone()))
                .collect(),
        },
    )
}

fn be(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn rule(exprs: &[Expr]) -> Rule {
    decode_rule(Family::Ipv4, "t", exprs, None)
}

#[test]
fn a_broken_expression_is_an_unknown_action_in_place() {
    let r = rule(&[
        meta_load(MetaKey::L4Proto),
        cmp(Operator::Equal, &[6]),
        Expr::Broken("bad nested attribute".into()),
        verdict(Verdict::Other(1)),
    ]);
    assert_eq!(
        r.conds,
        vec![Cond::Proto {
            proto: 6,
            negated: false
        }]
    );
    assert!(matches!(&r.actions[..], [Action::Unknown(w), Action::Accept] if w.contains("bad")));
}

#[test]
fn a_test_after_an_action_is_an_unknown_action_not_a_condition() {
    let r = rule(&[
        e(
            "immediate",
            Expressions::Immediate(vec![
                Immediate::DestinationRegister(Register::Reg1),
                Immediate::Data(DataAttribute::Value(5u32.to_ne_bytes().to_vec())),
            ]),
        ),
        e(
            "meta",
            Expressions::Meta(vec![
                Meta::Key(MetaKey::Mark),
                Meta::SourceRegister(Register::Reg1),
            ]),
        ),
        meta_load(MetaKey::L4Proto),
        cmp(Operator::Equal, &[17]),
        verdict(Verdict::Other(0)),
    ]);
    assert!(r.conds.is_empty());
    assert_eq!(
        r.actions[0],
        Action::SetMark {
            value: 5,
            mask: u32::MAX
        }
    );
    assert!(matches!(&r.actions[1], Action::Unknown(w) if w.contains("-p udp")));
    assert_eq!(r.actions[2], Action::Drop);
    // After a log only, the test is still a condition of the rule.
    let r = rule(&[
        other("log", &[(2, b"x\0".to_vec())]),
        meta_load(MetaKey::L4Proto),
        cmp(Operator::Equal, &[17]),
        verdict(Verdict::Other(0)),
    ]);
    assert_eq!(r.to_string(), "-p udp -j LOG --log-prefix \"x\" -j DROP");
}

#[test]
fn mark_operations_follow_the_registers() {
    let bitwise = |mask: u32, xor: u32| {
        e(
            "bitwise",
            Expressions::Bitwise(vec![
                Bitwise::SourceRegister(Register::Reg1),
                Bitwise::DestinationRegister(Register::Reg1),
                Bitwise::Length(4),
                Bitwise::Mask(DataAttribute::Value(mask.to_ne_bytes().to_vec())),
                Bitwise::Xor(DataAttribute::Value(xor.to_ne_bytes().to_vec())),
            ]),
        )
    };
    let set_mark = e(
        "meta",
        Expressions::Meta(vec![
            Meta::Key(MetaKey::Mark),
            Meta::SourceRegister(Register::Reg1),
        ]),
    );
    // meta mark set mark and 0xffff0000 xor 0x1  ==  MARK --set-xmark 0x1/0xffff
    let r = rule(&[
        meta_load(MetaKey::Mark),
        bitwise(0xffff_0000, 1),
        set_mark.clone(),
    ]);
    assert_eq!(
        r.actions,
        vec![Action::SetMark {
            value: 1,
            mask: 0xffff
        }]
    );
    // ct mark set mark and 0xffff0000  ==  CONNMARK --save-mark --nfmask 0xffff0000
    let ct_set = other("ct", &[(2, be(3)), (4, be(1))]);
    let r = rule(&[meta_load(MetaKey::Mark), bitwise(0xffff_0000, 0), ct_set]);
    assert_eq!(
        r.actions,
        vec![Action::SaveMark {
            nfmask: 0xffff_0000,
            ctmask: u32::MAX
        }]
    );
    // meta mark set ct mark: needs a connection (the ct load ends the rule without one).
    let ct_load = other("ct", &[(2, be(3)), (1, be(1))]);
    let r = rule(&[ct_load.clone(), set_mark, verdict(Verdict::Other(1))]);
    assert_eq!(
        r.conds,
        vec![Cond::CtState {
            states: CtStates(CtStates::INVALID | CtStates::UNTRACKED),
            negated: true
        }]
    );
    assert_eq!(
        r.actions,
        vec![
            Action::RestoreMark {
                nfmask: u32::MAX,
                ctmask: u32::MAX
            },
            Action::Accept
        ]
    );
    // ct mark & 0xff == 0x3
    let r = rule(&[
        ct_load,
        bitwise(0xff, 0),
        cmp(Operator::Equal, &3u32.to_ne_bytes()),
    ]);
    assert_eq!(r.to_string(), "-m connmark --mark 0x3/0xff");
}

#[test]
fn ct_status_and_state_tests() {
    let status = other("ct", &[(2, be(2)), (1, be(1))]);
    let band = |m: u32| {
        e(
            "bitwise",
            Expressions::Bitwise(vec![
                Bitwise::SourceRegister(Register::Reg1),
                Bitwise::DestinationRegister(Register::Reg1),
                Bitwise::Length(4),
                Bitwise::Mask(DataAttribute::Value(m.to_ne_bytes().to_vec())),
                Bitwise::Xor(DataAttribute::Value(vec![0; 4])),
            ]),
        )
    };
    // ct status dnat
    let r = rule(&[status.clone(), band(0x20), cmp(Operator::NotEqual, &[0; 4])]);
    assert_eq!(r.to_string(), "-m conntrack --ctstate DNAT");
    // ct status & dnat == 0: not DNATed, and with a connection (else the load ends the rule)
    let r = rule(&[status, band(0x20), cmp(Operator::Equal, &[0; 4])]);
    assert_eq!(
        r.to_string(),
        "-m conntrack ! --ctstate INVALID,UNTRACKED -m conntrack ! --ctstate DNAT"
    );
    // ct state new (a plain comparison with one bit)
    let state = other("ct", &[(2, be(0)), (1, be(1))]);
    let r = rule(&[state.clone(), cmp(Operator::Equal, &8u32.to_ne_bytes())]);
    assert_eq!(r.to_string(), "-m conntrack --ctstate NEW");
    // an unknown bit: unknown
    let r = rule(&[state, cmp(Operator::Equal, &0x100u32.to_ne_bytes())]);
    assert!(matches!(&r.conds[..], [Cond::Unknown(_)]));
}

#[test]
fn unattributable_tests_and_unmodelled_effects_are_unknown() {
    // cmp on a register nothing loaded.
    let r = rule(&[cmp(Operator::Equal, &[1]), verdict(Verdict::Other(1))]);
    assert!(matches!(&r.conds[..], [Cond::Unknown(w)] if w.contains("unloaded")));
    // meta pkttype: not in the model.
    let r = rule(&[meta_load(MetaKey::PacketType), cmp(Operator::Equal, &[1])]);
    assert!(matches!(&r.conds[..], [Cond::Unknown(w)] if w.contains("pkttype")));
    // notrack, queue, tproxy, flow offload: unknown actions, registers forgotten.
    for name in [
        "notrack",
        "queue",
        "tproxy",
        "flow_offload",
        "dup",
        "fwd",
        "synproxy",
    ] {
        let r = rule(&[
            meta_load(MetaKey::L4Proto),
            other(name, &[]),
            cmp(Operator::Equal, &[6]),
        ]);
        assert!(
            matches!(&r.actions[..], [Action::Unknown(w), Action::Unknown(_)] if w == name),
            "{name}: {r:?}"
        );
    }
    // A payload write.
    let r = rule(&[e(
        "payload",
        Expressions::Payload(vec![
            Payload::SourceRegister(Register::Reg1),
            Payload::Base(1),
            Payload::Offset(8),
            Payload::Len(1),
        ]),
    )]);
    assert!(matches!(&r.actions[..], [Action::Unknown(w)] if w.contains("payload write")));
    // A verdict map.
    let r = rule(&[
        meta_load(MetaKey::Iifname),
        e(
            "lookup",
            Expressions::Lookup(vec![
                Lookup::Set("vm".into()),
                Lookup::SourceRegister(Register::Reg1),
                Lookup::DestinationRegister(Register::Verdict),
            ]),
        ),
    ]);
    assert!(matches!(&r.actions[..], [Action::Unknown(w)] if w.contains("vmap @vm")));
    // A load never tested may still end the rule (no such header): an unknown condition.
    let r = rule(&[
        e(
            "payload",
            Expressions::Payload(vec![
                Payload::DestinationRegister(Register::Reg1),
                Payload::Base(2),
                Payload::Offset(0),
                Payload::Len(2),
            ]),
        ),
        verdict(Verdict::Other(1)),
    ]);
    assert!(matches!(&r.conds[..], [Cond::Unknown(w)] if w.contains("not tested")));
    assert_eq!(r.actions, vec![Action::Accept]);
    // Ports without a known port protocol: unknown.
    let r = rule(&[
        e(
            "payload",
            Expressions::Payload(vec![
                Payload::DestinationRegister(Register::Reg1),
                Payload::Base(2),
                Payload::Offset(2),
                Payload::Len(2),
            ]),
        ),
        cmp(Operator::Equal, &80u16.to_be_bytes()),
    ]);
    assert!(matches!(&r.conds[..], [Cond::Unknown(_)]));
    // A verdict code the model has no action for.
    let r = rule(&[verdict(Verdict::Other(3))]);
    assert!(matches!(&r.actions[..], [Action::Unknown(_)]));
    // Continue is no action; goto is.
    let r = rule(&[
        verdict(Verdict::Continue),
        e(
            "immediate",
            Expressions::Immediate(vec![
                Immediate::DestinationRegister(Register::Verdict),
                Immediate::Data(DataAttribute::Verdict(vec![
                    VerdictAttribute::Code(Verdict::Goto),
                    VerdictAttribute::Chain("x".into()),
                ])),
            ]),
        ),
    ]);
    assert_eq!(r.to_string(), "-g x");
}

#[test]
fn interface_names_exact_prefix_and_odd() {
    let r = |data: &[u8]| rule(&[meta_load(MetaKey::Oifname), cmp(Operator::Equal, data)]);
    assert_eq!(r(b"qg-1\0").to_string(), "-o qg-1");
    assert_eq!(r(b"qg-1\0\0\0\0\0\0\0\0\0\0\0\0").to_string(), "-o qg-1");
    assert_eq!(r(b"qg-").to_string(), "-o qg-+");
    // Bytes after the NUL can never match a name: unknown.
    assert!(matches!(&r(b"qg\0x").conds[..], [Cond::Unknown(_)]));
    assert!(matches!(&r(&[b'a'; 16]).conds[..], [Cond::Unknown(_)]));
}

#[test]
fn nat_from_immediates_and_not_from_maps() {
    let imm = |reg: Register, v: Vec<u8>| {
        e(
            "immediate",
            Expressions::Immediate(vec![
                Immediate::DestinationRegister(reg),
                Immediate::Data(DataAttribute::Value(v)),
            ]),
        )
    };
    // dnat to 10.0.0.1-10.0.0.9:8080 persistent
    let r = rule(&[
        imm(Register::Reg1, vec![10, 0, 0, 1]),
        imm(Register::Reg2, vec![10, 0, 0, 9]),
        imm(Register::Reg3, 8080u16.to_be_bytes().to_vec()),
        other(
            "nat",
            &[
                (1, be(1)),
                (2, be(2)),
                (3, be(1)),
                (4, be(2)),
                (5, be(3)),
                (7, be(8)),
            ],
        ),
    ]);
    assert_eq!(
        r.to_string(),
        "-j DNAT --to-destination 10.0.0.1-10.0.0.9:8080 --persistent"
    );
    // dnat to ip saddr map { ... }: the address comes from a lookup.
    let r = rule(&[
        e(
            "payload",
            Expressions::Payload(vec![
                Payload::DestinationRegister(Register::Reg1),
                Payload::Base(1),
                Payload::Offset(12),
                Payload::Len(4),
            ]),
        ),
        e(
            "lookup",
            Expressions::Lookup(vec![
                Lookup::Set("__map0".into()),
                Lookup::SourceRegister(Register::Reg1),
                Lookup::DestinationRegister(Register::Reg1),
            ]),
        ),
        other("nat", &[(1, be(1)), (2, be(2)), (3, be(1))]),
    ]);
    assert!(matches!(&r.actions[..], [Action::Unknown(w)] if w.contains("non-constant")));
    // redirect to :9697
    let r = rule(&[
        imm(Register::Reg1, 9697u16.to_be_bytes().to_vec()),
        other("redir", &[(1, be(1))]),
    ]);
    assert_eq!(r.to_string(), "-j REDIRECT --to-ports 9697");
}

#[test]
fn rule_comments_from_user_data() {
    // libnftnl TLV: type 0 (comment), length, NUL-terminated text.
    let mut udata = vec![0u8, 6];
    udata.extend_from_slice(b"hello\0");
    let r = decode_rule(
        Family::Ipv4,
        "t",
        &[verdict(Verdict::Other(1))],
        Some(&udata),
    );
    assert_eq!(r.to_string(), "-m comment --comment \"hello\" -j ACCEPT");
}
