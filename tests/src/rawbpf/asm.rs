//! A tiny eBPF assembler: the instructions the benchmark's helper programs need (moves,
//! 64-bit arithmetic, loads and stores, conditional jumps to labels, helper calls, map
//! references), encoded as the kernel's `struct bpf_insn`. Pure.

use std::collections::BTreeMap;

/// One encoded instruction (`struct bpf_insn`, 8 bytes, little-endian fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// `dst_reg` in the low nibble, `src_reg` in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Self {
        Self {
            code,
            regs: (src.0 << 4) | dst.0,
            off,
            imm,
        }
    }

    /// The 8 bytes the kernel reads.
    pub fn bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }
}

/// A register, `r0` to `r10` (`r10` is the read-only frame pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R10: Reg = Reg(10);

/// Access sizes of loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    B,
    H,
    W,
    Dw,
}

impl Size {
    fn bits(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::Dw => 0x18,
        }
    }
}

/// Conditions of jumps (unsigned comparisons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq,
    Ne,
    Gt,
}

impl Cond {
    fn bits(self) -> u8 {
        match self {
            Cond::Eq => 0x10,
            Cond::Gt => 0x20,
            Cond::Ne => 0x50,
        }
    }
}

const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
const MODE_IMM: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;
const OP_ADD: u8 = 0x00;
const OP_AND: u8 = 0x50;
const OP_MOV: u8 = 0xb0;
const OP_END: u8 = 0xd0;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;
/// `src_reg` of a 64-bit immediate load that names a map by file descriptor.
const PSEUDO_MAP_FD: u8 = 1;

/// Helper function numbers (`enum bpf_func_id`).
pub const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
pub const HELPER_KTIME_GET_NS: i32 = 5;
pub const HELPER_KTIME_GET_COARSE_NS: i32 = 160;
pub const HELPER_TAIL_CALL: i32 = 12;
pub const HELPER_REDIRECT: i32 = 23;
pub const HELPER_FIB_LOOKUP: i32 = 69;

/// Builds a program; jumps name labels that [`Asm::finish`] resolves.
#[derive(Debug, Default)]
pub struct Asm {
    insns: Vec<Insn>,
    labels: BTreeMap<&'static str, usize>,
    /// (instruction index, label) of jumps to patch.
    fixups: Vec<(usize, &'static str)>,
}

/// A jump to a label that was never placed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("jump to undefined label `{0}`")]
pub struct UndefinedLabel(pub &'static str);

impl Asm {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, i: Insn) -> &mut Self {
        self.insns.push(i);
        self
    }

    /// `dst = imm` (64-bit, sign-extended).
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(Insn::new(CLASS_ALU64 | OP_MOV | SRC_K, dst, R0, 0, imm))
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.push(Insn::new(CLASS_ALU64 | OP_MOV | SRC_X, dst, src, 0, 0))
    }

