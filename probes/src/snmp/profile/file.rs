//! A profile file as written (TOML) and its checked form. Every problem of a file is reported
//! at once, each at `file:line:column` with a plain sentence; the format is described in
//! `docs/snmp.md` ("Profiles as files") and the built-in profiles under `builtin/` are examples
//! of every feature.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use toml::Spanned;

use super::{
    Cond, Filter, IndexPart, Kind, LabelSpec, Pow10, ProfileDef, Scalar, Source, Table,
    TableMetric, Transform, When,
};

/// A problem in a profile file, with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A value compared with what a device returned: an integer (`5`) or text (`"5"`, an OID).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Key {
    Int(i64),
    Text(String),
}

impl Key {
    fn text(&self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    /// Symbolic names for OIDs, used in the rest of the file.
    #[serde(default)]
    oids: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "metric")]
    metrics: Vec<RawScalar>,
    #[serde(default, rename = "table")]
    tables: Vec<RawTable>,
}

/// How a value is turned into a sample value (fields shared by scalar and table metrics).
struct RawTransform<'a> {
    scale: Option<f64>,
    map: &'a Option<BTreeMap<String, f64>>,
    default: Option<f64>,
    skip: &'a [Key],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScalar {
    name: Spanned<String>,
    #[serde(default)]
    oid: Option<Spanned<String>>,
    /// A constant value (for info metrics whose labels carry the data).
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    map: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    default: Option<f64>,
    #[serde(default)]
    skip: Vec<Key>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    /// The column whose indexes are the table's rows.
    rows: Spanned<String>,
    #[serde(default)]
    labels: BTreeMap<String, Spanned<RawLabel>>,
    #[serde(default, rename = "filter")]
    filters: Vec<RawFilter>,
    #[serde(default, rename = "metric")]
    metrics: Vec<RawTableMetric>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    #[serde(default)]
    from: Vec<Spanned<String>>,
    #[serde(default)]
    index: Option<Spanned<String>>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    map: Option<BTreeMap<String, String>>,
}

/// A condition on a column (fields shared by filters and `when`).
struct RawCond<'a> {
    in_: &'a Option<Vec<Key>>,
    not_in: &'a Option<Vec<Key>>,
    above: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    column: Spanned<String>,
    #[serde(default, rename = "in")]
    in_: Option<Vec<Key>>,
    #[serde(default)]
    not_in: Option<Vec<Key>>,
    #[serde(default)]
    above: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    column: Spanned<String>,
    #[serde(default, rename = "in")]
    in_: Option<Vec<Key>>,
    #[serde(default)]
    not_in: Option<Vec<Key>>,
    #[serde(default)]
    above: Option<f64>,
    #[serde(default)]
    otherwise: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFallback {
    column: Spanned<String>,
    #[serde(default)]
    scale: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPow10 {
    column: Spanned<String>,
    #[serde(default)]
    map: Option<BTreeMap<String, i32>>,
    #[serde(default)]
    negate: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTableMetric {
    name: Spanned<String>,
    #[serde(default)]
    column: Option<Spanned<String>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default, rename = "type")]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    fallback: Vec<RawFallback>,
    #[serde(default)]
    skip_zero: bool,
    #[serde(default)]
    when: Option<RawWhen>,
    #[serde(default)]
    multiply: Vec<Spanned<String>>,
    #[serde(default)]
    divide: Vec<Spanned<String>>,
    #[serde(default)]
    pow10: Vec<RawPow10>,
    #[serde(default)]
    discontinuity: Option<Spanned<String>>,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    map: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    default: Option<f64>,
    #[serde(default)]
    skip: Vec<Key>,
}

/// 1-based line and column of byte `offset` in `src` (columns count characters).
pub fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before
        .get(line_start..)
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

struct Checker<'a> {
    src: &'a str,
    oids: HashMap<String, Vec<u32>>,
    errors: Vec<FileError>,
}

