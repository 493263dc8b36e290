//! Hand-assembled helper XDP programs for the benchmarks (`vrrp-bench`) and for tests that need
//! a program other than the real one, loaded with the raw `bpf()` system call: an empty program
//! (the cost floor), a frame generator for BPF_PROG_TEST_RUN's live-frames mode that restores a
//! template and tail-calls the program under test, and a counting sink. Kept apart from the real
//! program so its object stays exactly what ships.

pub mod asm;
pub mod progs;
pub mod sys;
