//! BPF_PROG_TEST_RUN: run the loaded program on a frame in the kernel, without any interface.
//! Used by the privileged test suite (verdicts, rewritten bytes, counter deltas) and by the
//! benchmarks (per-packet cost).

use std::time::Duration;

use aya::programs::{TestRun, TestRunOptions};

use super::{Dataplane, DataplaneError};

/// What one test run returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutcome {
    /// The XDP action (`XDP_ABORTED` = 0, `XDP_DROP` = 1, `XDP_PASS` = 2, `XDP_TX` = 3,
    /// `XDP_REDIRECT` = 4).
    pub action: u32,
    /// The frame as the program left it.
    pub data_out: Vec<u8>,
    /// Mean time per run as measured by the kernel.
    pub duration: Duration,
}

impl Dataplane {
    /// Runs the program `repeat` times on `frame`.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<TestRunOutcome, DataplaneError> {
        let program = self.program()?;
        // Room for head/tail adjustments the program may make.
        let mut out = vec![0u8; frame.len() + 256];
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: repeat.max(1),
                ..TestRunOptions::default()
            })
            .map_err(DataplaneError::Program)?;
        out.truncate(result.data_size_out as usize);
        Ok(TestRunOutcome {
            action: result.return_value,
            data_out: out,
            duration: result.duration,
        })
    }
}