/// Metric and label names: `snake_case`, as everywhere in Patrol.
fn is_snake(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 128
}

/// Arcs of a dotted numeric OID (leading `.` allowed), `None` when it is not one.
fn numeric(text: &str) -> Option<Vec<u32>> {
    let body = text.strip_prefix('.').unwrap_or(text);
    let arcs: Option<Vec<u32>> = body.split('.').map(|a| a.parse().ok()).collect();
    arcs.filter(|a| (2..=128).contains(&a.len()))
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: String) {
        let (line, column) = line_column(self.src, offset);
        self.errors.push(FileError {
            line,
            column,
            message,
        });
    }

    /// An OID as written: numeric, or a name from `[oids]` with an optional numeric suffix
    /// (`ifEntry.8`, `upsOutputSource.0`).
    fn oid(&mut self, text: &Spanned<String>) -> Option<Vec<u32>> {
        let raw = text.get_ref();
        if let Some(arcs) = numeric(raw) {
            return Some(arcs);
        }
        let (name, suffix) = match raw.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (raw.as_str(), None),
        };
        let base = self.oids.get(name).cloned();
        let suffix_arcs = suffix.map(|s| {
            s.split('.')
                .map(|a| a.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
        });
        match (base, suffix_arcs) {
            (Some(mut base), None) => {
                base.truncate(128);
                Some(base)
            }
            (Some(mut base), Some(Some(more))) if base.len() + more.len() <= 128 => {
                base.extend(more);
                Some(base)
            }
            _ => {
                self.error(
                    text.span().start,
                    format!(
                        "unknown OID syntax {raw:?}: write a numeric OID (\"1.3.6.1.2.1.2.2.1.8\") \
                         or a name from this file's [oids] table, optionally with a numeric \
                         suffix (\"ifOperStatus\", \"sysUpTime.0\"); MIB names are not resolved"
                    ),
                );
                None
            }
        }
    }

    fn name(&mut self, name: &Spanned<String>, what: &str) -> Option<String> {
        if is_snake(name.get_ref()) {
            Some(name.get_ref().clone())
        } else {
            self.error(
                name.span().start,
                format!(
                    "{what} {:?} is not a snake_case name (lower-case letters, digits, '_')",
                    name.get_ref()
                ),
            );
            None
        }
    }

    fn transform(&mut self, raw: RawTransform<'_>, at: usize) -> Transform {
        let scale = raw.scale.unwrap_or(1.0);
        if !scale.is_finite() || scale == 0.0 {
            self.error(at, "scale must be a finite, non-zero number".to_owned());
        }
        if raw.default.is_some() && raw.map.is_none() {
            self.error(at, "default only applies with map".to_owned());
        }
        Transform {
            scale,
            map: raw.map.clone().map(|m| m.into_iter().collect()),
            default: raw.default,
            skip: raw.skip.iter().map(Key::text).collect(),
        }
    }

    fn cond(&mut self, raw: RawCond<'_>, at: usize) -> Option<Cond> {
        let set = |keys: &[Key]| keys.iter().map(Key::text).collect::<HashSet<String>>();
        match (raw.in_, raw.not_in, raw.above) {
            (Some(k), None, None) => Some(Cond::In(set(k))),
            (None, Some(k), None) => Some(Cond::NotIn(set(k))),
            (None, None, Some(a)) => Some(Cond::Above(a)),
            _ => {
                self.error(at, "give exactly one of in, not_in and above".to_owned());
                None
            }
        }
    }

    fn columns(&mut self, list: &[Spanned<String>]) -> Vec<Vec<u32>> {
        list.iter().filter_map(|c| self.oid(c)).collect()
    }

    fn scalar(&mut self, raw: &RawScalar) -> Option<Scalar> {
        let at = raw.name.span().start;
        let name = self.name(&raw.name, "metric name");
        let oid = raw.oid.as_ref().and_then(|o| self.oid(o));
        match (&raw.oid, raw.value) {
            (None, None) => self.error(at, "a metric needs oid (or a constant value)".to_owned()),
            (Some(_), Some(_)) => self.error(at, "give oid or value, not both".to_owned()),
            _ => {}
        }
        let mut labels = Vec::new();
        for (label, source) in &raw.labels {
            if !is_snake(label) || label == "device" || label == "host" {
                self.error(
                    source.span().start,
                    format!("label {label:?} is not a usable label name"),
                );
            }
            if let Some(o) = self.oid(source) {
                labels.push((label.clone(), o));
            }
        }
        let transform = self.transform(
            RawTransform {
                scale: raw.scale,
                map: &raw.map,
                default: raw.default,
                skip: &raw.skip,
            },
            at,
        );
        Some(Scalar {
            name: name?,
            oid,
            constant: raw.value,
            labels,
            transform,
        })
    }

    fn label(&mut self, name: &str, raw: &Spanned<RawLabel>) -> Option<LabelSpec> {
        let at = raw.span().start;
        let spec = raw.get_ref();
        if !is_snake(name) || name == "device" || name == "host" {
            self.error(at, format!("label {name:?} is not a usable label name"));
        }
        let index = match spec
            .index
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span().start))
        {
            None => None,
            Some(("all", _)) => Some(IndexPart::All),
            Some(("last", _)) => Some(IndexPart::Last),
            Some((other, at)) => {
                self.error(at, format!("index {other:?}: \"all\" or \"last\""));
                None
            }
        };
        if spec.from.is_empty() && index.is_none() {
            self.error(at, format!("label {name:?}: give from (columns) or index"));
        }
        if spec.optional && index.is_some() {
            self.error(
                at,
                format!("label {name:?}: optional and index exclude each other"),
            );
        }
        let from = self.columns(&spec.from);
        Some(LabelSpec {
            name: name.to_owned(),
            from,
            // A label read from columns falls back to the whole index unless it is optional.
            index: index.or((!spec.optional).then_some(IndexPart::All)),
            unique: spec.unique,
            map: spec.map.clone().map(|m| m.into_iter().collect()),
        })
    }

    fn table_metric(&mut self, raw: &RawTableMetric) -> Option<TableMetric> {
        let at = raw.name.span().start;
        let name = self.name(&raw.name, "metric name");
        let kind = match raw
            .kind
            .as_ref()
            .map(|k| (k.get_ref().as_str(), k.span().start))
        {
            None | Some(("gauge", _)) => Kind::Gauge,
            Some(("rate", _)) => Kind::Rate,
            Some((other, at)) => {
                self.error(at, format!("type {other:?}: \"gauge\" or \"rate\""));
                Kind::Gauge
            }
        };
        let transform = self.transform(
            RawTransform {
                scale: raw.scale,
                map: &raw.map,
                default: raw.default,
                skip: &raw.skip,
            },
            at,
        );
        if kind == Kind::Rate && name.as_deref().is_some_and(|n| !n.ends_with("_per_second")) {
            self.error(
                at,
                "a rate is per second, so its name must end in _per_second".to_owned(),
            );
        }
        let mut sources = Vec::new();
        match (&raw.column, raw.value) {
            (Some(c), None) => {
                if let Some(o) = self.oid(c) {
                    sources.push(Source {
                        column: o,
                        scale: transform.scale,
                    });
                }
            }
            (None, Some(_)) => {}
            _ => self.error(
                at,
                "give column or a constant value, one of the two".to_owned(),
            ),
        }
        for f in &raw.fallback {
            if let Some(o) = self.oid(&f.column) {
                sources.push(Source {
                    column: o,
                    scale: f.scale.unwrap_or(transform.scale),
                });
            }
        }
        let when = match &raw.when {
            Some(w) => {
                let column = self.oid(&w.column);
                let raw_cond = RawCond {
                    in_: &w.in_,
                    not_in: &w.not_in,
                    above: w.above,
                };
                let cond = self.cond(raw_cond, w.column.span().start);
                match (column, cond) {
                    (Some(column), Some(cond)) => Some(When {
                        column,
                        cond,
                        otherwise: w.otherwise,
                    }),
                    _ => None,
                }
            }
            None => None,
        };
        let mut pow10 = Vec::new();
        for p in &raw.pow10 {
            if let Some(column) = self.oid(&p.column) {
                pow10.push(Pow10 {
                    column,
                    map: p.map.clone().map(|m| m.into_iter().collect()),
                    negate: p.negate,
                });
            }
        }
        let discontinuity = raw.discontinuity.as_ref().and_then(|d| self.oid(d));
        if discontinuity.is_some() && kind != Kind::Rate {
            self.error(
                at,
                "discontinuity only applies to type = \"rate\"".to_owned(),
            );
        }
        Some(TableMetric {
            name: name?,
            kind,
            constant: raw.value,
            sources,
            skip_zero: raw.skip_zero,
            transform,
            when,
            multiply: self.columns(&raw.multiply),
            divide: self.columns(&raw.divide),
            pow10,
            discontinuity,
        })
    }

    fn table(&mut self, raw: &RawTable) -> Option<Table> {
        let rows = self.oid(&raw.rows);
        let labels: Vec<LabelSpec> = raw
            .labels
            .iter()
            .filter_map(|(name, spec)| self.label(name, spec))
            .collect();
        let mut filters = Vec::new();
        for f in &raw.filters {
            let column = self.oid(&f.column);
            let raw_cond = RawCond {
                in_: &f.in_,
                not_in: &f.not_in,
                above: f.above,
            };
            let cond = self.cond(raw_cond, f.column.span().start);
            if let (Some(column), Some(cond)) = (column, cond) {
                filters.push(Filter { column, cond });
            }
        }
        if raw.metrics.is_empty() {
            self.error(
                raw.rows.span().start,
                "a table needs at least one [[table.metric]]".to_owned(),
            );
        }
        let metrics = raw
            .metrics
            .iter()
            .filter_map(|m| self.table_metric(m))
            .collect();
        Some(Table {
            rows: rows?,
            labels,
            filters,
            metrics,
        })
    }
}

