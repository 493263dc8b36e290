//! `vrrp-agent check-config [FILE] [--settings SETTINGS]`: validate a configuration (either
//! format) and summarize it, and/or validate the keepalived entry point's settings file and
//! show the settings in force. Also says what the agent would find about the configuration's
//! scripts on this machine (their users, and their paths under `enable_script_security`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use vrrp_agent::{
    config::{self, settings::Settings},
    runtime::script_policy::{self, Level},
};

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file: native TOML or keepalived.conf.
    file: Option<PathBuf>,
    /// Also (or only) check the keepalived entry point's settings file (the one a
    /// `keepalived` process would read: $VRRP_AGENT_SETTINGS, else
    /// /etc/vrrp-agent/keepalived.toml; `--settings` alone names that one).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    settings: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    if args.file.is_none() && args.settings.is_none() {
        bail!("nothing to check: give a configuration file, --settings, or both");
    }
    if let Some(file) = &args.file {
        let loaded = config::load(file)?;
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        for n in &loaded.notes {
            eprintln!("note: {n}");
        }
        // What the agent would say about the scripts on this machine (users, paths).
        for f in script_policy::prepare(&mut loaded.config.clone()) {
            let level = match f.level {
                Level::Warn => "warning",
                Level::Error => "error",
            };
            eprintln!("{level}: {}", f.message);
        }
        print!("{}", config::summary(&loaded.config));
        println!(
            "{}: OK ({:?} format, {} instance(s), {} warning(s))",
            file.display(),
            loaded.format,
            loaded.config.instances.len(),
            loaded.warnings.len()
        );
    }
    if let Some(path) = &args.settings {
        let path = if path.as_os_str() == "-" {
            Settings::path()
        } else {
            path.clone()
        };
        let settings = Settings::load(&path)?;
        let origin = if path.exists() {
            "read"
        } else {
            "absent: defaults"
        };
        println!("{} ({origin}): OK", path.display());
        println!("settings in force: {}", settings.summary());
    }
    Ok(())
}
