//! Finds where a key sits in a TOML file, so checks made after deserializing (ranges,
//! relations between keys) can still say `file:line:column`.

use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an index into an array of tables.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `(line, column)` of the value at `path`, or of the nearest enclosing item that exists
/// (a key's table when the key was left to its default), or `None` when the text does not
/// parse or the path leaves the document at once.
pub fn locate(src: &str, path: &[Step<'_>]) -> Option<(usize, usize)> {
    let doc = DeTable::parse(src).ok()?;
    let mut best = None;
    let mut table = doc.get_ref();
    let mut i = 0;
    while i < path.len() {
        let Step::Key(key) = path[i] else {
            break;
        };
        let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == key) else {
            break;
        };
        best = Some(value.span().start);
        i += 1;
        let mut v = value.get_ref();
        if let (DeValue::Array(items), Some(Step::Index(n))) = (v, path.get(i)) {
            let Some(item) = items.get(*n) else {
                break;
            };
            best = Some(item.span().start);
            v = item.get_ref();
            i += 1;
        }
        match v {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    best.map(|offset| super::line_col(src, offset))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_in_tables_and_arrays_of_tables() {
        let src = "a = 1\n[collector]\nbackoff_min = \"0s\"\n\n[[probe]]\ntype = \"host\"\n\n[[probe]]\ntype = \"dir\"\ninterval = \"1ns\"\n";
        assert_eq!(
            locate(src, &[Step::Key("collector"), Step::Key("backoff_min")]),
            Some((3, 15))
        );
        assert_eq!(
            locate(
                src,
                &[Step::Key("probe"), Step::Index(1), Step::Key("interval")]
            ),
            Some((10, 12))
        );
        assert_eq!(locate(src, &[Step::Key("nope")]), None);
    }
}
