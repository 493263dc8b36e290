//! Building diagnostics: a [`Diag`] knows the file being read and collects warnings and notes;
//! errors, warnings and notes carry that file and a 1-based line (0: not tied to a line). A
//! note is a setting accepted without effect that generated configurations always carry
//! (Neutron's `notification_email_from`): worth saying once, not worth a warning.
//!
//! Imports only `super::types`.

use std::path::{Path, PathBuf};

use super::types::{ConfigError, ConfigWarning};

/// The file being read and the warnings found so far.
#[derive(Debug)]
pub(crate) struct Diag {
    file: PathBuf,
    warnings: Vec<ConfigWarning>,
    notes: Vec<ConfigWarning>,
}

impl Diag {
    pub(crate) fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// An error at `line` of this file.
    pub(crate) fn error(&self, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }

    /// Records a warning at `line` of this file.
    pub(crate) fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }

    /// Records a note at `line` of this file.
    pub(crate) fn note(&mut self, line: usize, message: impl Into<String>) {
        self.notes.push(ConfigWarning {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }

    pub(crate) fn into_warnings(self) -> Vec<ConfigWarning> {
        self.warnings
    }

    /// The warnings and the notes.
    pub(crate) fn into_parts(self) -> (Vec<ConfigWarning>, Vec<ConfigWarning>) {
        (self.warnings, self.notes)
    }
}

/// 1-based line of byte `offset` in `text` (offsets past the end count the last line).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    let newlines = text
        .as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
    newlines.saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines_before_the_offset() {
        let text = "a\nbb\n\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 3);
        assert_eq!(line_of(text, 6), 4);
        assert_eq!(line_of(text, 1000), 4);
    }
}
