//! SNMP profiles as data: what to read from a device and how rows become samples, written
//! as TOML files. The built-in profiles (`builtin/*.toml`, embedded in the binary) and the
//! files an operator puts in a section's `profile_dirs` go through the same parser
//! (`file.rs`) and the same evaluation (`eval.rs`), so a precision air conditioner's or an
//! array's vendor MIB is a file to add, not code to write. The format is documented in
//! `docs/snmp.md` ("Profiles as files").

mod eval;
mod file;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

pub use eval::{Out, emit};
pub use file::{FileError, line_column, parse};

/// The profiles compiled into the agent, by file: each is an ordinary profile file.
const BUILTIN: &[(&str, &str)] = &[
    ("system.toml", include_str!("builtin/system.toml")),
    ("if_mib.toml", include_str!("builtin/if_mib.toml")),
    (
        "host_resources.toml",
        include_str!("builtin/host_resources.toml"),
    ),
    (
        "entity_sensor.toml",
        include_str!("builtin/entity_sensor.toml"),
    ),
    (
        "cisco_envmon.toml",
        include_str!("builtin/cisco_envmon.toml"),
    ),
    (
        "cisco_process.toml",
        include_str!("builtin/cisco_process.toml"),
    ),
    ("ups_mib.toml", include_str!("builtin/ups_mib.toml")),
    ("fc_mgmt.toml", include_str!("builtin/fc_mgmt.toml")),
    ("fc_if_mib.toml", include_str!("builtin/fc_if_mib.toml")),
    ("fc_fe.toml", include_str!("builtin/fc_fe.toml")),
];

/// The profiles read from every device of a section that names none: the six of the first
/// release. The gear profiles (`ups_mib`, `fc_mgmt`, `fc_if_mib`, `fc_fe`) are asked for by name.
pub const DEFAULT_PROFILES: &[&str] = &[
    "system",
    "if_mib",
    "host_resources",
    "entity_sensor",
    "cisco_envmon",
    "cisco_process",
];

/// One compiled profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileDef {
    pub name: String,
    pub description: String,
    pub scalars: Vec<Scalar>,
    pub tables: Vec<Table>,
}

impl ProfileDef {
    /// Scalar OIDs to GET.
    pub fn scalar_oids(&self) -> impl Iterator<Item = &Vec<u32>> {
        self.scalars
            .iter()
            .flat_map(|s| s.oid.iter().chain(s.labels.iter().map(|(_, o)| o)))
    }

    /// Table columns to walk.
    pub fn columns(&self) -> impl Iterator<Item = &Vec<u32>> {
        self.tables.iter().flat_map(|t| {
            std::iter::once(&t.rows)
                .chain(t.labels.iter().flat_map(|l| l.from.iter()))
                .chain(t.filters.iter().map(|f| &f.column))
                .chain(t.metrics.iter().flat_map(TableMetric::columns))
        })
    }
}

/// A metric read by GET.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub name: String,
    pub oid: Option<Vec<u32>>,
    pub constant: Option<f64>,
    /// Labels whose values are other scalars' text.
    pub labels: Vec<(String, Vec<u32>)>,
    pub transform: Transform,
}

/// Value → sample value: `skip` values give no sample; with `map` the value's text is looked
/// up (else `default`, else no sample); the number is multiplied by `scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub scale: f64,
    pub map: Option<HashMap<String, f64>>,
    pub default: Option<f64>,
    pub skip: HashSet<String>,
}

/// A walked table: its rows are the indexes of `rows`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub rows: Vec<u32>,
    pub labels: Vec<LabelSpec>,
    pub filters: Vec<Filter>,
    pub metrics: Vec<TableMetric>,
}

/// Which arcs of a row's index make a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexPart {
    All,
    Last,
}

/// A row label: the first non-empty text of `from` at the row, else the `index` part (or
/// no label when neither, for an optional one); `map` renames values; `unique` appends
/// `#<index>` to a value a previous row of the table already had.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSpec {
    pub name: String,
    pub from: Vec<Vec<u32>>,
    pub index: Option<IndexPart>,
    pub unique: bool,
    pub map: Option<HashMap<String, String>>,
}

/// A comparison of a column's value at the row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    In(HashSet<String>),
    NotIn(HashSet<String>),
    Above(f64),
}

/// Rows without the column, or whose value fails the condition, are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: Vec<u32>,
    pub cond: Cond,
}

/// A per-metric condition: when it fails the metric is `otherwise` (or absent).
#[derive(Debug, Clone, PartialEq)]
pub struct When {
    pub column: Vec<u32>,
    pub cond: Cond,
    pub otherwise: Option<f64>,
}

/// A value column with its own scale (fallbacks may be in other units).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub column: Vec<u32>,
    pub scale: f64,
}

/// A power-of-ten factor read from a column: its integer (or its `map`ped exponent),
/// negated for a divisor (ENTITY-SENSOR's precision).
#[derive(Debug, Clone, PartialEq)]
pub struct Pow10 {
    pub column: Vec<u32>,
    pub map: Option<HashMap<String, i32>>,
    pub negate: bool,
}

