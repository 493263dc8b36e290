//! Private temporary folders for tests: one per test (or per agent, keepalived, bench run),
//! removed on drop with the bpf filesystem folder of the same name that agents started there
//! pin their maps and links in.
//!
//! Depends on std only.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "vxt-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A private folder on the bpf filesystem for this test's pinned maps and links.
    pub fn bpf_dir(&self) -> PathBuf {
        PathBuf::from("/sys/fs/bpf").join(self.0.file_name().expect("named"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // Pins a killed agent left behind.
        let _ = std::fs::remove_dir_all(self.bpf_dir());
    }
}
