//! What the kernel says about the processes under measurement: CPU ticks (`/proc/<pid>/stat`),
//! RSS and PSS (`smaps_rollup`), threads, open files, the BPF programs and maps they hold
//! (`memlock:` in `fdinfo`: BPF objects are kernel memory, not in RSS), parent links (to find
//! children), and machine-wide CPU time (`/proc/stat`). Parsers are pure; readers return
//! `None` for a process that is gone.

use std::collections::{BTreeMap, BTreeSet};

/// The fields of `/proc/<pid>/stat` used here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    /// R, S, Z, ...
    pub state: char,
    pub ppid: i32,
    /// utime + stime, in clock ticks (the whole process, exited threads included; each
    /// reading is truncated to a tick).
    pub ticks: u64,
    pub threads: u64,
}

/// Parses `/proc/<pid>/stat`. `comm` may hold spaces and parentheses: it ends at the last `)`.
pub fn parse_stat(s: &str) -> Option<Stat> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = s.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let threads: u64 = rest.get(17)?.parse().ok()?;
    Some(Stat {
        comm,
        state,
        ppid,
        ticks: utime + stime,
        threads,
    })
}

/// Nanoseconds on a CPU, the first field of `/proc/<pid>/schedstat` (of the main thread
/// only; exact, unlike the ticks of `stat`).
pub fn parse_schedstat(s: &str) -> Option<u64> {
    s.split_whitespace().next()?.parse().ok()
}

/// The value of a `Key:   123 kB` line (`smaps_rollup`, `status`), without its unit.
pub fn field(s: &str, key: &str) -> Option<u64> {
    s.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A BPF program or map behind a file descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BpfKind {
    Prog,
    Map,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfObject {
    pub kind: BpfKind,
    pub id: u32,
    /// Bytes of kernel memory charged to it.
    pub memlock: u64,
}

/// Parses `/proc/<pid>/fdinfo/<fd>`; `None` unless the fd is a BPF program or map.
pub fn parse_fdinfo(s: &str) -> Option<BpfObject> {
    let (kind, id) = if let Some(id) = field(s, "prog_id") {
        (BpfKind::Prog, id)
    } else {
        (BpfKind::Map, field(s, "map_id")?)
    };
    Some(BpfObject {
        kind,
        id: u32::try_from(id).ok()?,
        memlock: field(s, "memlock").unwrap_or(0),
    })
}

/// Distinct BPF objects (several fds may point at one shared map): count of programs, count
/// of maps, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BpfTotals {
    pub programs: usize,
    pub maps: usize,
    pub memlock_bytes: u64,
}

pub fn bpf_totals(objects: &[BpfObject]) -> BpfTotals {
    let unique: BTreeMap<(BpfKind, u32), u64> = objects
        .iter()
        .map(|o| ((o.kind, o.id), o.memlock))
        .collect();
    BpfTotals {
        programs: unique.keys().filter(|(k, _)| *k == BpfKind::Prog).count(),
        maps: unique.keys().filter(|(k, _)| *k == BpfKind::Map).count(),
        memlock_bytes: unique.values().sum(),
    }
}

/// `pid` and every process below it, given every process's (pid, ppid).
pub fn descendants(all: &[(i32, i32)], roots: &[i32]) -> BTreeSet<i32> {
    let mut found: BTreeSet<i32> = roots.iter().copied().collect();
    loop {
        let before = found.len();
        for (pid, ppid) in all {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Busy and total jiffies of the whole machine (first line of `/proc/stat`).
pub fn parse_machine_cpu(s: &str) -> Option<(u64, u64)> {
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Packet counters of each interface (`/proc/net/dev`): name -> (rx packets, tx packets).
pub fn parse_net_dev(s: &str) -> BTreeMap<String, (u64, u64)> {
    s.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() >= 16).then(|| (name.trim().to_string(), (v[1], v[9])))
        })
        .collect()
}

// ---- readers ----

fn read(path: String) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&read(format!("/proc/{pid}/stat"))?)
}

/// CPU time of the main thread, in nanoseconds.
pub fn schedstat_ns(pid: i32) -> Option<u64> {
    parse_schedstat(&read(format!("/proc/{pid}/schedstat"))?)
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| s.state != 'Z')
}

/// The command line, arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .replace('\0', " ")
        .trim_end()
        .to_string()
}

/// (pid, ppid) of every process.
pub fn all_processes() -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect()
}

/// Clock ticks per second (`USER_HZ`).
pub fn clk_tck() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(100)
}

/// Memory and size of one process at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Footprint {
    pub rss_kib: u64,
    pub pss_kib: u64,
    pub threads: u64,
    pub fds: u64,
    /// BPF programs and maps behind its file descriptors.
    pub bpf: Vec<BpfObject>,
}

