//! Running an nftables script inside a network namespace (`nft -f -`, started from a thread
//! that entered the namespace, so the command runs there).

use std::{
    io::Write,
    process::{Command, Stdio},
};

/// Why the kernel NAT could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KernelNatError {
    #[error(
        "floating IPs need the `nft` command to write the kernel's NAT (Debian: apt-get install \
         nftables): {error}"
    )]
    NoNft { error: std::io::Error },
    #[error("nft refused the floating-IP NAT table: {stderr}")]
    Refused { stderr: String },
    #[error("running nft: {error}")]
    Run { error: std::io::Error },
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
}

/// Applies `script` with `nft -f -` in namespace `netns` (blocking).
pub fn apply(netns: Option<&str>, script: &str) -> Result<(), KernelNatError> {
    crate::netns::run_in(netns, || {
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| {
                if error.kind() == std::io::ErrorKind::NotFound {
                    KernelNatError::NoNft { error }
                } else {
                    KernelNatError::Run { error }
                }
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|error| KernelNatError::Run { error })?;
        }
        let out = child
            .wait_with_output()
            .map_err(|error| KernelNatError::Run { error })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(KernelNatError::Refused {
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    })?
}
