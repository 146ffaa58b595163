//! Severity levels: an ordered list of names, most severe first, kept as data because a later
//! issue makes the scale site configuration (DESIGN "Incidents").

use std::fmt;

/// An ordered list of severity names, most severe first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    names: Vec<String>,
}

/// Why a list of level names was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelsError {
    /// No level at all: no rule could ever be valid.
    #[error("at least one severity level is required")]
    Empty,
    /// The same name twice would make ranks ambiguous.
    #[error("severity level '{0}' is listed twice")]
    Duplicate(String),
    /// An empty name cannot be written in a rule file.
    #[error("a severity level name must not be empty")]
    EmptyName,
}

impl Levels {
    /// Levels from names listed most severe first.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Result<Self, LevelsError> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Err(LevelsError::Empty);
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err(LevelsError::EmptyName);
            }
            if names[..i].contains(n) {
                return Err(LevelsError::Duplicate(n.clone()));
            }
        }
        Ok(Self { names })
    }

    /// The rank of `name` (0 = most severe), or `None` if it is not a level.
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The level names, most severe first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The severity called `name`, if it is a level.
    pub fn severity(&self, name: &str) -> Option<Severity> {
        self.rank(name).map(|rank| Severity {
            name: name.to_owned(),
            rank,
        })
    }
}

impl Default for Levels {
    /// P1 (outage) to P4 (informational), the shipped scale.
    fn default() -> Self {
        Self {
            names: ["P1", "P2", "P3", "P4"].map(String::from).to_vec(),
        }
    }
}

/// A rule's severity: the level name and its rank in the [`Levels`] it was checked against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Severity {
    /// The level name, e.g. `P2`.
    pub name: String,
    /// 0 = most severe.
    pub rank: usize,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_levels_rank_p1_first() {
        let l = Levels::default();
        assert_eq!(l.rank("P1"), Some(0));
        assert_eq!(l.rank("P4"), Some(3));
        assert_eq!(l.rank("P5"), None);
        assert_eq!(l.names().join(", "), "P1, P2, P3, P4");
        assert_eq!(
            l.severity("P2"),
            Some(Severity {
                name: "P2".into(),
                rank: 1
            })
        );
    }

    #[test]
    fn custom_levels_refuse_empty_and_duplicates() {
        assert_eq!(Levels::new(Vec::<String>::new()), Err(LevelsError::Empty));
        assert_eq!(
            Levels::new(["crit", "crit"]),
            Err(LevelsError::Duplicate("crit".into()))
        );
        let l = Levels::new(["crit", "warn"]).unwrap();
        assert_eq!(l.rank("warn"), Some(1));
    }
}
