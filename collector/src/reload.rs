//! Picks up rule-file changes without a restart: the rules directory is watched (editors
//! replace files on save, so the directory, not the files), changes are debounced, and SIGHUP
//! forces a reload.

use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::core::Core;

/// Quiet time after the last file event before reloading, so a save that writes several files
/// (or writes one in steps) is loaded once, complete.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Starts the watcher; the returned guard stops it when dropped.
pub fn spawn(core: Arc<Core>) -> Option<notify::RecommendedWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let signal_tx = tx.clone();
    let mut watcher = match notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(());
        }
    }) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the rules directory; use SIGHUP or 'patrolctl rules reload'");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&core.rules_dir, RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, dir = %core.rules_dir.display(),
            "cannot watch the rules directory; use SIGHUP or 'patrolctl rules reload'");
    }
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let _ = signal_tx.send(());
        }
    });
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            let _ = core.reload_rules().await;
        }
    });
    Some(watcher)
}
