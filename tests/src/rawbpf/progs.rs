//! The benchmark's helper XDP programs, assembled from a handful of instructions:
//!
//! - [`empty`]: `return XDP_PASS` (the floor of the per-packet cost, and what a tail-called
//!   "no program" looks like).
//! - [`generator`]: writes a frame template over the first bytes of the frame, optionally
//!   sets the UDP source port from a per-CPU counter (many flows), then tail-calls slot 0 of
//!   a program array. In BPF_PROG_TEST_RUN's live-frames mode the kernel recycles frame pages
//!   without rewriting their contents, so a program that translates addresses would
//!   otherwise see its own output on later repetitions; the template restores the original.
//! - [`clock_read`], [`hash_lookup`], [`fib_lookup`]: the empty program plus one
//!   `bpf_ktime_get_ns()`, one hash-map lookup or one `bpf_fib_lookup()`, to put the cost of
//!   those building blocks next to the real program's.
//! - [`redirect`]: `return bpf_redirect(ifindex, 0)`, the forwarding mechanics of XDP
//!   without any lookup (a reference ceiling for a fast path).
//! - [`sink_counter`]: counts IPv4 UDP frames to one port in a per-CPU array and drops
//!   them; other frames pass.

use super::asm::{
    Asm, Cond, HELPER_FIB_LOOKUP, HELPER_MAP_LOOKUP_ELEM, HELPER_REDIRECT, HELPER_TAIL_CALL, Insn,
    R0, R1, R2, R3, R4, R6, R7, R10, Size, UndefinedLabel,
};

const XDP_DROP: i32 = 1;
const XDP_PASS: i32 = 2;

/// Offsets in an untagged IPv4 frame without options.
const ETHERTYPE_AT: i16 = 12;
const IP_PROTO_AT: i16 = 23;
const UDP_SPORT_AT: i16 = 34;
const UDP_DPORT_AT: i16 = 36;
/// Loading the big-endian ethertype 0x0800 as a little-endian u16.
const ETHERTYPE_IPV4_LE: i32 = 0x0008;
const IPPROTO_UDP: i32 = 17;

/// `return XDP_PASS`.
pub fn empty() -> Vec<Insn> {
    let mut a = Asm::new();
    a.mov_imm(R0, XDP_PASS).exit();
    a.finish().expect("no jumps")
}

/// One call of the argument-less helper `helper` (a clock read such as
/// `HELPER_KTIME_GET_NS`), then `return XDP_PASS`.
pub fn helper_call(helper: i32) -> Vec<Insn> {
    let mut a = Asm::new();
    a.call(helper).mov_imm(R0, XDP_PASS).exit();
    a.finish().expect("no jumps")
}

/// Looks up an all-zero key of `key_size` bytes (a multiple of 4) in the hash map `map_fd`,
/// then `return XDP_PASS`.
pub fn hash_lookup(map_fd: i32, key_size: i16) -> Vec<Insn> {
    let mut a = Asm::new();
    for at in (0..key_size).step_by(4) {
        a.store_imm(Size::W, R10, at - key_size, 0);
    }
    a.mov(R2, R10)
        .add_imm(R2, -i32::from(key_size))
        .load_map_fd(R1, map_fd)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .mov_imm(R0, XDP_PASS)
        .exit();
    a.finish().expect("no jumps")
}

/// `return bpf_redirect(ifindex, 0)` (XDP_REDIRECT to that interface).
pub fn redirect(ifindex: u32) -> Vec<Insn> {
    let mut a = Asm::new();
    a.mov_imm(R1, ifindex as i32)
        .mov_imm(R2, 0)
        .call(HELPER_REDIRECT)
        .exit();
    a.finish().expect("no jumps")
}

/// `struct bpf_fib_lookup`: its size and the offsets of the fields set here.
const FIB_PARAMS_LEN: i16 = 64;
const FIB_FAMILY_AT: i16 = 0;
const FIB_L4_AT: i16 = 1;
const FIB_TOT_LEN_AT: i16 = 6;
const FIB_IFINDEX_AT: i16 = 8;
const FIB_SRC_AT: i16 = 16;
const FIB_DST_AT: i16 = 32;
const AF_INET: i32 = 2;
/// `xdp_md.ingress_ifindex`.
const MD_INGRESS_IFINDEX_AT: i16 = 12;

