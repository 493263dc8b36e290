//! `keepalived ...` / `vrrp-agent keepalived ...`: the keepalived-compatible entry point.

use anyhow::{Result, bail};

use super::keepalived_args::{self, USAGE};

/// Runs with keepalived's arguments (everything after the program name).
pub fn main(args: &[String]) -> Result<()> {
    let parsed = match keepalived_args::parse(args) {
        Ok(p) => p,
        Err(e) => bail!("{e}\n\n{USAGE}"),
    };
    if parsed.help {
        eprint!("{USAGE}");
        return Ok(());
    }
    if parsed.version {
        // keepalived prints its version on stderr; Neutron reads it there.
        eprint!("{}", keepalived_args::version_text());
        return Ok(());
    }
    super::run_keepalived(parsed)
}
