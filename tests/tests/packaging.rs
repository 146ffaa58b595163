//! What the packages install: the systemd units' exposure as `systemd-analyze security` rates
//! it, the shipped collector config, the maintainer scripts, the man pages and completions
//! generated from the binaries, and `--version` naming the commit.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::procs::run;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The overall exposure `systemd-analyze security --offline=yes` gives a unit file.
fn exposure(unit: &str) -> f64 {
    let path = repo().join("packaging/systemd").join(unit);
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze not found ({e}): install Debian's systemd package (scripts/setup.sh)")
        });
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "no exposure level for {unit}:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[test]
fn units_expose_no_more_than_their_probes_need() {
    // Debian's own prometheus.service rates 4.0; the targets are 2.5 and 4.
    let collector = exposure("patrol-collector.service");
    assert!(
        collector <= 2.5,
        "patrol-collector.service exposure {collector}"
    );
    let agent = exposure("patrol-agent.service");
    assert!(agent <= 4.0, "patrol-agent.service exposure {agent}");
}

#[test]
fn the_shipped_collector_config_is_valid_and_has_the_operator_socket() {
    let file = repo().join("packaging/config/collector.toml");
    let cfg =
        patrol_collector::config::CollectorConfig::load(&file).expect("shipped config parses");
    let settings = cfg
        .settle(&file.display().to_string())
        .expect("shipped config settles");
    assert!(settings.auth.configured, "[auth] on by default");
    assert_eq!(settings.auth.anonymous, None);
    assert_eq!(
        settings.auth.operator_socket.as_deref(),
        Some(Path::new("/run/patrol/ctl.sock"))
    );
}

#[test]
fn maintainer_scripts_parse_and_keep_data_unless_asked() {
    for pkg in ["agent", "collector"] {
        for script in ["postinst", "postrm"] {
            let path = repo().join("packaging/debian").join(pkg).join(script);
            let status = Command::new("sh")
                .arg("-n")
                .arg(&path)
                .status()
                .expect("run sh -n");
            assert!(status.success(), "{} does not parse", path.display());
            let text = std::fs::read_to_string(&path).expect("read script");
            assert!(text.contains("#DEBHELPER#"), "{}", path.display());
            if script == "postrm" {
                assert!(text.contains("PATROL_PURGE_DATA:-no"), "{}", path.display());
            }
        }
    }
}

#[test]
fn man_pages_and_completions_come_from_the_binaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = |name: &str| dir.path().join(name);
    for (bin, args) in [
        ("patrol-collector", vec!["--generate-docs"]),
        ("patrol-agent", vec!["--generate-docs"]),
        ("patrolctl", vec!["generate-docs"]),
    ] {
        let target = out(bin);
        let mut all: Vec<&str> = args.clone();
        all.push(target.to_str().expect("utf-8"));
        let (code, _, err) = run(bin, &all);
        assert_eq!(code, 0, "{bin}: {err}");
        for file in [
            format!("{bin}.1"),
            format!("{bin}.bash"),
            format!("_{bin}"),
            format!("{bin}.fish"),
        ] {
            assert!(target.join(&file).exists(), "{bin}: no {file}");
        }
    }
    let man =
        std::fs::read_to_string(out("patrol-collector").join("patrol-collector.1")).expect("man");
    assert!(man.contains("log\\-format"), "{man}");
    assert!(out("patrolctl").join("patrolctl-incidents-ack.1").exists());
    // Hidden commands and clap's `help` get no page.
    assert!(!out("patrolctl").join("patrolctl-generate-docs.1").exists());
    assert!(!out("patrolctl").join("patrolctl-help.1").exists());
    let bash = std::fs::read_to_string(out("patrolctl").join("patrolctl.bash")).expect("bash");
    assert!(bash.contains("--token-file"));
}

#[test]
fn version_names_the_commit() {
    let head = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    for bin in ["patrol-collector", "patrol-agent", "patrolctl"] {
        let (code, out, _) = run(bin, &["--version"]);
        assert_eq!(code, 0);
        let version = out.trim();
        let commit = version
            .strip_prefix(&format!("{bin} {} (", env!("CARGO_PKG_VERSION")))
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{bin} --version: {version}"));
        match &head {
            Some(head) => assert_eq!(
                commit, head,
                "{bin} was built from another commit: rebuild the binaries (cargo build --workspace --bins)"
            ),
            None => assert_eq!(commit, "unknown"),
        }
    }
}
