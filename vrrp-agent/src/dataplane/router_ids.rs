//! Router ids: the first field of every map key, one per router (network namespace) among all
//! the routers whose program instances share one pin folder's maps. Allocated, not hashed: a
//! namespace gets the lowest id no other namespace holds, so two routers never share one
//! (Neutron puts 169.254.0.x on every router: a shared id would let one router's entries
//! overwrite the other's).
//!
//! The allocation lives in the pin folder beside the maps and links, so it outlives the agent:
//! `<pin_dir>/router-ids/<id>/netns` is a symbolic link to `ns:<name>` (`own` for the agent's
//! own namespace). A restarted agent (a crash and a respawn) finds the same id for the same
//! namespace, and with it its pinned links and its lease. bpffs holds folders and symbolic
//! links but no regular files, hence the shape.
//!
//! Every process that uses the folder (one node agent; standalone `keepalived` processes
//! given one `pin_dir`) allocates under an exclusive `flock` of `router-ids/`, and holds a
//! shared `flock` of `router-ids/<id>/` while it runs the router. An id goes back to the pool
//! only when nobody holds that lock, no link of it is pinned (a killed agent's links keep its
//! router fenced and wait for its respawn) and the caller says no map entry carries it.
//!
//! Depends on nothing of ours but `super::DataplaneError`.

use std::{
    collections::BTreeMap,
    fs::File,
    io,
    path::{Path, PathBuf},
};

use nix::fcntl::{Flock, FlockArg};

use super::DataplaneError;

/// The folder of the records, under the pin folder.
const FOLDER: &str = "router-ids";
/// The record's link to the namespace name, inside `<id>/`.
const NAME_LINK: &str = "netns";
/// Ids handed out: 1 up to (not including) the control program's `u32::MAX`.
const FIRST_ID: u32 = 1;
const LAST_ID: u32 = u32::MAX - 1;

/// The prefix of the names of a router's pinned links in `<pin_dir>/links/`.
pub fn link_prefix(id: u32) -> String {
    format!("r{id:08x}-")
}

/// The id earlier versions derived from the namespace name (31-bit FNV-1a), which collides
/// (find two names with the same value and their routers overwrite each other's entries).
/// Used only to adopt the links such a version pinned: a namespace without a record whose
/// links are pinned under this id gets it back if nobody holds it.
pub fn legacy_id(netns: Option<&str>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in netns.unwrap_or("").bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h & 0x7fff_ffff
}

/// How a namespace is written in its record.
fn encode(netns: Option<&str>) -> String {
    match netns {
        Some(n) => format!("ns:{n}"),
        None => "own".to_string(),
    }
}

/// A router's id and this process's claim on it (released when dropped).
#[derive(Debug)]
pub struct Held {
    pub id: u32,
    _lock: Flock<File>,
}

/// The router-id records of one pin folder.
#[derive(Clone, Debug)]
pub struct RouterIds {
    dir: PathBuf,
    links: PathBuf,
}

impl RouterIds {
    /// The records under `pin_dir` (created if missing).
    pub fn open(pin_dir: &Path) -> Result<Self, DataplaneError> {
        let ids = Self {
            dir: pin_dir.join(FOLDER),
            links: pin_dir.join("links"),
        };
        std::fs::create_dir_all(&ids.dir).map_err(|e| ids.error("creating the folder", e))?;
        Ok(ids)
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> DataplaneError {
        DataplaneError::RouterIds {
            dir: self.dir.clone(),
            error: format!("{what}: {e}"),
        }
    }

    /// The exclusive lock every allocation and release runs under.
    fn lock(&self) -> Result<Flock<File>, DataplaneError> {
        let folder = File::open(&self.dir).map_err(|e| self.error("opening the folder", e))?;
        Flock::lock(folder, FlockArg::LockExclusive)
            .map_err(|(_, e)| self.error("locking the folder", e))
    }

    /// Every record: id and namespace (`None` inside: the agent's own; an unreadable record,
    /// a half-written one, reads as held by nobody known and is never handed out).
    pub fn records(&self) -> Result<BTreeMap<u32, Option<String>>, DataplaneError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| self.error("reading", e))?;
        let mut out = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.error("reading", e))?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let name = std::fs::read_link(entry.path().join(NAME_LINK))
                .ok()
                .and_then(|t| t.to_str().map(str::to_string));
            out.insert(id, name);
        }
        Ok(out)
    }

    /// Whether a link of router `id` is pinned.
    fn has_pinned_links(&self, id: u32) -> bool {
        let prefix = link_prefix(id);
        std::fs::read_dir(&self.links).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        })
    }

    /// The id of `netns`: the one recorded for it, else a new one (the lowest free, or the
    /// one an earlier version pinned its links under), recorded. Held until the result drops.
    pub fn acquire(&self, netns: Option<&str>) -> Result<Held, DataplaneError> {
        let _lock = self.lock()?;
        let name = encode(netns);
        let records = self.records()?;
        let id = match records
            .iter()
            .find(|(_, n)| n.as_deref() == Some(name.as_str()))
        {
            Some((id, _)) => *id,
            None => {
                let legacy = legacy_id(netns);
                let id = if !records.contains_key(&legacy) && self.has_pinned_links(legacy) {
                    legacy
                } else {
                    (FIRST_ID..=LAST_ID)
                        .find(|id| !records.contains_key(id))
                        .ok_or_else(|| self.error("allocating", "every router id is in use"))?
                };
                self.record(id, &name)?;
                id
            }
        };
        let folder = File::open(self.dir.join(id.to_string()))
            .map_err(|e| self.error(&format!("opening the record of router {id}"), e))?;
        // Never blocks for long: an exclusive lock of a record is only taken (and at once
        // given up) under the folder's lock, which this process holds.
        let lock = Flock::lock(folder, FlockArg::LockShared)
            .map_err(|(_, e)| self.error(&format!("holding router {id}"), e))?;
        Ok(Held { id, _lock: lock })
    }

    fn record(&self, id: u32, name: &str) -> Result<(), DataplaneError> {
        let folder = self.dir.join(id.to_string());
        let what = format!("recording router {id} for {name}");
        match std::fs::create_dir(&folder) {
            Ok(()) => {}
            // A half-written record of a process that died: this process holds the lock.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(self.error(&what, e)),
        }
        std::os::unix::fs::symlink(name, folder.join(NAME_LINK)).map_err(|e| self.error(&what, e))
    }

    /// Gives `held` up and returns its id to the pool unless somebody still uses it: another
    /// process holds it, a link of it is pinned, or `in_maps` (map entries carry it). Returns
    /// whether the id went back to the pool.
    pub fn release(&self, held: Held, in_maps: bool) -> Result<bool, DataplaneError> {
        let id = held.id;
        drop(held);
        let _lock = self.lock()?;
        if in_maps || self.has_pinned_links(id) {
            return Ok(false);
        }
        let folder = self.dir.join(id.to_string());
        let Ok(record) = File::open(&folder) else {
            return Ok(false);
        };
        let Ok(_unused) = Flock::lock(record, FlockArg::LockExclusiveNonblock) else {
            // A shared lock of another process: it runs this router too.
            return Ok(false);
        };
        let what = format!("removing the record of router {id}");
        match std::fs::remove_file(folder.join(NAME_LINK)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.error(&what, e)),
        }
        std::fs::remove_dir(&folder).map_err(|e| self.error(&what, e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
