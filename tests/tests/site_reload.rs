//! The site file is loaded at start, reloaded when it changes, and a bad one — a syntax or
//! reference error, or levels the rules no longer check against — is refused with its
//! positions while the collector keeps its last good site.

mod support;

use std::path::Path;
use std::time::Duration;

use support::inproc;
use support::procs::eventually;

const FIVE_LEVELS: &str = r#"
[[level]]
name = "I"
respond = "5m"
resolve = "2h"
[[level]]
name = "II"
respond = "10m"
resolve = "4h"
[[level]]
name = "III"
respond = "30m"
resolve = "8h"
[[level]]
name = "IV"
respond = "1h"
resolve = "24h"
[[level]]
name = "V"
respond = "4h"
resolve = "72h"
"#;

fn rule(severity: &str) -> String {
    format!(
        "[[rule]]\nname = \"memory_in_use\"\nexpr = 'memory_used_percent > 0'\n\
         severity = \"{severity}\"\nsummary = \"memory in use\"\n"
    )
}

/// Writes aside and renames into place, as editors save.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_changes_are_picked_up_and_bad_ones_refused_keeping_the_last_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("rules")).expect("dirs");
    let site = etc.join("site.toml");
    save(&site, FIVE_LEVELS);
    save(&etc.join("rules").join("mem.toml"), &rule("III"));
    let c = inproc::collector(dir.path(), |s| {
        s.rules = etc.join("rules");
        s.site = Some(site.clone());
    })
    .await;
    let names = || c.core.levels().names().join(",");
    assert_eq!(names(), "I,II,III,IV,V");

    // A broken file: refused, counted, the five levels stay.
    let failures = || c.core.telemetry.site_reload_failures.get();
    save(
        &site,
        &FIVE_LEVELS.replace("respond = \"10m\"", "respond = \"ten\""),
    );
    assert!(eventually(Duration::from_secs(10), || failures() >= 1));
    assert_eq!(names(), "I,II,III,IV,V");
    let errors = c.core.reload_site().await.expect_err("still broken");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("{}:8:11: invalid duration 'ten'", site.display()))),
        "{errors:?}"
    );

    // Valid on its own, but the rules use level III, which it drops: refused too.
    let before = failures();
    save(
        &site,
        "[[level]]\nname = \"P1\"\nrespond = \"5m\"\nresolve = \"1h\"\n",
    );
    assert!(eventually(Duration::from_secs(10), || failures() > before));
    let errors = c.core.reload_site().await.expect_err("rules do not check");
    assert!(
        errors[0].contains("do not check against this site's levels (P1)"),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("mem.toml")), "{errors:?}");
    assert_eq!(names(), "I,II,III,IV,V");

    // A good change (III gets a fix-plan clock) is swapped in.
    save(
        &site,
        &FIVE_LEVELS.replace(
            "name = \"III\"\nrespond = \"30m\"",
            "name = \"III\"\nrespond = \"30m\"\nfix_plan = \"2h\"",
        ),
    );
    let fix_plan = || {
        patrol_site::current(&c.core.site)
            .level("III")
            .and_then(|l| l.fix_plan)
    };
    assert!(eventually(Duration::from_secs(10), || fix_plan().is_some()));
    assert_eq!(fix_plan(), Some(Duration::from_secs(7200)));
    c.stop().await;
}