    /// `dst += imm`.
    pub fn add_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(Insn::new(CLASS_ALU64 | OP_ADD | SRC_K, dst, R0, 0, imm))
    }

    /// `dst &= imm`.
    pub fn and_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(Insn::new(CLASS_ALU64 | OP_AND | SRC_K, dst, R0, 0, imm))
    }

    /// `dst = htobe16(dst)` (upper bits cleared).
    pub fn to_be16(&mut self, dst: Reg) -> &mut Self {
        // BPF_ALU | BPF_END | BPF_TO_BE (the source bit selects big-endian).
        self.push(Insn::new(CLASS_ALU | OP_END | SRC_X, dst, R0, 0, 16))
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(Insn::new(
            CLASS_LDX | MODE_MEM | size.bits(),
            dst,
            src,
            off,
            0,
        ))
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.push(Insn::new(
            CLASS_STX | MODE_MEM | size.bits(),
            dst,
            src,
            off,
            0,
        ))
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.push(Insn::new(
            CLASS_ST | MODE_MEM | size.bits(),
            dst,
            R0,
            off,
            imm,
        ))
    }

    /// `dst = <map fd>` (two instruction slots; the kernel replaces the fd by the map).
    pub fn load_map_fd(&mut self, dst: Reg, fd: i32) -> &mut Self {
        self.push(Insn::new(
            CLASS_LD | MODE_IMM | Size::Dw.bits(),
            dst,
            Reg(PSEUDO_MAP_FD),
            0,
            fd,
        ));
        self.push(Insn::new(0, R0, R0, 0, 0))
    }

    /// `if dst <cond> imm goto label`.
    pub fn jump_imm(&mut self, cond: Cond, dst: Reg, imm: i32, label: &'static str) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.push(Insn::new(CLASS_JMP | cond.bits() | SRC_K, dst, R0, 0, imm))
    }

    /// `if dst <cond> src goto label`.
    pub fn jump_reg(&mut self, cond: Cond, dst: Reg, src: Reg, label: &'static str) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.push(Insn::new(CLASS_JMP | cond.bits() | SRC_X, dst, src, 0, 0))
    }

    /// Calls helper `id` (arguments in r1-r5, result in r0; r1-r5 are clobbered).
    pub fn call(&mut self, id: i32) -> &mut Self {
        self.push(Insn::new(CLASS_JMP | OP_CALL, R0, R0, 0, id))
    }

    pub fn exit(&mut self) -> &mut Self {
        self.push(Insn::new(CLASS_JMP | OP_EXIT, R0, R0, 0, 0))
    }

    /// Places `name` at the next instruction.
    pub fn label(&mut self, name: &'static str) -> &mut Self {
        self.labels.insert(name, self.insns.len());
        self
    }

    /// The program with every jump resolved.
    pub fn finish(mut self) -> Result<Vec<Insn>, UndefinedLabel> {
        for (at, label) in &self.fixups {
            let target = *self.labels.get(label).ok_or(UndefinedLabel(label))?;
            // Offsets count from the instruction after the jump.
            self.insns[*at].off = (target as i64 - *at as i64 - 1) as i16;
        }
        Ok(self.insns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(insns: &[Insn]) -> Vec<[u8; 8]> {
        insns.iter().map(Insn::bytes).collect()
    }

    #[test]
    fn encodes_like_the_kernel_headers() {
        let mut a = Asm::new();
        a.mov_imm(R0, 2).exit();
        // `r0 = 2; exit` as clang emits it.
        assert_eq!(
            bytes(&a.finish().unwrap()),
            vec![[0xb7, 0, 0, 0, 2, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]]
        );
        let mut a = Asm::new();
        a.load(Size::W, R2, R1, 4)
            .store_imm(Size::W, R10, -4, 0)
            .store(Size::H, R7, 34, R1)
            .to_be16(R1)
            .load_map_fd(R1, 7)
            .call(HELPER_TAIL_CALL);
        assert_eq!(
            bytes(&a.finish().unwrap()),
            vec![
                [0x61, 0x12, 4, 0, 0, 0, 0, 0],
                [0x62, 0x0a, 0xfc, 0xff, 0, 0, 0, 0],
                [0x6b, 0x17, 34, 0, 0, 0, 0, 0],
                [0xdc, 0x01, 0, 0, 16, 0, 0, 0],
                [0x18, 0x11, 0, 0, 7, 0, 0, 0],
                [0, 0, 0, 0, 0, 0, 0, 0],
                [0x85, 0, 0, 0, 12, 0, 0, 0],
            ]
        );
    }

    #[test]
    fn jumps_resolve_forward_and_backward() {
        let mut a = Asm::new();
        a.label("top")
            .jump_imm(Cond::Eq, R0, 0, "out")
            .mov_imm(R0, 1)
            .jump_reg(Cond::Gt, R4, R3, "top")
            .label("out")
            .exit();
        let p = a.finish().unwrap();
        assert_eq!((p[0].code, p[0].off), (0x15, 2));
        assert_eq!((p[2].code, p[2].regs, p[2].off), (0x2d, 0x34, -3));
    }

    #[test]
    fn an_undefined_label_is_an_error() {
        let mut a = Asm::new();
        a.jump_imm(Cond::Ne, R0, 0, "nowhere");
        assert_eq!(a.finish(), Err(UndefinedLabel("nowhere")));
    }
}
