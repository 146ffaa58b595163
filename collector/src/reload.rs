//! Picks up rule-file and site-file changes without a restart: the rules directory and the
//! site file's directory are watched (editors replace files on save, so directories, not
//! files), changes are debounced, and SIGHUP forces a reload of both.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::core::Core;

/// Quiet time after the last file event before reloading, so a save that writes several files
/// (or writes one in steps) is loaded once, complete.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// What changed.
#[derive(Debug, Clone, Copy, Default)]
struct Dirty {
    rules: bool,
    site: bool,
}

/// Starts the watcher; the returned guard stops it when dropped.
pub fn spawn(core: Arc<Core>) -> Option<notify::RecommendedWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Dirty>();
    let signal_tx = tx.clone();
    let rules_dir = canonical(&core.rules_dir);
    let site_file = core.site_path.as_deref().map(canonical);
    let watched = (rules_dir.clone(), site_file.clone());
    let mut watcher = match notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        if matches!(ev.kind, notify::EventKind::Access(_)) {
            return;
        }
        let dirty = classify(&ev.paths, &watched.0, watched.1.as_deref());
        if dirty.rules || dirty.site {
            let _ = tx.send(dirty);
        }
    }) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the rules directory or site file; use SIGHUP or 'patrolctl rules reload'");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&rules_dir, RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, dir = %rules_dir.display(),
            "cannot watch the rules directory; use SIGHUP or 'patrolctl rules reload'");
    }
    if let Some(dir) = site_file.as_deref().and_then(Path::parent)
        && dir != rules_dir
        && let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive)
    {
        tracing::warn!(error = %e, dir = %dir.display(),
            "cannot watch the site file's directory; use SIGHUP to reload it");
    }
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let _ = signal_tx.send(Dirty {
                rules: true,
                site: true,
            });
        }
    });
    tokio::spawn(async move {
        while let Some(mut dirty) = rx.recv().await {
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(more)) => {
                        dirty.rules |= more.rules;
                        dirty.site |= more.site;
                    }
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            // The site reload re-checks the rules against its levels and swaps both.
            if dirty.site && core.site_path.is_some() && core.reload_site().await.is_ok() {
                continue;
            }
            if dirty.rules {
                let _ = core.reload_rules().await;
            }
        }
    });
    Some(watcher)
}

/// Which reloads the changed `paths` call for.
fn classify(paths: &[PathBuf], rules_dir: &Path, site_file: Option<&Path>) -> Dirty {
    let mut dirty = Dirty::default();
    for p in paths {
        let Some(name) = p.file_name() else { continue };
        let dir = p.parent().unwrap_or(Path::new(""));
        if let Some(site) = site_file
            && site.file_name() == Some(name)
            && site.parent() == Some(dir)
        {
            dirty.site = true;
        } else if dir == rules_dir {
            dirty.rules = true;
        }
    }
    dirty
}

/// The path as the watcher reports it (absolute, links resolved) when it can be resolved.
fn canonical(p: &Path) -> PathBuf {
    match (p.parent(), p.file_name()) {
        // A file: resolve its directory only, the file itself may be replaced at any time.
        (Some(dir), Some(name)) if !p.is_dir() => {
            std::fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
            .map(|d| d.join(name))
            .unwrap_or_else(|_| p.to_path_buf())
        }
        _ => std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_and_rule_changes_are_told_apart() {
        let rules = Path::new("/etc/patrol/rules");
        let site = Some(Path::new("/etc/patrol/site.toml"));
        let d = classify(&[PathBuf::from("/etc/patrol/site.toml")], rules, site);
        assert!(d.site && !d.rules);
        let d = classify(&[PathBuf::from("/etc/patrol/rules/host.toml")], rules, site);
        assert!(d.rules && !d.site);
        // Other files beside the site file (the collector's own config) are not a reload.
        let d = classify(&[PathBuf::from("/etc/patrol/collector.toml")], rules, site);
        assert!(!d.rules && !d.site);
    }
}