/// Gauge (the value) or rate (a counter's increase per second between polls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Rate,
}

/// A metric of a table, one sample per row.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMetric {
    pub name: String,
    pub kind: Kind,
    pub constant: Option<f64>,
    /// The value column first, then the fallbacks.
    pub sources: Vec<Source>,
    pub skip_zero: bool,
    pub transform: Transform,
    pub when: Option<When>,
    pub multiply: Vec<Vec<u32>>,
    pub divide: Vec<Vec<u32>>,
    pub pow10: Vec<Pow10>,
    pub discontinuity: Option<Vec<u32>>,
}

impl TableMetric {
    fn columns(&self) -> impl Iterator<Item = &Vec<u32>> {
        self.sources
            .iter()
            .map(|s| &s.column)
            .chain(self.when.iter().map(|w| &w.column))
            .chain(self.multiply.iter())
            .chain(self.divide.iter())
            .chain(self.pow10.iter().map(|p| &p.column))
            .chain(self.discontinuity.iter())
    }
}

/// Every profile a section can name, by name.
pub type Registry = BTreeMap<String, Arc<ProfileDef>>;

/// `file:line:column: message` for each problem of a profile file.
fn located(file: &str, errors: Vec<FileError>) -> Vec<String> {
    errors
        .into_iter()
        .map(|e| format!("{file}:{}:{}: {}", e.line, e.column, e.message))
        .collect()
}

/// The built-in profiles (parsed once; a broken one is a bug the tests catch).
pub fn builtin() -> Result<Registry, Vec<String>> {
    let mut registry = Registry::new();
    let mut errors = Vec::new();
    for (file, src) in BUILTIN {
        match parse(src) {
            Ok(def) => {
                registry.insert(def.name.clone(), Arc::new(def));
            }
            Err(e) => errors.extend(located(&format!("builtin/{file}"), e)),
        }
    }
    if errors.is_empty() {
        Ok(registry)
    } else {
        Err(errors)
    }
}

/// Most bytes read from one profile file.
const MAX_PROFILE_FILE: u64 = 1024 * 1024;

/// The built-ins plus every `*.toml` file directly in `dirs`, in file-name order. A file
/// that does not parse, or a name used twice, is an error naming the file (and its line and
/// column); every problem of every file is returned at once.
pub fn load(dirs: &[impl AsRef<Path>]) -> Result<Registry, Vec<String>> {
    let mut registry = builtin()?;
    let mut errors = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("profile_dirs: {}: {e}", dir.display()));
                continue;
            }
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        for path in files {
            let shown = path.display().to_string();
            let src = match crate::sample_out::read_bounded(&path, MAX_PROFILE_FILE) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            match parse(&src) {
                Ok(def) if registry.contains_key(&def.name) => errors.push(format!(
                    "{shown}:1:1: profile name {:?} is already taken (built-in or an earlier file): choose another",
                    def.name
                )),
                Ok(def) => {
                    registry.insert(def.name.clone(), Arc::new(def));
                }
                Err(e) => errors.extend(located(&shown, e)),
            }
        }
    }
    if errors.is_empty() {
        Ok(registry)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;

/// The profiles' evaluation on recorded rows, as a poll would see them: for the benchmark
/// (`bench/benches/snmp_profiles.rs`) and tools, not for probes.
#[doc(hidden)]
pub mod replay {
    use std::sync::Arc;

    use patrol_proto::Sample;

    use super::{Out, ProfileDef, emit};
    use crate::snmp::rates::Counters;
    use crate::snmp::table::{Poll, Val};

    /// Rows of one device, filed by the columns and scalars `profiles` read.
    pub struct Replay {
        profiles: Vec<Arc<ProfileDef>>,
        poll: Poll,
        counters: Counters,
    }

    impl Replay {
        pub fn new(profiles: Vec<Arc<ProfileDef>>, rows: &[(Vec<u32>, Val)]) -> Self {
            let mut poll = Poll::default();
            for p in &profiles {
                for c in p.columns() {
                    poll.add_rows(c, rows.iter().cloned());
                }
                for s in p.scalar_oids() {
                    if let Some((_, v)) = rows.iter().find(|(o, _)| o == s) {
                        poll.scalars.insert(s.clone(), v.clone());
                    }
                }
            }
            Self {
                profiles,
                poll,
                counters: Counters::default(),
            }
        }

        /// One round at `now_s` (monotonic seconds): the samples every profile makes.
        pub fn round(&mut self, now_s: f64, out: &mut Vec<Sample>) {
            self.counters.begin(now_s, None);
            let mut sink = Out {
                out,
                device: "bench",
                now_ms: 0,
            };
            for p in &self.profiles {
                emit(p, &self.poll, &mut self.counters, &mut sink);
            }
            self.counters.finish();
        }
    }
}
