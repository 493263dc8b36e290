//! The XDP object embedded at build time (see `build.rs`), or an empty stub.

use super::DataplaneError;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-ebpf.o"));

/// True when this binary carries the empty stub instead of the XDP program.
pub fn is_stub() -> bool {
    OBJECT.is_empty()
}

/// The embedded object, or [`DataplaneError::StubObject`] when the binary was built without it.
pub fn object() -> Result<&'static [u8], DataplaneError> {
    if is_stub() {
        Err(DataplaneError::StubObject)
    } else {
        Ok(OBJECT)
    }
}
