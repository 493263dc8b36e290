//! Reading a configuration file: the format is TOML for a `.toml` name, or for content that
//! parses as TOML with an `[[instance]]` or `[global]` table; keepalived.conf otherwise.
//!
//! Imports `super::{keepalived, native, types}`.

use std::path::Path;

use super::{
    keepalived, native,
    types::{AgentConfig, ConfigError, ConfigWarning},
};

/// Which syntax a file was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The native TOML format.
    Toml,
    /// keepalived.conf (the subset Neutron writes).
    Keepalived,
}

/// A validated configuration, what was worth a warning, what was only worth a note (settings
/// accepted without effect that generated configurations always carry, such as Neutron's
/// `notification_email_from`: say it once, quietly), and the syntax it was read as.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub config: AgentConfig,
    pub warnings: Vec<ConfigWarning>,
    pub notes: Vec<ConfigWarning>,
    pub format: Format,
}

/// Reads, parses and validates the file at `path` (either format).
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read the configuration file: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes().get(..offset).map_or(0, |b| {
            b.iter().filter(|&&c| c == b'\n').count().saturating_add(1)
        });
        ConfigError {
            file: path.to_path_buf(),
            line,
            message: "the file is not valid UTF-8".into(),
        }
    })?;
    match detect(path, &text) {
        Format::Toml => parse_toml(&text, path),
        Format::Keepalived => parse_keepalived(&text, path),
    }
}

/// The format of a file named `path` holding `text`.
pub fn detect(path: &Path, text: &str) -> Format {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        return Format::Toml;
    }
    match text.parse::<toml::Table>() {
        Ok(table) if table.contains_key("instance") || table.contains_key("global") => Format::Toml,
        _ => Format::Keepalived,
    }
}

/// Parses and validates native TOML (`path` names the file in messages).
pub fn parse_toml(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    native::parse(text, path).map(|(config, warnings)| Loaded {
        config,
        warnings,
        notes: Vec::new(),
        format: Format::Toml,
    })
}

/// Parses and validates keepalived.conf text (`path` names the file in messages).
pub fn parse_keepalived(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    keepalived::parse(text, path).map(|(config, warnings, notes)| Loaded {
        config,
        warnings,
        notes,
        format: Format::Keepalived,
    })
}
