//! Wire ↔ domain conversions, kept here so services and clients stay thin.

use crate::model::Labels;
use crate::v1;

impl From<&Labels> for Vec<v1::Label> {
    fn from(labels: &Labels) -> Self {
        labels
            .iter()
            .map(|(name, value)| v1::Label {
                name: name.to_owned(),
                value: value.to_owned(),
            })
            .collect()
    }
}

/// Builds a label set from wire labels; duplicates keep the last value.
pub fn labels_from_wire(labels: &[v1::Label]) -> Labels {
    Labels::from_pairs(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

impl v1::IncidentState {
    /// The lower-case name used in the CLI, JSON and the store.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Assigned => "assigned",
            Self::Waiting => "waiting",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn from_label(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "acknowledged" | "ack" | "acked" => Self::Acknowledged,
            "assigned" => Self::Assigned,
            "waiting" => Self::Waiting,
            "resolved" => Self::Resolved,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

impl v1::EventKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Snapshot => "snapshot",
            Self::Opened => "opened",
            Self::Acknowledged => "acknowledged",
            Self::Assigned => "assigned",
            Self::Waiting => "waiting",
            Self::Resolved => "resolved",
            Self::Resync => "resync",
            Self::Commented => "commented",
            Self::Closed => "closed",
            Self::Reopened => "reopened",
            Self::Escalated => "escalated",
            Self::Reminded => "reminded",
            Self::Breached => "breached",
            Self::LevelChanged => "level_changed",
            Self::Flapping => "flapping",
            Self::Suppressed => "suppressed",
            Self::Planned => "planned",
            Self::Notified => "notified",
        }
    }
}

impl v1::Incident {
    /// The incident's labels as a domain label set.
    pub fn label_set(&self) -> Labels {
        labels_from_wire(&self.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1")]);
        let wire: Vec<v1::Label> = (&l).into();
        assert_eq!(wire[0].name, "a");
        assert_eq!(labels_from_wire(&wire), l);
    }

    #[test]
    fn state_labels_round_trip() {
        for s in [
            v1::IncidentState::Open,
            v1::IncidentState::Acknowledged,
            v1::IncidentState::Resolved,
            v1::IncidentState::Closed,
        ] {
            assert_eq!(v1::IncidentState::from_label(s.label()), Some(s));
        }
    }
}