/// Parses and checks one profile file; every problem at once, in file order.
pub fn parse(src: &str) -> Result<ProfileDef, Vec<FileError>> {
    let raw: RawFile = toml::from_str(src).map_err(|e| {
        let (line, column) = line_column(src, e.span().map_or(0, |s| s.start));
        vec![FileError {
            line,
            column,
            message: e.message().trim().to_owned(),
        }]
    })?;
    let mut cx = Checker {
        src,
        oids: HashMap::new(),
        errors: Vec::new(),
    };
    let name = cx.name(&raw.name, "profile name");
    for (symbol, text) in &raw.oids {
        match numeric(text.get_ref()) {
            Some(arcs) => {
                cx.oids.insert(symbol.clone(), arcs);
            }
            None => cx.error(
                text.span().start,
                format!(
                    "unknown OID syntax {:?} for {symbol}: names in [oids] must be numeric OIDs",
                    text.get_ref()
                ),
            ),
        }
    }
    let scalars: Vec<Scalar> = raw.metrics.iter().filter_map(|m| cx.scalar(m)).collect();
    let tables: Vec<Table> = raw.tables.iter().filter_map(|t| cx.table(t)).collect();
    if raw.metrics.is_empty() && raw.tables.is_empty() {
        cx.error(
            raw.name.span().start,
            "the profile has no [[metric]] and no [[table]]".to_owned(),
        );
    }
    let mut errors = cx.errors;
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    Ok(ProfileDef {
        name: name.unwrap_or_default(),
        description: raw.description.unwrap_or_default(),
        scalars,
        tables,
    })
}
