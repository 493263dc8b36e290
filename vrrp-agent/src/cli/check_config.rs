//! `vrrp-agent check-config FILE`: validate a configuration (either format) and summarize it.

use std::path::PathBuf;

use anyhow::Result;
use vrrp_agent::config;

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file: native TOML or keepalived.conf.
    file: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let loaded = config::load(&args.file)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    for n in &loaded.notes {
        eprintln!("note: {n}");
    }
    print!("{}", config::summary(&loaded.config));
    println!(
        "{}: OK ({:?} format, {} instance(s), {} warning(s))",
        args.file.display(),
        loaded.format,
        loaded.config.instances.len(),
        loaded.warnings.len()
    );
    Ok(())
}
