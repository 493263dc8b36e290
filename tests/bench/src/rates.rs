//! Rates of one forwarding run (frames generated, frames delivered, time taken) and their
//! medians over rounds, for the throughput benchmark. Pure.

use serde::Serialize;

use super::stats::median;

/// One measured run of the generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Frames the generator produced (the repeat count).
    pub generated: u64,
    /// Frames the sink counted.
    pub delivered: u64,
    /// Wall-clock time of the generating system call.
    pub wall_ns: u64,
    /// The kernel's mean time per generated frame (whole ns), which excludes time the thread
    /// gave up the CPU.
    pub kernel_ns_per_frame: u64,
    /// CPU time the generating thread used (a cross-check of the kernel's time: softirq work
    /// deferred to ksoftirqd would be missing from both).
    pub thread_cpu_ns: u64,
}

impl Sample {
    /// Millions of frames per second over `ns`.
    fn mpps(frames: u64, ns: u64) -> f64 {
        if ns == 0 {
            0.0
        } else {
            frames as f64 * 1e3 / ns as f64
        }
    }

    pub fn generated_mpps(&self) -> f64 {
        Self::mpps(self.generated, self.wall_ns)
    }

    pub fn delivered_mpps(&self) -> f64 {
        Self::mpps(self.delivered, self.wall_ns)
    }

    /// Delivered rate over the kernel-measured time instead of the wall clock.
    pub fn delivered_mpps_kernel_time(&self) -> f64 {
        Self::mpps(self.delivered, self.kernel_ns_per_frame * self.generated)
    }

    /// How far the kernel's time (per frame × frames) is from the thread's CPU time, relative
    /// to the latter (0 when no CPU time was recorded).
    pub fn kernel_vs_thread_cpu(&self) -> f64 {
        if self.thread_cpu_ns == 0 {
            return 0.0;
        }
        let kernel = (self.kernel_ns_per_frame * self.generated) as f64;
        (kernel - self.thread_cpu_ns as f64).abs() / self.thread_cpu_ns as f64
    }

    /// Delivered / generated (0 when nothing was generated).
    pub fn delivery(&self) -> f64 {
        if self.generated == 0 {
            0.0
        } else {
            self.delivered as f64 / self.generated as f64
        }
    }
}

/// Medians of one path's rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PathRates {
    pub generated_mpps: f64,
    pub delivered_mpps: f64,
    pub delivery: f64,
    pub delivered_mpps_kernel_time: f64,
}

impl PathRates {
    pub fn of(samples: &[Sample]) -> Self {
        let med = |f: fn(&Sample) -> f64| {
            median(&samples.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
        };
        Self {
            generated_mpps: med(Sample::generated_mpps),
            delivered_mpps: med(Sample::delivered_mpps),
            delivery: med(Sample::delivery),
            delivered_mpps_kernel_time: med(Sample::delivered_mpps_kernel_time),
        }
    }
}

/// `a / b`, or `None` when `b` delivered nothing.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

pub fn fmt_mpps(v: f64) -> String {
    format!("{v:.3}")
}

pub fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_string(), |r| format!("{r:.2}×"))
}

pub fn fmt_percent(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(generated: u64, delivered: u64, wall_ns: u64, kernel: u64) -> Sample {
        Sample {
            generated,
            delivered,
            wall_ns,
            kernel_ns_per_frame: kernel,
            thread_cpu_ns: 0,
        }
    }

    #[test]
    fn rates_are_frames_per_wall_clock_second() {
        // 2 M frames in 1 s, 1.5 M of them delivered.
        let x = s(2_000_000, 1_500_000, 1_000_000_000, 400);
        assert_eq!(x.generated_mpps(), 2.0);
        assert_eq!(x.delivered_mpps(), 1.5);
        assert_eq!(x.delivery(), 0.75);
        // Kernel time: 400 ns × 2 M = 0.8 s.
        assert!((x.delivered_mpps_kernel_time() - 1.875).abs() < 1e-12);
        assert_eq!(s(0, 0, 0, 0).delivered_mpps(), 0.0);
        assert_eq!(s(0, 0, 0, 0).delivery(), 0.0);
        let mut y = s(1_000, 1_000, 2_000_000, 500);
        assert_eq!(y.kernel_vs_thread_cpu(), 0.0, "not recorded");
        y.thread_cpu_ns = 400_000;
        assert_eq!(y.kernel_vs_thread_cpu(), 0.25);
    }

    #[test]
    fn path_rates_are_medians_of_rounds() {
        let r = PathRates::of(&[
            s(1_000, 1_000, 1_000_000, 900),
            s(1_000, 500, 1_000_000, 900),
            s(1_000, 900, 1_000_000, 900),
        ]);
        assert_eq!(r.delivered_mpps, 0.9);
        assert_eq!(r.generated_mpps, 1.0);
        assert_eq!(r.delivery, 0.9);
    }

    #[test]
    fn ratios_need_a_nonzero_denominator() {
        assert_eq!(ratio(6.0, 2.0), Some(3.0));
        assert_eq!(ratio(6.0, 0.0), None);
        assert_eq!(fmt_ratio(Some(5.004)), "5.00×");
        assert_eq!(fmt_ratio(None), "—");
        assert_eq!(fmt_percent(0.9876), "98.8 %");
        assert_eq!(fmt_mpps(1.23456), "1.235");
    }
}