/// One IPv4 `bpf_fib_lookup()` for UDP `src` → `dst` as received on the ingress interface
/// (flags 0: neighbour resolved, MTU checked against `tot_len`); returns XDP_PASS when the
/// lookup succeeded, XDP_DROP otherwise (so a caller can check it found the route).
pub fn fib_lookup(src: [u8; 4], dst: [u8; 4], tot_len: u16) -> Vec<Insn> {
    let base = -FIB_PARAMS_LEN;
    let mut a = Asm::new();
    a.mov(R6, R1);
    for at in (0..FIB_PARAMS_LEN).step_by(4) {
        a.store_imm(Size::W, R10, base + at, 0);
    }
    a.store_imm(Size::B, R10, base + FIB_FAMILY_AT, AF_INET)
        .store_imm(Size::B, R10, base + FIB_L4_AT, IPPROTO_UDP)
        .store_imm(Size::H, R10, base + FIB_TOT_LEN_AT, i32::from(tot_len))
        .load(Size::W, R2, R6, MD_INGRESS_IFINDEX_AT)
        .store(Size::W, R10, base + FIB_IFINDEX_AT, R2)
        .store_imm(Size::W, R10, base + FIB_SRC_AT, i32::from_le_bytes(src))
        .store_imm(Size::W, R10, base + FIB_DST_AT, i32::from_le_bytes(dst))
        .mov(R1, R6)
        .mov(R2, R10)
        .add_imm(R2, i32::from(base))
        .mov_imm(R3, i32::from(FIB_PARAMS_LEN))
        .mov_imm(R4, 0)
        .call(HELPER_FIB_LOOKUP)
        .jump_imm(Cond::Ne, R0, 0, "miss")
        .mov_imm(R0, XDP_PASS)
        .exit()
        .label("miss")
        .mov_imm(R0, XDP_DROP)
        .exit();
    a.finish().expect("labels placed")
}

/// Varying the UDP source port: `port = base + (counter & mask)` with a per-CPU counter
/// that counts the frames of this CPU (slot 0 of `counter_map_fd`, a u64).
#[derive(Clone, Copy, Debug)]
pub struct Flows {
    pub counter_map_fd: i32,
    /// Number of flows − 1 (flows must be a power of two).
    pub mask: u16,
    pub base_port: u16,
}

/// Restores `template` over the first `template.len()` bytes of the frame (drops frames
/// shorter than that), applies `flows`, then tail-calls slot 0 of `prog_array_fd` (drops if
/// the slot is empty).
pub fn generator(
    template: &[u8],
    prog_array_fd: i32,
    flows: Option<Flows>,
) -> Result<Vec<Insn>, UndefinedLabel> {
    let len = template.len() as i32;
    let mut a = Asm::new();
    a.mov(R6, R1)
        .load(Size::W, R2, R6, 0) // data
        .load(Size::W, R3, R6, 4) // data_end
        .mov(R4, R2)
        .add_imm(R4, len)
        .jump_reg(Cond::Gt, R4, R3, "drop");
    store_template(&mut a, template);
    if let Some(f) = flows {
        a.mov(R7, R2)
            .store_imm(Size::W, R10, -4, 0)
            .mov(R2, R10)
            .add_imm(R2, -4)
            .load_map_fd(R1, f.counter_map_fd)
            .call(HELPER_MAP_LOOKUP_ELEM)
            .jump_imm(Cond::Eq, R0, 0, "tail")
            .load(Size::Dw, R1, R0, 0)
            .add_imm(R1, 1)
            .store(Size::Dw, R0, 0, R1)
            .and_imm(R1, i32::from(f.mask))
            .add_imm(R1, i32::from(f.base_port))
            .to_be16(R1)
            .store(Size::H, R7, UDP_SPORT_AT, R1)
            .label("tail");
    }
    a.mov(R1, R6)
        .load_map_fd(R2, prog_array_fd)
        .mov_imm(R3, 0)
        .call(HELPER_TAIL_CALL)
        .label("drop")
        .mov_imm(R0, XDP_DROP)
        .exit();
    a.finish()
}

