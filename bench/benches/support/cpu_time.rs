//! The benchmark thread's CPU time as a criterion measurement, read from
//! `/proc/thread-self/schedstat` (time on CPU, ns). On a shared, loaded machine wall time counts
//! the waits for a core too; CPU time counts the work, which is what "CPU per sample" means.
//! Throughput is shown inverted, as CPU time per element.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// CPU time of the calling thread (criterion runs the routine on the thread that measures).
pub struct ThreadCpu;

fn cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("/proc/thread-self/schedstat: this benchmark needs Linux with schedstats");
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("schedstat starts with the time on CPU in ns")
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

fn time_unit(ns: f64) -> (f64, &'static str) {
    if ns < 1e3 {
        (1.0, "ns cpu")
    } else if ns < 1e6 {
        (1e-3, "µs cpu")
    } else if ns < 1e9 {
        (1e-6, "ms cpu")
    } else {
        (1e-9, "s cpu")
    }
}

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = time_unit(typical);
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => n,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Bits(n) => n,
        }
        .max(1) as f64;
        let (factor, unit) = time_unit(typical / n);
        for v in values {
            *v = *v / n * factor;
        }
        match unit {
            "ns cpu" => "ns cpu/elem",
            "µs cpu" => "µs cpu/elem",
            "ms cpu" => "ms cpu/elem",
            _ => "s cpu/elem",
        }
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
