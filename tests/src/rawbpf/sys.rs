//! The `bpf()` system call for the benchmark's hand-assembled helper programs: loading an XDP
//! program from instructions, array maps (plain, per-CPU, program arrays), BPF_PROG_TEST_RUN
//! (including live-frames mode with an ingress interface) and attaching XDP to an interface
//! through a BPF link. Errors are the kernel's errno (and the verifier log for loads).

use std::{
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    time::Duration,
};

use vrrp_ebpf_common::test_run::XdpMd;

use super::asm::Insn;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_LINK_CREATE: libc::c_long = 28;

const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type`: XDP on an interface. Programs sharing a program array must agree
/// on it (kernels from 6.17 check), and aya loads XDP programs with it.
const BPF_XDP: u32 = 37;
/// `BPF_F_TEST_XDP_LIVE_FRAMES`.
const TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP in the driver (veth has it), never the generic hook.
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// `enum bpf_map_type` values used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    Hash = 1,
    ProgArray = 3,
    PerCpuArray = 6,
}

/// Runs `bpf(cmd, attr, sizeof attr)`; returns the non-negative result.
fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] attribute struct of the layout
    // the kernel expects for `cmd` (prefix of `union bpf_attr`, padding fields explicit and
    // zeroed); every pointer inside it refers to memory that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Wraps a new file descriptor returned by the kernel.
fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful bpf() call that creates a descriptor;
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

fn name16(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    // The kernel accepts [A-Za-z0-9_.], NUL-terminated, at most 15 characters.
    for (o, c) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = if c.is_ascii_alphanumeric() || c == b'.' {
            c
        } else {
            b'_'
        };
    }
    out
}

/// A map created by this process.
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    value_size: u32,
    per_cpu: bool,
}

impl Map {
    /// An array map with u32 keys.
    pub fn array(kind: MapType, value_size: u32, max_entries: u32, name: &str) -> io::Result<Self> {
        Self::create(kind, 4, value_size, max_entries, 0, name)
    }

    /// A hash map allocating entries on update (`BPF_F_NO_PREALLOC`, as vrrp-xdp's address
    /// maps do).
    pub fn hash(key_size: u32, value_size: u32, max_entries: u32, name: &str) -> io::Result<Self> {
        const BPF_F_NO_PREALLOC: u32 = 1;
        Self::create(
            MapType::Hash,
            key_size,
            value_size,
            max_entries,
            BPF_F_NO_PREALLOC,
            name,
        )
    }

    fn create(
        kind: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
        name: &str,
    ) -> io::Result<Self> {
        let mut attr = MapCreateAttr {
            map_type: kind as u32,
            key_size,
            value_size,
            max_entries,
            map_flags,
            map_name: name16(name),
            ..Default::default()
        };
        let fd = owned(sys_bpf(BPF_MAP_CREATE, &mut attr)?);
        Ok(Self {
            fd,
            value_size,
            per_cpu: kind == MapType::PerCpuArray,
        })
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Puts a program into slot `index` of a program array.
    pub fn set_program(&self, index: u32, prog: BorrowedFd<'_>) -> io::Result<()> {
        let key = index;
        let value = prog.as_raw_fd() as u32;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: &key as *const u32 as u64,
            value: &value as *const u32 as u64,
            ..Default::default()
        };
        sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
    }

    /// Writes one element (`key` and `value` of the map's sizes).
    pub fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_ptr() as u64,
            ..Default::default()
        };
        sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
    }

    /// The u64 at the start of slot `index`, summed over all CPUs for a per-CPU map.
    pub fn read_u64_sum(&self, index: u32) -> io::Result<u64> {
        let stride = (self.value_size as usize).div_ceil(8) * 8;
        let copies = if self.per_cpu { possible_cpus()? } else { 1 };
        let mut buf = vec![0u8; stride * copies];
        let key = index;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: &key as *const u32 as u64,
            value: buf.as_mut_ptr() as u64,
            ..Default::default()
        };
        sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)?;
        Ok(buf
            .chunks(stride)
            .map(|c| u64::from_ne_bytes(c[..8].try_into().expect("8 bytes")))
            .sum())
    }
}

/// How many CPUs per-CPU maps hold a value for (`/sys/devices/system/cpu/possible`).
pub fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    parse_cpu_list(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot parse CPU list `{}`", text.trim()),
        )
    })
}

/// The number of CPUs in a kernel CPU list such as `0-3,8-11` (highest index + 1, as the
/// kernel sizes per-CPU values by the highest possible CPU).
pub fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut highest = None;
    for part in text.trim().split(',') {
        let last = part.rsplit('-').next()?.trim().parse::<usize>().ok()?;
        highest = highest.max(Some(last));
    }
    highest.map(|h| h + 1)
}

/// An XDP program loaded from instructions.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
}

/// What one BPF_PROG_TEST_RUN call returned.
#[derive(Clone, Copy, Debug)]
pub struct RunResult {
    /// The XDP action of the last run (0 in live-frames mode).
    pub retval: u32,
    /// The kernel's mean time per repetition (whole nanoseconds, truncated).
    pub duration: Duration,
}

impl Program {
    /// Loads an XDP program (GPL, attach type `BPF_XDP`); the error carries the verifier log.
    pub fn load_xdp(insns: &[Insn], name: &str) -> io::Result<Self> {
        let code: Vec<[u8; 8]> = insns.iter().map(Insn::bytes).collect();
        let license = c"GPL";
        let mut log = vec![0u8; 64 * 1024];
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_XDP,
            insn_cnt: code.len() as u32,
            insns: code.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: 1,
            log_size: log.len() as u32,
            log_buf: log.as_mut_ptr() as u64,
            prog_name: name16(name),
            expected_attach_type: BPF_XDP,
            ..Default::default()
        };
        match sys_bpf(BPF_PROG_LOAD, &mut attr) {
            Ok(fd) => Ok(Self { fd: owned(fd) }),
            Err(e) => {
                let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(&log[..end]);
                Err(io::Error::new(
                    e.kind(),
                    format!("loading XDP program `{name}`: {e}\n{}", text.trim_end()),
                ))
            }
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// BPF_PROG_TEST_RUN `repeat` times on `frame`, as received on `ingress_ifindex` (which
    /// must exist in the calling thread's network namespace). In live-frames mode
    /// (`live_batch: Some(batch)`) the verdicts take effect: XDP_PASS enters the stack on the
    /// ingress interface, XDP_REDIRECT transmits.
    pub fn test_run(
        &self,
        frame: &[u8],
        ingress_ifindex: u32,
        repeat: u32,
        live_batch: Option<u32>,
    ) -> io::Result<RunResult> {
        let md = XdpMd::frame(frame.len() as u32, ingress_ifindex);
        let mut attr = TestRunAttr {
            prog_fd: self.fd.as_raw_fd() as u32,
            data_size_in: frame.len() as u32,
            data_in: frame.as_ptr() as u64,
            repeat: repeat.max(1),
            ctx_size_in: std::mem::size_of::<XdpMd>() as u32,
            ctx_in: &md as *const XdpMd as u64,
            flags: if live_batch.is_some() {
                TEST_XDP_LIVE_FRAMES
            } else {
                0
            },
            batch_size: live_batch.unwrap_or(0),
            ..Default::default()
        };
        sys_bpf(BPF_PROG_TEST_RUN, &mut attr)?;
        Ok(RunResult {
            retval: attr.retval,
            duration: Duration::from_nanos(attr.duration.into()),
        })
    }

    /// Attaches the program in native (driver) mode to interface `ifindex` of the calling
    /// thread's network namespace, until the returned link is dropped.
    pub fn attach_native(&self, ifindex: u32) -> io::Result<OwnedFd> {
        let mut attr = LinkCreateAttr {
            prog_fd: self.fd.as_raw_fd() as u32,
            target_ifindex: ifindex,
            attach_type: BPF_XDP,
            flags: XDP_FLAGS_DRV_MODE,
        };
        sys_bpf(BPF_LINK_CREATE, &mut attr).map(owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_up_to_the_highest_cpu() {
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0-3,8-11"), Some(12));
        assert_eq!(parse_cpu_list("garbage"), None);
    }

    #[test]
    fn attribute_structs_have_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<TestRunAttr>(), 80);
        assert_eq!(std::mem::offset_of!(TestRunAttr, flags), 64);
        assert_eq!(std::mem::offset_of!(TestRunAttr, batch_size), 72);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(std::mem::size_of::<MapElemAttr>(), 32);
    }

    #[test]
    fn names_are_sanitized_and_truncated() {
        assert_eq!(&name16("bench-gen.x")[..12], b"bench_gen.x\0");
        assert_eq!(name16("a_very_long_program_name")[15], 0);
    }
}
