//! Small helpers shared by the network and hardware probes (ping, trace, sockets, hwmon,
//! mdstat): a sample sink stamped with the round's time, duration fields whose errors name the
//! field, and a log-once tracker for failing sources.

use std::collections::HashSet;
use std::time::Duration;

use patrol_proto::{Labels, Sample};

/// What the collector accepts in a series (`collector/src/ingest.rs` refuses the whole batch
/// otherwise, and the agent would resend it for ever): probes that pass on names or label
/// values from outside the config (text files, plugin output) must keep to these.
pub(crate) mod series_limits {
    /// Longest metric or label name, bytes.
    pub(crate) const MAX_NAME_BYTES: usize = 200;
    /// Longest label value, bytes.
    pub(crate) const MAX_VALUE_BYTES: usize = 1024;
    /// Most labels a probe may set: the collector takes 32, and the agent adds `host` and its
    /// static labels.
    pub(crate) const MAX_PROBE_LABELS: usize = 16;
}

/// Appends samples stamped with the round's timestamp; drops non-finite values, which no
/// rule can compare and no exposition format accepts.
pub(crate) struct Out<'a> {
    out: &'a mut Vec<Sample>,
    now_ms: i64,
}

impl<'a> Out<'a> {
    pub(crate) fn new(out: &'a mut Vec<Sample>, now_ms: i64) -> Self {
        Self { out, now_ms }
    }

    pub(crate) fn push<'l>(
        &mut self,
        name: &str,
        labels: impl IntoIterator<Item = (&'l str, &'l str)>,
        value: f64,
    ) {
        if value.is_finite() {
            self.out.push(Sample::new(
                name,
                Labels::from_pairs(labels),
                value,
                self.now_ms,
            ));
        }
    }

    /// Appends a sample whose name and label set are already built, without copying them.
    pub(crate) fn push_owned(&mut self, name: String, labels: Labels, value: f64) {
        if value.is_finite() {
            self.out.push(Sample::new(name, labels, value, self.now_ms));
        }
    }

    pub(crate) fn flag<'l>(
        &mut self,
        name: &str,
        labels: impl IntoIterator<Item = (&'l str, &'l str)>,
        on: bool,
    ) {
        self.push(name, labels, if on { 1.0 } else { 0.0 });
    }
}

/// humantime durations whose errors name the field: inside the internally tagged
/// `ProbeConfig` serde buffers the section and the TOML error loses the key's position.
pub(crate) fn named_duration<'de, D: serde::Deserializer<'de>>(
    field: &str,
    d: D,
) -> Result<Duration, D::Error> {
    humantime_serde::deserialize(d).map_err(|e: D::Error| {
        serde::de::Error::custom(format!("{field}: {e} (e.g. \"500ms\", \"30s\")"))
    })
}

/// Declares `fn $name(d) -> Result<Duration, _>` for a duration field called `$field`.
macro_rules! duration_field {
    ($vis:vis $name:ident, $field:literal) => {
        $vis fn $name<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<std::time::Duration, D::Error> {
            $crate::sample_out::named_duration($field, d)
        }
    };
}
pub(crate) use duration_field;

// The `interval` field every probe has.
duration_field!(pub(crate) interval_duration, "interval");

/// Remembers which sources are failing so each failure is logged once, not every round.
#[derive(Debug, Default)]
pub(crate) struct Failing {
    probe: &'static str,
    sources: HashSet<String>,
}

impl Failing {
    pub(crate) fn new(probe: &'static str) -> Self {
        Self {
            probe,
            sources: HashSet::new(),
        }
    }

    pub(crate) fn failed(&mut self, source: &str, message: &str) {
        if self.sources.insert(source.to_owned()) {
            tracing::warn!(
                probe = self.probe,
                source,
                "{message}; logged once until it recovers"
            );
        }
    }

    pub(crate) fn recovered(&mut self, source: &str) {
        if self.sources.remove(source) {
            tracing::info!(probe = self.probe, source, "recovered");
        }
    }
}

