//! `vrrp-agent status`: ask every running agent (one per status socket) and show one table.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use vrrp_agent::api::{self, client, table};

#[derive(clap::Args)]
pub struct Args {
    /// JSON instead of a table (an array with one report per agent).
    #[arg(long)]
    json: bool,
    /// Ask only this agent socket (repeatable); default: every socket in /run/vrrp-agent.
    #[arg(long = "socket", value_name = "PATH")]
    sockets: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let sockets = if args.sockets.is_empty() {
        client::sockets(Path::new(api::SOCKET_DIR))
    } else {
        args.sockets
    };
    if sockets.is_empty() {
        bail!(
            "no agent is running here (no status socket in {}); start one with `vrrp-agent run`",
            api::SOCKET_DIR
        );
    }
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for s in &sockets {
        match client::query(s) {
            Ok(r) => reports.push(r),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if reports.is_empty() {
        bail!("no agent answered: {}", errors.join("; "));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print!("{}", table::render(&reports));
    }
    for e in errors {
        eprintln!("warning: {e}");
    }
    Ok(())
}
