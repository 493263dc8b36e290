//! What the kernel reports about the loaded program's size: how many instructions the
//! verifier processed (its complexity budget is one million) and how long the translated
//! program is (the per-program limit for unprivileged loads is 4096, privileged one million).

use serde::Serialize;

use super::{Dataplane, DataplaneError};

/// Size figures of the loaded program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProgramSize {
    /// Instructions the verifier processed over all paths (kernel 5.16+).
    pub verified_insns: Option<u32>,
    /// Instructions of the program after verification (8 bytes each).
    pub xlated_insns: Option<u32>,
    /// Bytes of JIT-compiled machine code (0 without JIT).
    pub jited_bytes: u32,
}

impl Dataplane {
    /// The loaded program's size figures.
    pub fn program_size(&self) -> Result<ProgramSize, DataplaneError> {
        let info = self.program()?.info().map_err(DataplaneError::Program)?;
        Ok(ProgramSize {
            verified_insns: info.verified_instruction_count(),
            xlated_insns: info.size_translated().map(|b| b / 8),
            jited_bytes: info.size_jitted(),
        })
    }
}