/// Stores `template` at the packet pointer in r2 (4-byte words, then the tail).
fn store_template(a: &mut Asm, template: &[u8]) {
    let mut at = 0usize;
    while at + 4 <= template.len() {
        let w = i32::from_le_bytes(template[at..at + 4].try_into().expect("4 bytes"));
        a.store_imm(Size::W, R2, at as i16, w);
        at += 4;
    }
    if at + 2 <= template.len() {
        let h = u16::from_le_bytes([template[at], template[at + 1]]);
        a.store_imm(Size::H, R2, at as i16, i32::from(h));
        at += 2;
    }
    if at < template.len() {
        a.store_imm(Size::B, R2, at as i16, i32::from(template[at]));
    }
}

/// Counts IPv4 UDP frames to `udp_port` in slot 0 of the per-CPU array `map_fd` (u64) and
/// drops them; everything else passes.
pub fn sink_counter(map_fd: i32, udp_port: u16) -> Result<Vec<Insn>, UndefinedLabel> {
    let mut a = Asm::new();
    a.load(Size::W, R2, R1, 0)
        .load(Size::W, R3, R1, 4)
        .mov(R4, R2)
        .add_imm(R4, i32::from(UDP_DPORT_AT) + 2)
        .jump_reg(Cond::Gt, R4, R3, "pass")
        .load(Size::H, R4, R2, ETHERTYPE_AT)
        .jump_imm(Cond::Ne, R4, ETHERTYPE_IPV4_LE, "pass")
        .load(Size::B, R4, R2, IP_PROTO_AT)
        .jump_imm(Cond::Ne, R4, IPPROTO_UDP, "pass")
        .load(Size::H, R4, R2, UDP_DPORT_AT)
        .jump_imm(Cond::Ne, R4, i32::from(udp_port.swap_bytes()), "pass")
        .store_imm(Size::W, R10, -4, 0)
        .mov(R2, R10)
        .add_imm(R2, -4)
        .load_map_fd(R1, map_fd)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jump_imm(Cond::Eq, R0, 0, "drop")
        .load(Size::Dw, R1, R0, 0)
        .add_imm(R1, 1)
        .store(Size::Dw, R0, 0, R1)
        .label("drop")
        .mov_imm(R0, XDP_DROP)
        .exit()
        .label("pass")
        .mov_imm(R0, XDP_PASS)
        .exit();
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rawbpf::asm::{HELPER_KTIME_GET_COARSE_NS, HELPER_KTIME_GET_NS};

    #[test]
    fn the_template_is_stored_in_words_then_the_tail() {
        let template: Vec<u8> = (1..=7).collect();
        let mut a = Asm::new();
        store_template(&mut a, &template);
        let p = a.finish().unwrap();
        let stores: Vec<(u8, i16, i32)> = p.iter().map(|i| (i.code, i.off, i.imm)).collect();
        assert_eq!(
            stores,
            vec![
                (0x62, 0, i32::from_le_bytes([1, 2, 3, 4])),
                (0x6a, 4, i32::from(u16::from_le_bytes([5, 6]))),
                (0x72, 6, 7),
            ]
        );
    }

    #[test]
    fn programs_assemble_and_end_in_exit() {
        let with_flows = Flows {
            counter_map_fd: 3,
            mask: 0xff,
            base_port: 40000,
        };
        for p in [
            empty(),
            helper_call(HELPER_KTIME_GET_NS),
            helper_call(HELPER_KTIME_GET_COARSE_NS),
            hash_lookup(3, 24),
            redirect(7),
            fib_lookup([192, 0, 2, 1], [10, 0, 0, 5], 60),
            generator(&[0u8; 60], 4, None).unwrap(),
            generator(&[0u8; 60], 4, Some(with_flows)).unwrap(),
            sink_counter(5, 5001).unwrap(),
        ] {
            assert_eq!(p.last().unwrap().code, 0x95);
        }
    }
}
