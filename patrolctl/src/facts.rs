//! Facts as text (docs/inventory.md): a FACT / VALUE table, with the memory size also in
//! GiB so nobody counts digits at 3 a.m.

use std::collections::BTreeMap;

use crate::format::Human;
use crate::table::{self, Cell};

/// The value as shown: `memory.bytes` gains its size in GiB.
fn shown(key: &str, value: &str) -> String {
    match (key, value.parse::<u64>()) {
        ("memory.bytes", Ok(bytes)) => {
            format!("{value} ({:.1} GiB)", bytes as f64 / (1u64 << 30) as f64)
        }
        _ => value.to_owned(),
    }
}

/// A FACT / VALUE table; `None` when there are no facts.
pub fn table(human: &Human, facts: &BTreeMap<String, String>) -> Option<String> {
    if facts.is_empty() {
        return None;
    }
    let rows: Vec<Vec<Cell>> = facts
        .iter()
        .map(|(k, v)| vec![Cell::new(k), Cell::new(shown(k, v))])
        .collect();
    Some(table::render(human, &["FACT", "VALUE"], &rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    #[test]
    fn memory_is_also_in_gib() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let facts: BTreeMap<String, String> = [
            ("memory.bytes", "25276071936"),
            ("os.name", "Debian GNU/Linux 12 (bookworm)"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            table(&human, &facts).as_deref(),
            Some(
                "FACT          VALUE\n\
                 memory.bytes  25276071936 (23.5 GiB)\n\
                 os.name       Debian GNU/Linux 12 (bookworm)\n"
            )
        );
        assert_eq!(table(&human, &BTreeMap::new()), None);
    }
}
