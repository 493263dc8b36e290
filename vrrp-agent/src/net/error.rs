//! Adding context to `io::Error`s raised at the socket edge (which socket, which option), so a
//! failure names what was being done. Imports nothing of this crate.

use std::{fmt, io};

/// Returns a mapper that prefixes an error with `what` and keeps its kind.
pub(crate) fn context(what: impl fmt::Display) -> impl FnOnce(io::Error) -> io::Error {
    move |error| io::Error::new(error.kind(), format!("{what}: {error}"))
}
