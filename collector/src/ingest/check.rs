//! What an agent sends about itself and its series, checked before anything is kept: names,
//! lengths and counts, so garbage is refused with a status that says what was wrong.

use patrol_proto::convert::labels_from_wire;
use patrol_proto::{Labels, v1};
use tonic::Status;

/// Longest metric, label and agent name; the configurable limits are in [`crate::limits`].
const MAX_NAME_LEN: usize = 200;
/// Longest host name and static label value in a hello.
const MAX_VALUE_LEN: usize = 1024;
/// Most static labels in a hello.
const MAX_LABELS: usize = 32;

/// A hello's identity and static labels, bounded; the labels with `host` added.
pub(super) fn check_hello(h: &v1::Hello) -> Result<Labels, Status> {
    if h.agent_id.is_empty() || h.agent_id.len() > MAX_NAME_LEN {
        return Err(Status::invalid_argument("agent_id must be 1-200 bytes"));
    }
    if h.host.is_empty() || h.host.len() > MAX_VALUE_LEN {
        return Err(Status::invalid_argument("host must be 1-1024 bytes"));
    }
    if h.epoch > i64::MAX as u64 {
        return Err(Status::invalid_argument("epoch must fit in 63 bits"));
    }
    if h.labels.len() > MAX_LABELS {
        return Err(Status::invalid_argument("too many static labels"));
    }
    for l in &h.labels {
        check_label(l)?;
    }
    let mut labels = labels_from_wire(&h.labels);
    labels.insert("host", h.host.as_str());
    Ok(labels)
}

/// A series definition checked against the limits, with the agent's labels added.
pub(super) fn check_series(
    def: &v1::SeriesDef,
    agent_labels: &Labels,
    limits: &crate::limits::Limits,
) -> Result<Labels, Status> {
    if !valid_metric_name(&def.name) {
        return Err(Status::invalid_argument(format!(
            "invalid metric name '{}'",
            def.name.chars().take(64).collect::<String>()
        )));
    }
    // Checked on the wire first: the count must not be taken after a huge set was built.
    crate::limits::check_labels(def.labels.len(), 0, limits)?;
    let mut longest = 0;
    for l in &def.labels {
        check_label_name(&l.name)?;
        longest = longest.max(l.value.len());
    }
    let mut full = labels_from_wire(&def.labels);
    full.merge_missing(agent_labels);
    crate::limits::check_labels(full.len(), longest, limits)?;
    Ok(full)
}

/// A static label of a hello: a valid name and a bounded value.
fn check_label(l: &v1::Label) -> Result<(), Status> {
    check_label_name(&l.name)?;
    if l.value.len() > MAX_VALUE_LEN {
        return Err(Status::invalid_argument(format!(
            "value of label '{}' is longer than {MAX_VALUE_LEN} bytes",
            l.name
        )));
    }
    Ok(())
}

fn check_label_name(name: &str) -> Result<(), Status> {
    if !patrol_agent::config::valid_label_name(name) || name.len() > MAX_NAME_LEN {
        return Err(Status::invalid_argument(format!(
            "invalid label name '{}'",
            name.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// A Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), bounded.
fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        assert!(valid_metric_name("disk_used_percent"));
        assert!(valid_metric_name("job:rate5m"));
        assert!(!valid_metric_name("9lives"));
        assert!(!valid_metric_name("a-b"));
        assert!(!valid_metric_name(""));
    }
}