/// Reads at most `limit` bytes of a file as text: kernel files are small, and a hostile or
/// broken one (a fixture tree, a FUSE mount) must not make the probe allocate without bound.
pub(crate) fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Turns a probe's `sample.toml` into the section it documents: the `[[probe]]` header
/// dropped, `# key = value` option lines uncommented, prose comments removed.
#[cfg(test)]
pub(crate) fn uncomment(sample: &str) -> String {
    sample
        .lines()
        .filter(|l| !l.starts_with("[[probe]]"))
        .map(|l| match l.strip_prefix("# ") {
            Some(option)
                if option.split_once(" = ").is_some_and(|(key, _)| {
                    key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                option
            }
            _ if l.starts_with('#') => "",
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `[[probe]]` section of a sample with its commented-out options switched on (section
/// headers kept), parsed as the agent parses them: the documented options must be real keys
/// with values of the right type.
#[cfg(test)]
pub(crate) fn sample_probes_with_options(sample: &str) -> Vec<crate::ProbeConfig> {
    let text: Vec<&str> = sample
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(option)
                if option.split_once(" = ").is_some_and(|(key, _)| {
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                option
            }
            _ => l,
        })
        .collect();
    sample_probes(&text.join("\n"))
}

/// The typed config of a commented-out sample: `sample_config!(Ping, include_str!("sample.toml"))`.
#[cfg(test)]
macro_rules! sample_config {
    ($variant:ident, $text:expr) => {
        match $crate::sample_out::sample_section($text) {
            $crate::ProbeConfig::$variant(c) => c,
            other => panic!("sample.toml is a {} section", other.kind()),
        }
    };
}
#[cfg(test)]
pub(crate) use sample_config;

/// One collection round of a built probe in a unit test (time 1 ms), which must succeed.
#[cfg(test)]
pub(crate) async fn round(probe: &mut Box<dyn crate::Probe>) -> Vec<Sample> {
    let mut out = Vec::new();
    probe
        .collect(crate::CollectContext { now_ms: 1 }, &mut out)
        .await
        .expect("the round completes");
    out
}

/// Fails unless every sample's name has HELP text in the catalog (whose own test ties it to
/// `docs/metrics.md`).
#[cfg(test)]
pub(crate) fn assert_cataloged(out: &[Sample]) {
    for s in out {
        assert!(
            crate::catalog::help(&s.name).is_some(),
            "{} not in the catalog",
            s.name
        );
    }
}

/// Parses one `[[probe]]` section's body as the agent does.
#[cfg(test)]
pub(crate) fn parse_section(text: &str) -> Result<crate::ProbeConfig, toml::de::Error> {
    toml::from_str::<crate::ProbeConfig>(text)
}

/// The section a probe's `sample.toml` documents with its options commented out, parsed
/// with them uncommented (see [`uncomment`]).
#[cfg(test)]
pub(crate) fn sample_section(sample: &str) -> crate::ProbeConfig {
    parse_section(&uncomment(sample)).expect("sample.toml parses")
}

/// The live `[[probe]]` sections of a sample, parsed as the agent parses its config (nested
/// tables such as `[[probe.server]]` included).
#[cfg(test)]
pub(crate) fn sample_probes(sample: &str) -> Vec<crate::ProbeConfig> {
    let doc: toml::Table = toml::from_str(sample).expect("sample.toml is TOML");
    doc.get("probe")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| p.clone().try_into().expect("sample.toml's section parses"))
        .collect()
}

/// Checks a probe's `sample.toml`: every documented (commented-out) option is a real key with
/// a value of the right type, and every live section builds as the agent would build it.
#[cfg(test)]
pub(crate) fn check_sample(sample: &str) {
    let live = sample_probes(sample);
    assert_eq!(
        sample_probes_with_options(sample).len(),
        live.len(),
        "sample.toml has as many sections with its options switched on as without"
    );
    for config in &live {
        build_sample(config);
    }
}

/// Builds a sample's section as the agent would (state in a throwaway directory).
#[cfg(test)]
pub(crate) fn build_sample(config: &crate::ProbeConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Err(e) = config.build(&crate::BuildContext::new(dir.path())) {
        panic!(
            "sample.toml's {} section does not build: {e}",
            config.kind()
        );
    }
}

#[cfg(test)]
mod tests {
    /// Every probe folder has a `sample.toml` whose section is of the probe's own type.
    #[test]
    fn every_probe_has_a_sample_of_its_own_type() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut probes = 0;
        for entry in std::fs::read_dir(&src).expect("src") {
            let dir = entry.expect("entry").path();
            // The tailer is a library module, not a probe; the inventory's sample is an
            // `[inventory]` section (tested in inventory/tests.rs).
            if !dir.join("README.md").is_file() || dir.ends_with("inventory") {
                continue;
            }
            let name = dir.file_name().and_then(|n| n.to_str()).expect("name");
            let sample = std::fs::read_to_string(dir.join("sample.toml"))
                .unwrap_or_else(|e| panic!("probe {name} has no sample.toml: {e}"));
            let sections = super::sample_probes(&sample);
            assert!(!sections.is_empty(), "{name}/sample.toml has no [[probe]]");
            for section in sections {
                assert_eq!(section.kind(), name, "{name}/sample.toml");
            }
            probes += 1;
        }
        assert!(probes >= 11, "only {probes} probe folders found");
    }
}
