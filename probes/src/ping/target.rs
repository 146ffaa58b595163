//! Targets as the operator writes them (an IP address or a host name) and their resolution.
//! Shared by the ping and trace probes.

use std::net::IpAddr;
use std::time::Duration;

/// How long a name lookup may take before the target counts as unreachable for the round.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// A checked target: the text is kept as the `target` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub label: String,
    /// Set when the operator wrote an address; names are resolved every round, so a DNS
    /// change is followed without a restart.
    pub fixed: Option<IpAddr>,
}

impl Target {
    /// Checks one `targets` entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty target".into());
        }
        if let Ok(addr) = trimmed.parse::<IpAddr>() {
            return Ok(Self {
                label: trimmed.to_owned(),
                fixed: Some(addr),
            });
        }
        let valid_name = trimmed.len() <= 253
            && trimmed.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid_name {
            return Err(format!(
                "{trimmed:?} is neither an IP address nor a host name"
            ));
        }
        Ok(Self {
            label: trimmed.to_owned(),
            fixed: None,
        })
    }

    /// The address to probe this round.
    pub async fn resolve(&self) -> Result<IpAddr, String> {
        if let Some(addr) = self.fixed {
            return Ok(addr);
        }
        let lookup = tokio::net::lookup_host((self.label.as_str(), 0));
        match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
            Ok(Ok(mut addrs)) => addrs
                .next()
                .map(|a| a.ip())
                .ok_or_else(|| format!("{} has no address", self.label)),
            Ok(Err(e)) => Err(format!("cannot resolve {}: {e}", self.label)),
            Err(_) => Err(format!(
                "resolving {} took longer than {}s",
                self.label,
                RESOLVE_TIMEOUT.as_secs()
            )),
        }
    }
}

/// Checks a `targets` list: every entry valid, no duplicates, within `max` entries.
pub(crate) fn parse_targets(list: &[String], max: usize, errors: &mut Vec<String>) -> Vec<Target> {
    if list.is_empty() {
        errors.push("targets: list at least one address or host name".into());
    }
    if list.len() > max {
        errors.push(format!("targets: {} entries, at most {max}", list.len()));
    }
    let mut targets: Vec<Target> = Vec::new();
    for (i, text) in list.iter().enumerate() {
        match Target::parse(text) {
            Ok(t) if targets.iter().any(|o| o.label == t.label) => {
                errors.push(format!("targets[{i}]: {:?} is listed twice", t.label));
            }
            Ok(t) => targets.push(t),
            Err(e) => errors.push(format!("targets[{i}]: {e}")),
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_are_accepted() {
        assert_eq!(
            Target::parse("::1").map(|t| t.fixed),
            Ok(Some("::1".parse().expect("v6")))
        );
        assert_eq!(Target::parse("db-1.example.com").map(|t| t.fixed), Ok(None));
    }

    #[test]
    fn bad_entries_are_reported_with_their_index() {
        let mut errors = Vec::new();
        let t = parse_targets(
            &["10.0.0.1".into(), "no spaces".into(), "10.0.0.1".into()],
            10,
            &mut errors,
        );
        assert_eq!(t.len(), 1);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("targets[1]"), "{errors:?}");
        assert!(errors[1].contains("twice"), "{errors:?}");
        let mut errors = Vec::new();
        parse_targets(&[], 10, &mut errors);
        assert!(errors[0].contains("at least one"));
    }
}