pub fn footprint(pid: i32) -> Option<Footprint> {
    let rollup = read(format!("/proc/{pid}/smaps_rollup"))?;
    let status = read(format!("/proc/{pid}/status"))?;
    let mut fds = 0;
    let mut bpf = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) {
        for e in dir.flatten() {
            fds += 1;
            if let Some(o) = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|s| parse_fdinfo(&s))
            {
                bpf.push(o);
            }
        }
    }
    Some(Footprint {
        rss_kib: field(&rollup, "Rss")?,
        pss_kib: field(&rollup, "Pss")?,
        threads: field(&status, "Threads").unwrap_or(1),
        fds,
        bpf,
    })
}

/// Machine-wide (busy, total) jiffies.
pub fn machine_cpu() -> Option<(u64, u64)> {
    parse_machine_cpu(&read("/proc/stat".into())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parentheses_in_comm() {
        let s = "4242 (keep (alived) x) S 1 4242 4242 0 -1 4194624 100 0 0 0 17 5 0 0 20 0 1 0 \
                 123 1000 200 18446744073709551615";
        let st = parse_stat(s).unwrap();
        assert_eq!(st.comm, "keep (alived) x");
        assert_eq!((st.state, st.ppid, st.ticks, st.threads), ('S', 1, 22, 1));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            parse_schedstat("276207097 624001373 125\n"),
            Some(276_207_097)
        );
    }

    #[test]
    fn own_stat_parses() {
        let st = stat(std::process::id() as i32).unwrap();
        assert!(st.state == 'R' || st.state == 'S');
        assert!(footprint(std::process::id() as i32).unwrap().rss_kib > 0);
    }

    #[test]
    fn kb_fields() {
        let rollup = "55d0-7ffe ---p 00000000 00:00 0  [rollup]\nRss:                3264 kB\n\
                      Pss:                1107 kB\nPss_Anon:            600 kB\n";
        assert_eq!(field(rollup, "Rss"), Some(3264));
        assert_eq!(field(rollup, "Pss"), Some(1107));
        assert_eq!(field(rollup, "Pss_Anon"), Some(600));
        assert_eq!(field(rollup, "Swap"), None);
        assert_eq!(field("Threads:\t7\n", "Threads"), Some(7));
    }

    #[test]
    fn fdinfo_of_programs_maps_and_others() {
        let prog = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t2067\nprog_type:\t6\n\
                    prog_jited:\t1\nprog_tag:\tdeadbeef\nmemlock:\t8192\nprog_id:\t77\n";
        let map = "pos:\t0\nflags:\t02000002\nmap_type:\t1\nkey_size:\t4\nvalue_size:\t8\n\
                   max_entries:\t1024\nmemlock:\t98304\nmap_id:\t12\nfrozen:\t0\n";
        let link = "pos:\t0\nflags:\t02000000\nlink_type:\txdp\nlink_id:\t3\n";
        let file = "pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t1\n";
        let p = parse_fdinfo(prog).unwrap();
        assert_eq!((p.kind, p.id, p.memlock), (BpfKind::Prog, 77, 8192));
        let m = parse_fdinfo(map).unwrap();
        assert_eq!((m.kind, m.id, m.memlock), (BpfKind::Map, 12, 98304));
        assert_eq!(parse_fdinfo(link), None);
        assert_eq!(parse_fdinfo(file), None);
        // The same shared map through three fds counts once.
        let t = bpf_totals(&[p, m, m, m]);
        assert_eq!(
            t,
            BpfTotals {
                programs: 1,
                maps: 1,
                memlock_bytes: 8192 + 98304
            }
        );
    }

    #[test]
    fn descendants_follow_parent_links_transitively() {
        let all = [(1, 0), (10, 1), (11, 10), (12, 11), (20, 1), (21, 20)];
        assert_eq!(
            descendants(&all, &[10]).into_iter().collect::<Vec<_>>(),
            vec![10, 11, 12]
        );
        assert_eq!(descendants(&all, &[99]).len(), 1);
    }

    #[test]
    fn machine_cpu_busy_and_total() {
        let s = "cpu  100 5 50 1000 20 1 4 0 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n";
        assert_eq!(parse_machine_cpu(s), Some((160, 1180)));
    }

    #[test]
    fn net_dev_counters() {
        let s = "Inter-|   Receive                                                |  Transmit\n \
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                 lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n\
                 ha-5ca10000-0a:    4620      110    0    0    0     0          0         0     2100      50    0    0    0     0       0          0\n";
        let d = parse_net_dev(s);
        assert_eq!(d["ha-5ca10000-0a"], (110, 50));
        assert_eq!(d["lo"], (0, 0));
        assert_eq!(d.len(), 2);
    }
}
