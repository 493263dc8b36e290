//! Several program instances, one per router id, sharing their maps through pins as the agent
//! runs them. The pins live on a bpf filesystem mounted in a private mount namespace of a
//! helper thread, so the host's /sys/fs/bpf is neither needed nor touched; the loaded
//! programs keep the maps alive after that namespace is gone.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::{CloneFlags, unshare},
};
use vrrp_agent::dataplane::{Dataplane, LoadOptions};

use crate::xdp::Xdp;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Loads one program instance per entry of `routers`, all sharing one set of pinned maps.
pub fn load_shared(routers: &[u32]) -> Vec<Xdp> {
    crate::require_root();
    let dir = std::env::temp_dir().join(format!(
        "vxt-bpffs-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create mount point");
    let loaded = std::thread::scope(|s| {
        s.spawn(|| load_in_private_bpffs(&dir, routers))
            .join()
            .expect("loader thread panicked")
    });
    // Only the (empty) mount point is visible here.
    std::fs::remove_dir(&dir).expect("remove mount point");
    loaded
        .into_iter()
        .zip(routers)
        .map(|(dp, router)| Xdp::new(dp, *router))
        .collect()
}

fn load_in_private_bpffs(dir: &PathBuf, routers: &[u32]) -> Vec<Dataplane> {
    unshare(CloneFlags::CLONE_NEWNS).expect("unshare the mount namespace");
    // Nothing mounted from here on propagates back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make mounts private");
    mount(
        Some("bpf"),
        dir,
        Some("bpf"),
        MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount a bpf filesystem");
    let loaded = routers
        .iter()
        .map(|router| {
            let opts = LoadOptions {
                router_id: *router,
                pin_dir: Some(dir.join("maps")),
                ..Default::default()
            };
            Dataplane::load(&opts).unwrap_or_else(|e| panic!("router {router}: {e}"))
        })
        .collect();
    umount2(dir, MntFlags::MNT_DETACH).expect("unmount the bpf filesystem");
    loaded
}
