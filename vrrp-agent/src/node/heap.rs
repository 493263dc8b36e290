//! Keeping the node agent's heap small. Setting a router up parses the XDP object and the
//! kernel's BTF on whichever worker thread runs it: megabytes that are freed at once but that
//! glibc keeps in per-thread arenas unless told otherwise. One arena, trimmed after each
//! router is set up, gives them back. glibc only; elsewhere these do nothing.

/// One malloc arena for the process (call before any thread starts).
pub fn single_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator parameters; called while single-threaded.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns freed heap memory to the system.
pub fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim is thread-safe and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
