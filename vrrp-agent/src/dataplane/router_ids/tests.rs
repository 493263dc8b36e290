//! Router-id allocation on an ordinary folder (the records are folders and symbolic links, as
//! on bpffs): colliding names of the old hash, persistence across a restart, release only when
//! unused, concurrent allocation.

use std::{collections::HashMap, path::PathBuf};

use super::*;

/// A fresh pin folder, removed on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "vrrp-router-ids-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two different `qrouter-<n>` names whose old ids (31-bit FNV-1a) are equal: a birthday
/// search, a few tens of thousands of names.
fn colliding_names() -> (String, String) {
    let mut seen: HashMap<u32, String> = HashMap::new();
    for n in 0u32.. {
        let name = format!("qrouter-{n}");
        if let Some(other) = seen.insert(legacy_id(Some(&name)), name.clone()) {
            return (other, name);
        }
    }
    unreachable!()
}

#[test]
fn namespaces_whose_old_ids_collide_get_different_ids() {
    let (a, b) = colliding_names();
    assert_ne!(a, b);
    assert_eq!(
        legacy_id(Some(&a)),
        legacy_id(Some(&b)),
        "the old scheme gave {a} and {b} one id"
    );
    let dir = PinDir::new("collide");
    let ids = RouterIds::open(&dir.0).unwrap();
    let ha = ids.acquire(Some(&a)).unwrap();
    let hb = ids.acquire(Some(&b)).unwrap();
    assert_ne!(ha.id, hb.id, "{a} and {b}");
    assert_eq!((ha.id, hb.id), (1, 2), "the lowest free ids");
    let own = ids.acquire(None).unwrap();
    assert_eq!(own.id, 3, "the agent's own namespace is a router too");
    // Asked again (another instance of the same router), the same id.
    assert_eq!(ids.acquire(Some(&a)).unwrap().id, ha.id);
}

#[test]
fn a_namespace_with_links_pinned_by_an_older_version_gets_their_id_unless_taken() {
    let (a, b) = colliding_names();
    let dir = PinDir::new("legacy");
    let ids = RouterIds::open(&dir.0).unwrap();
    let legacy = legacy_id(Some(&a));
    std::fs::create_dir_all(dir.0.join("links")).unwrap();
    std::fs::write(
        dir.0
            .join("links")
            .join(format!("{}ha-1234", link_prefix(legacy))),
        b"",
    )
    .unwrap();
    let ha = ids.acquire(Some(&a)).unwrap();
    assert_eq!(ha.id, legacy, "adopts the links the old version pinned");
    let hb = ids.acquire(Some(&b)).unwrap();
    assert_ne!(hb.id, legacy, "{b} collided with {a} in the old scheme");
    assert_eq!(hb.id, 1);
}

#[test]
fn a_restarted_agent_gets_the_same_id_for_the_same_namespace() {
    let dir = PinDir::new("restart");
    let first: Vec<u32> = {
        let ids = RouterIds::open(&dir.0).unwrap();
        let held: Vec<Held> = ["qrouter-a", "qrouter-b", "qrouter-c"]
            .iter()
            .map(|n| ids.acquire(Some(n)).unwrap())
            .collect();
        // The agent dies (kill -9): nothing is released, its locks go with the process.
        held.iter().map(|h| h.id).collect()
    };
    let ids = RouterIds::open(&dir.0).unwrap();
    // In another order, after a new namespace took the next free id.
    let d = ids.acquire(Some("qrouter-d")).unwrap();
    assert!(!first.contains(&d.id), "{} is still recorded", d.id);
    let again: Vec<u32> = ["qrouter-c", "qrouter-a", "qrouter-b"]
        .iter()
        .map(|n| ids.acquire(Some(n)).unwrap().id)
        .collect();
    assert_eq!(again, [first[2], first[0], first[1]]);
    assert_eq!(
        ids.records().unwrap().get(&first[0]),
        Some(&Some("ns:qrouter-a".to_string()))
    );
}

#[test]
fn an_id_goes_back_to_the_pool_only_when_nobody_uses_it() {
    let dir = PinDir::new("release");
    let ids = RouterIds::open(&dir.0).unwrap();
    let a = ids.acquire(Some("qrouter-a")).unwrap();
    let id = a.id;
    // Another process runs the same namespace on the same pins (its own descriptor, so its
    // own lock): the record stays.
    let other = RouterIds::open(&dir.0).unwrap();
    let a2 = other.acquire(Some("qrouter-a")).unwrap();
    assert_eq!(a2.id, id);
    assert!(!ids.release(a, false).unwrap(), "held elsewhere");
    assert_eq!(ids.acquire(Some("qrouter-x")).unwrap().id, id + 1);
    // Map entries still carry it: it stays.
    let a3 = ids.acquire(Some("qrouter-a")).unwrap();
    drop(a2);
    assert!(!ids.release(a3, true).unwrap(), "still in the maps");
    // A pinned link of it (a killed agent's, waiting for its respawn): it stays.
    std::fs::create_dir_all(dir.0.join("links")).unwrap();
    let pin = dir.0.join("links").join(format!("{}ha-1", link_prefix(id)));
    std::fs::write(&pin, b"").unwrap();
    let a4 = ids.acquire(Some("qrouter-a")).unwrap();
    assert!(!ids.release(a4, false).unwrap(), "a link is pinned");
    std::fs::remove_file(&pin).unwrap();
    // Nobody: it goes, and the next new namespace gets it.
    let a5 = ids.acquire(Some("qrouter-a")).unwrap();
    assert!(ids.release(a5, false).unwrap());
    assert!(!ids.records().unwrap().contains_key(&id));
    assert_eq!(ids.acquire(Some("qrouter-new")).unwrap().id, id);
}

#[test]
fn concurrent_allocations_never_hand_out_one_id_twice() {
    let dir = PinDir::new("race");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let pin = dir.0.clone();
            std::thread::spawn(move || {
                // Each thread opens the folder itself, as separate processes would.
                let ids = RouterIds::open(&pin).unwrap();
                (0..25)
                    .map(|n| {
                        let name = format!("qrouter-{t}-{n}");
                        (ids.acquire(Some(&name)).unwrap().id, name)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut by_id: HashMap<u32, String> = HashMap::new();
    for t in threads {
        for (id, name) in t.join().unwrap() {
            if let Some(other) = by_id.insert(id, name.clone()) {
                panic!("router {id} handed to {other} and {name}");
            }
        }
    }
    assert_eq!(by_id.len(), 200);
    let records = RouterIds::open(&dir.0).unwrap().records().unwrap();
    assert_eq!(records.len(), 200);
    assert_eq!(records.keys().copied().max(), Some(200), "the lowest ids");
}
