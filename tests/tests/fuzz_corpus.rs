//! The fuzz targets (fuzz/targets.rs) on stable: every corpus input and every regression (a
//! crash the fuzzer once found, kept under fuzz/regressions/<target>/) must run without a
//! panic, then a few thousand deterministic mutations of each input (truncations, byte flips,
//! splices) as a cheap pass between the coverage-guided runs of bench/fuzz.sh.

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("wire_decode", targets::wire_decode),
    ("rule_file", targets::rule_file),
    ("site_file", targets::site_file),
    ("agent_config", targets::agent_config),
    ("weblogic_record", targets::weblogic_record),
    ("alert_log_line", targets::alert_log_line),
    ("snmp_message", targets::snmp_message),
    ("syslog_message", targets::syslog_message),
    ("snmp_trap", targets::snmp_trap),
];

/// Mutations per input.
const MUTATIONS: usize = 300;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p, data));
        }
    }
    out.sort();
    out
}

/// xorshift64: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, data: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 => d.truncate(rng.below(d.len() + 1)),
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            2 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = [0, 0xff, b'"', b'[', b'\n', b'=', 0x80][rng.below(7)];
            }
            3 => {
                let at = rng.below(d.len() + 1);
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                d.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                let at = rng.below(d.len() + 1);
                let n = rng.below(16);
                let from = rng.below(d.len() + 1);
                let to = (from + n).min(d.len());
                let copy: Vec<u8> = d[from..to].to_vec();
                d.splice(at..at, copy);
            }
        }
    }
    d
}

#[test]
fn every_corpus_input_and_regression_runs_without_a_panic() {
    for (name, target) in TARGETS {
        let inputs = inputs(name);
        assert!(
            !inputs.is_empty(),
            "fuzz/corpus/{name} is empty: the target would be replayed on nothing"
        );
        for (path, data) in &inputs {
            let r = std::panic::catch_unwind(|| target(data));
            assert!(r.is_ok(), "{name} panicked on {}", path.display());
        }
    }
}

#[test]
fn mutations_of_the_corpus_run_without_a_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (name, target) in TARGETS {
        let inputs = inputs(name);
        for (path, data) in &inputs {
            let other = &inputs[rng.below(inputs.len())].1;
            for _ in 0..MUTATIONS {
                let m = mutate(&mut rng, data, other);
                let r = std::panic::catch_unwind(|| target(&m));
                if r.is_err() {
                    // Kept for the fuzzer and this test: add it under fuzz/regressions/.
                    let out = std::env::temp_dir().join(format!("patrol-fuzz-{name}"));
                    let _ = std::fs::write(&out, &m);
                    panic!(
                        "{name} panicked on a mutation of {} (written to {})",
                        path.display(),
                        out.display()
                    );
                }
            }
        }
    }
}
