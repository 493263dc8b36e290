//! Property tests: neither the keepalived parser nor the TOML loader panics on arbitrary
//! text, config-like token soup, or mutations of the real fixtures and examples; whatever
//! they accept passes the state machine's validation, and every diagnostic points at a line
//! of the input.

mod config_support;

use std::path::Path;

use config_support::*;
use proptest::prelude::*;
use vrrp_agent::config::{ConfigError, Loaded, detect, parse_keepalived, parse_toml, summary};

/// Every fixture and example text: the seeds for mutation.
fn seeds() -> Vec<String> {
    let mut paths = files_ending(&config_fixture(""), ".conf");
    paths.extend(files_ending(&keepalived_fixtures_dir(), ".conf"));
    paths.extend(files_ending(&examples_dir(), ".toml"));
    assert!(paths.len() >= 19, "{paths:?}");
    paths.iter().map(|p| read(p)).collect()
}

/// Checks what a parser returned against its input.
fn check(text: &str, result: Result<Loaded, ConfigError>) -> Result<(), TestCaseError> {
    let lines = text.split('\n').count();
    match result {
        Ok(loaded) => {
            for inst in &loaded.config.instances {
                prop_assert_eq!(inst.vrrp.validate(), Ok(()));
                prop_assert_eq!(inst.track.len(), inst.vrrp.tracked.len());
            }
            for w in &loaded.warnings {
                prop_assert!(
                    w.line <= lines,
                    "warning line {} of {}: {}",
                    w.line,
                    lines,
                    w
                );
                prop_assert!(!w.message.is_empty());
            }
            let _ = summary(&loaded.config);
        }
        Err(e) => {
            prop_assert!(e.line <= lines, "error line {} of {}: {}", e.line, lines, e);
            prop_assert!(!e.message.is_empty());
        }
    }
    Ok(())
}

fn both(text: &str) -> Result<(), TestCaseError> {
    check(text, parse_keepalived(text, Path::new("p.conf")))?;
    check(text, parse_toml(text, Path::new("p.toml")))?;
    let _ = detect(Path::new("p.conf"), text);
    Ok(())
}

const TOKENS: &[&str] = &[
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "G",
    "group",
    "global_defs",
    "interface",
    "eth0",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "state",
    "MASTER",
    "BACKUP",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "track_interface",
    "track_script",
    "weight",
    "-10",
    "reverse",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "via",
    "dev",
    "scope",
    "link",
    "no_track",
    "protocol",
    "static",
    "table",
    "metric",
    "src",
    "unicast_peer",
    "unicast_src_ip",
    "native_ipv6",
    "notify",
    "notify_master",
    "garp_master_delay",
    "script",
    "interval",
    "fall",
    "rise",
    "timeout",
    "192.0.2.1/24",
    "2001:db8::1/64",
    "0.0.0.0/0",
    "default",
    "fe80::1/64",
    "1",
    "2",
    "3",
    "255",
    "0.05",
    "300",
    "{",
    "}",
    "\"",
    "#",
    "!",
    "\\",
    "\n",
    "\n",
    "\n",
    " ",
    "\t",
    "[[instance]]",
    "[global]",
    "[[script]]",
    "[[sync_group]]",
    "name",
    "=",
    "vrid",
    "\"eth0\"",
    "[",
    "]",
    ",",
    "{ address = \"10.0.0.1\" }",
    "true",
    "1.5",
    "netns",
    "virtual_addresses",
    "routes",
    "track_reachability",
    "[[instance.track_reachability]]",
    "address",
    "garp",
    "members",
    "é",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|t| t.join(" "))
}

/// One edit of a text, on character boundaries.
#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: &'static str },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop::sample::select(TOKENS))
            .prop_map(|(at, token)| Edit::Insert { at, token }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    match *e {
        Edit::Delete { at, len } => {
            let at = at % n;
            let end = (at + len).min(chars.len());
            chars[..at.min(chars.len())]
                .iter()
                .chain(&chars[end..])
                .collect()
        }
        Edit::Insert { at, token } => {
            let at = (at % n).min(chars.len());
            let mut s: String = chars[..at].iter().collect();
            s.push_str(token);
            s.extend(&chars[at..]);
            s
        }
        Edit::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let i = line % lines.len();
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Edit::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let len = lines.len();
            lines.swap(a % len, b % len);
            lines.join("\n")
        }
        Edit::Truncate { at } => chars[..(at % n).min(chars.len())].iter().collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        both(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        both(&text)?;
    }

    #[test]
    fn mutated_real_configs_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let seeds = seeds();
        let mut text = seed.get(&seeds).clone();
        for e in &edits {
            text = apply(&text, e);
        }
        both(&text)?;
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let braces = "a {\n".repeat(100_000);
    let err = parse_keepalived(&braces, Path::new("p.conf")).unwrap_err();
    assert_eq!(err.line, 16);
    let arrays = format!("x = {}", "[".repeat(100_000));
    assert!(parse_toml(&arrays, Path::new("p.toml")).is_err());
    let tables = format!("x = {}", "{ a = ".repeat(100_000));
    assert!(parse_toml(&tables, Path::new("p.toml")).is_err());
}

#[test]
fn every_seed_parses_as_its_own_format() {
    // The mutation seeds are all valid (the verbatim AH text too, since AH is supported), so
    // mutations start from accepted configurations.
    let mut failures = 0;
    for text in seeds() {
        let ok = parse_keepalived(&text, Path::new("s.conf")).is_ok()
            || parse_toml(&text, Path::new("s.toml")).is_ok();
        failures += usize::from(!ok);
    }
    assert_eq!(failures, 0, "every seed is accepted");
}
