//! Parsing `/proc/mdstat` (the kernel's drivers/md/md.c, `md_seq_show` and `status_resync`).
//! Pure: text in, arrays out.
//!
//! An array is a line `mdN : active|inactive [(read-only)|(auto-read-only)] [LEVEL] DEV[i][(F|S|W|R)]...`
//! followed by indented lines: `BLOCKS blocks ... [TOTAL/UP] [UU_]` for arrays with
//! redundancy, then optionally a progress line
//! `[==>....]  recovery = 12.6% (132096/1048512) finish=0.2min speed=66048K/sec`
//! (or `resync`, `check`, `repair`, `reshape`), or `resync=DELAYED` / `resync=PENDING`.

/// Most arrays taken from one file: far above any real machine, it bounds a hostile input.
const MAX_ARRAYS: usize = 1024;

/// One md array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Array {
    pub name: String,
    pub active: bool,
    /// `raid1`, `raid5`, `raid0`, `linear`...; `None` for an inactive array.
    pub level: Option<String>,
    /// `[TOTAL/UP]`: member slots and members working. Absent for levels without redundancy
    /// (raid0, linear) and for inactive arrays.
    pub members: Option<(u32, u32)>,
    /// The `[UU_]` map: `U` a working member, `_` a missing or failed one.
    pub map: Option<String>,
    /// Members marked `(F)`.
    pub failed: u32,
    /// A running resync, recovery, check, repair or reshape and its progress (0-100).
    pub sync: Option<(String, f64)>,
}

impl Array {
    /// Degraded: a member slot without a working member (`[2/1]`, or a `_` in the map, which
    /// older kernels showed while still printing `[2/2]`), or the array not running at all.
    pub fn degraded(&self) -> bool {
        !self.active
            || self.members.is_some_and(|(total, up)| up < total)
            || self.map.as_deref().is_some_and(|m| m.contains('_'))
    }
}

/// Parses the whole file. Array blocks that cannot be understood are returned as errors
/// (`"mdN: why"`) and skipped; the others are still reported.
pub(crate) fn parse(text: &str) -> (Vec<Array>, Vec<String>) {
    let mut arrays = Vec::new();
    let mut errors = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((name, rest)) = line.split_once(" : ") else {
            continue;
        };
        let name = name.trim();
        if !name.starts_with("md") || name.contains(char::is_whitespace) {
            continue;
        }
        let mut block = vec![rest];
        while let Some(next) = lines.peek() {
            if next.starts_with(char::is_whitespace) && !next.trim().is_empty() {
                block.push(next.trim());
                lines.next();
            } else {
                break;
            }
        }
        if arrays.len() >= MAX_ARRAYS {
            errors.push(format!("more than {MAX_ARRAYS} arrays; the rest ignored"));
            break;
        }
        match parse_array(name, &block) {
            Ok(a) => arrays.push(a),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    (arrays, errors)
}

fn parse_array(name: &str, block: &[&str]) -> Result<Array, String> {
    if name.len() > 32 {
        return Err("array name longer than 32 characters".into());
    }
    let mut words = block[0].split_whitespace().peekable();
    let active = match words.next() {
        Some("active") => true,
        Some("inactive") => false,
        other => return Err(format!("expected active or inactive, found {other:?}")),
    };
    while words.peek().is_some_and(|w| w.starts_with('(')) {
        words.next();
    }
    let level = if active {
        words
            .next()
            .filter(|w| !w.contains('['))
            .map(str::to_owned)
            .ok_or("no RAID level after 'active'")?
            .into()
    } else {
        None
    };
    let failed = words.filter(|w| w.ends_with("(F)")).count() as u32;
    let mut members = None;
    let mut map = None;
    let mut sync = None;
    for line in &block[1..] {
        if members.is_none() && line.contains(" blocks") {
            members = member_counts(line)?;
            map = line
                .split_whitespace()
                .filter_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
                .find(|w| !w.is_empty() && w.chars().all(|c| c == 'U' || c == '_'))
                .map(str::to_owned);
        } else if let Some(found) = sync_progress(line)? {
            sync = Some(found);
        }
    }
    Ok(Array {
        name: name.to_owned(),
        active,
        level,
        members,
        map,
        failed,
        sync,
    })
}

/// `[TOTAL/UP]` on the blocks line, if there is one.
fn member_counts(line: &str) -> Result<Option<(u32, u32)>, String> {
    for word in line.split_whitespace() {
        let Some(inner) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) else {
            continue;
        };
        if let Some((total, up)) = inner.split_once('/') {
            let n = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| format!("bad member count {word:?}"))
            };
            let (total, up) = (n(total)?, n(up)?);
            if up > total {
                return Err(format!("{word}: more members up than slots"));
            }
            return Ok(Some((total, up)));
        }
    }
    Ok(None)
}

/// `recovery = 12.6% (...)` and friends. `resync=DELAYED` / `PENDING` is no progress yet.
fn sync_progress(line: &str) -> Result<Option<(String, f64)>, String> {
    for action in ["resync", "recovery", "check", "repair", "reshape"] {
        let Some(at) = line.find(&format!("{action} =")) else {
            continue;
        };
        let after = line[at + action.len() + 2..].trim_start();
        let percent = after
            .split('%')
            .next()
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| format!("unreadable {action} progress in {line:?}"))?;
        return Ok(Some((action.to_owned(), percent)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
