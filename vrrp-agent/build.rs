//! Embeds the XDP object into the agent.
//!
//! `cargo xtask build|test` builds the object with nightly + bpf-linker and passes its path in
//! `VRRP_EBPF_OBJECT`. Without it (plain `cargo build` on stable) an empty stub is embedded and
//! the agent explains at run time how to get the real one.

use std::{env, fs, path::PathBuf, process::exit};

fn main() {
    println!("cargo:rerun-if-env-changed=VRRP_EBPF_OBJECT");
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("vrrp-ebpf.o");
    match env::var_os("VRRP_EBPF_OBJECT") {
        Some(src) => {
            let src = PathBuf::from(src);
            println!("cargo:rerun-if-changed={}", src.display());
            if let Err(e) = fs::copy(&src, &out) {
                eprintln!(
                    "error: VRRP_EBPF_OBJECT={} cannot be read ({e}); build the XDP object with \
                     `cargo xtask build`, or unset VRRP_EBPF_OBJECT to embed the stub",
                    src.display()
                );
                exit(1);
            }
        }
        None => {
            if let Err(e) = fs::write(&out, b"") {
                eprintln!("error: cannot write {}: {e}", out.display());
                exit(1);
            }
        }
    }
}
