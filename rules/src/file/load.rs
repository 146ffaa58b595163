//! Loading rules from disk: a directory of `*.toml` files, or one file, with every problem of
//! every file reported at once and rule names checked unique across the set.

use std::collections::HashMap;
use std::path::Path;

use super::{Parsed, check_unique_names, parse_file, sort};
use crate::diag::Diagnostic;
use crate::level::Levels;
use crate::set::RuleSet;

/// Whether a directory entry is a rule file: `*.toml`, not hidden. Hidden files cover editor
/// leftovers such as `.foo.toml.swp` and Emacs locks `.#foo.toml`; backups like `foo.toml~`
/// do not end in `.toml`.
fn is_rule_file_name(name: &str) -> bool {
    name.ends_with(".toml") && !name.starts_with('.') && name.len() > ".toml".len()
}

/// Loads every `*.toml` file directly in `dir` (sorted by file name; subdirectories and other
/// files are ignored) and checks rule names are unique across them.
///
/// On failure returns the diagnostics of all files, file by file in name order. Paths in
/// diagnostics are `dir` joined with the file name. A directory or file that cannot be read
/// is a diagnostic without position (`line == 0`, printed as `path: message`).
pub fn load_dir(dir: &Path, levels: &Levels) -> Result<RuleSet, Vec<Diagnostic>> {
    check_dir(dir, levels).result
}

/// What checking a path found: the rule set or every error, and the warnings either way.
#[derive(Debug)]
pub struct Checked {
    /// The rules, or every error.
    pub result: Result<RuleSet, Vec<Diagnostic>>,
    /// `file:line:column: warning: ...`, which do not stop a rule from loading.
    pub warnings: Vec<Diagnostic>,
}

fn check_dir(dir: &Path, levels: &Levels) -> Checked {
    let failed = |d: Diagnostic| Checked {
        result: Err(vec![d]),
        warnings: Vec::new(),
    };
    let dir_name = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return failed(Diagnostic::whole_file(
                &dir_name,
                format!("cannot read rules directory: {e}"),
            ));
        }
    };
    let mut names = Vec::new();
    let mut diags = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => {
                let name = entry.file_name().to_string_lossy().into_owned();
                // fs::metadata follows symlinks, so a symlinked rule file counts.
                if is_rule_file_name(&name)
                    && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file())
                {
                    names.push(name);
                }
            }
            Err(e) => diags.push(Diagnostic::whole_file(
                &dir_name,
                format!("cannot list rules directory: {e}"),
            )),
        }
    }
    names.sort();

    let mut all = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = HashMap::new();
    for name in names {
        let path = dir.join(&name);
        let file = path.display().to_string();
        let src = match std::fs::read_to_string(&path) {
            Ok(src) => src,
            Err(e) => {
                diags.push(Diagnostic::whole_file(
                    &file,
                    format!("cannot read rule file: {e}"),
                ));
                continue;
            }
        };
        let Parsed {
            rules,
            names,
            diags: mut file_diags,
            warnings: file_warnings,
        } = parse_file(&file, &src, levels);
        warnings.extend(file_warnings);
        check_unique_names(&file, &names, &mut seen, &mut file_diags);
        sort(&mut file_diags);
        diags.extend(file_diags);
        all.extend(rules);
    }
    Checked {
        result: if diags.is_empty() {
            Ok(RuleSet::from_rules(all))
        } else {
            Err(diags)
        },
        warnings,
    }
}

/// Loads `path`, which may be a rules directory (see [`load_dir`]) or a single rule file; for
/// `patrolctl rules check PATH`.
pub fn load_path(path: &Path, levels: &Levels) -> Result<RuleSet, Vec<Diagnostic>> {
    check_path(path, levels).result
}

/// [`load_path`] with the warnings, for `patrolctl rules check`.
pub fn check_path(path: &Path, levels: &Levels) -> Checked {
    let name = path.display().to_string();
    let failed = |d: Diagnostic| Checked {
        result: Err(vec![d]),
        warnings: Vec::new(),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return failed(Diagnostic::whole_file(&name, format!("cannot read: {e}"))),
    };
    if meta.is_dir() {
        return check_dir(path, levels);
    }
    let src = match std::fs::read_to_string(path) {
        Ok(src) => src,
        Err(e) => {
            return failed(Diagnostic::whole_file(
                &name,
                format!("cannot read rule file: {e}"),
            ));
        }
    };
    let (result, warnings) = super::check_rules(&name, &src, levels);
    Checked {
        result: result.map(RuleSet::from_rules),
        warnings,
    }
}
