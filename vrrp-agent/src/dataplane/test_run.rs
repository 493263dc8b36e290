//! BPF_PROG_TEST_RUN: run the loaded program on a frame in the kernel, without any interface.
//! Used by the privileged test suite (verdicts, rewritten bytes, counter deltas) and by the
//! benchmarks (per-packet cost), which also reach the program's descriptor to tail-call it
//! from their own frame generators.

use std::{
    os::fd::{AsFd, BorrowedFd},
    time::Duration,
};

use aya::programs::{TestRun, TestRunOptions};
use vrrp_ebpf_common::test_run::XdpMd;

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
    /// The loaded program's file descriptor, for harnesses that drive the program themselves
    /// (a benchmark's frame generator puts it in a `BPF_MAP_TYPE_PROG_ARRAY` and tail-calls
    /// it). Valid as long as this value lives.
    pub fn program_fd(&self) -> Result<BorrowedFd<'_>, DataplaneError> {
        Ok(self
            .program()?
            .fd()
            .map_err(DataplaneError::Program)?
            .as_fd())
    }

    /// Runs the program `repeat` times on `frame` (no ingress interface: FIB lookups fail).
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<TestRunOutcome, DataplaneError> {
        self.test_run_on(frame, None, repeat)
    }

    /// Runs the program `repeat` times on `frame` as if received on `ingress_ifindex`, which
    /// must exist in the calling thread's network namespace (run it inside the namespace with
    /// `crate::netns::run_in`); FIB lookups then use that namespace's routes and neighbours.
    pub fn test_run_on(
        &self,
        frame: &[u8],
        ingress_ifindex: Option<u32>,
        repeat: u32,
    ) -> Result<TestRunOutcome, DataplaneError> {
        let program = self.program()?;
        // Room for head/tail adjustments the program may make.
        let mut out = vec![0u8; frame.len() + 256];
        let md = ingress_ifindex.map(|ifindex| XdpMd::frame(frame.len() as u32, ifindex));
        // SAFETY: XdpMd is a #[repr(C)] struct of u32 fields without padding; viewing it as
        // bytes for the syscall is sound and the slice does not outlive `md`.
        let ctx: Option<&[u8]> = md.as_ref().map(|m| unsafe {
            std::slice::from_raw_parts(
                (m as *const XdpMd).cast::<u8>(),
                std::mem::size_of::<XdpMd>(),
            )
        });
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: ctx,
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
