//! Incident handling with the real binaries: a manual incident created with `patrolctl incidents
//! create` and taken through ack, assign, wait, comment, plan, resolve and close, each checked
//! with `show --json` (state, actor, journal, deadlines) and seen live on `patrolctl tail`;
//! refused requests exit non-zero with the collector's sentence.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, collector, run};

/// A collector with no rules (only manual incidents) and the built-in site (P1–P4, 7×24).
fn start() -> (tempfile::TempDir, Proc, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let (proc, grpc, _http) = collector(&rules, &dir.path().join("data"));
    (dir, proc, format!("http://{grpc}"))
}

/// Runs `patrolctl --collector URL incidents ARGS...`, returning (exit code, stdout, stderr).
fn incidents(url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--collector", url, "incidents"];
    all.extend_from_slice(args);
    run("patrolctl", &all)
}

/// Like [`incidents`] for a command that must succeed and print one JSON object.
fn json_ok(url: &str, args: &[&str]) -> Value {
    let (code, out, err) = incidents(url, args);
    assert_eq!(code, 0, "patrolctl incidents {args:?} failed: {err}");
    assert_eq!(out.lines().count(), 1, "one JSON object expected: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn show(url: &str, id: &str) -> Value {
    json_ok(url, &["show", id, "--json"])
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|e| e[key].as_str().unwrap_or("<none>").to_owned())
        .collect()
}

fn deadline<'a>(shown: &'a Value, clock: &str) -> &'a Value {
    shown["deadlines"]
        .as_array()
        .and_then(|d| d.iter().find(|c| c["clock"] == clock))
        .unwrap_or_else(|| panic!("no {clock} deadline in {shown}"))
}

#[test]
fn a_manual_incident_goes_through_its_whole_lifecycle() {
    let (_dir, _collector, url) = start();
    let tail_json = Proc::spawn("patrolctl", &["--collector", &url, "tail", "--json"]);
    let tail_text = Proc::spawn("patrolctl", &["--collector", &url, "tail"]);
    // Both watchers are subscribed once they show an incident created after they started (as
    // a snapshot row or live): from then on every change reaches them live.
    json_ok(
        &url,
        &[
            "create",
            "--level",
            "P4",
            "--host",
            "probe",
            "--summary",
            "watchers ready",
            "--source",
            "other",
            "--by",
            "test",
            "--json",
        ],
    );
    tail_json.wait_line(Duration::from_secs(20), |l| {
        l.contains("\"summary\":\"watchers ready\"").then_some(())
    });
    tail_text.wait_line(Duration::from_secs(20), |l| {
        l.contains("watchers ready").then_some(())
    });

    let created = json_ok(
        &url,
        &[
            "create",
            "--level",
            "P2",
            "--host",
            "db01",
            "--summary",
            "users report slow logins",
            "--source",
            "phone",
            "--label",
            "service=portal",
            "--by",
            "ann",
            "--json",
        ],
    );
    assert_eq!(created["rule"], "manual");
    assert_eq!(created["state"], "open");
    assert_eq!(created["severity"], "P2");
    assert_eq!(created["source"], "phone");
    assert_eq!(created["labels"]["service"], "portal");
    assert_eq!(created["labels"]["host"], "db01");
    assert!(created["respond_due_at"].is_string(), "{created}");
    assert!(created["resolve_due_at"].is_string(), "{created}");
    let id = created["id"].as_u64().expect("id").to_string();

    let shown = show(&url, &id);
    assert_eq!(shown["incident"]["state"], "open");
    assert_eq!(strings(&shown["journal"], "kind"), ["opened"]);
    assert_eq!(strings(&shown["journal"], "actor"), ["ann"]);
    assert_eq!(deadline(&shown, "respond")["status"], "running");
    assert!(
        deadline(&shown, "respond")["left_ms"]
            .as_i64()
            .is_some_and(|l| l > 0)
    );

    // Each step and the state it leads to.
    let steps: [(&[&str], &str); 7] = [
        (
            &["ack", &id, "--by", "bob", "--note", "on it"],
            "acknowledged",
        ),
        (&["assign", &id, "--to", "carol", "--by", "bob"], "assigned"),
        (
            &["wait", &id, "--by", "carol", "--note", "vendor ticket 4711"],
            "waiting",
        ),
        (
            &[
                "comment",
                &id,
                "--by",
                "carol",
                "--note",
                "vendor called back",
            ],
            "waiting",
        ),
        (
            &[
                "plan",
                &id,
                "--by",
                "carol",
                "--note",
                "replace the disk tonight",
            ],
            "waiting",
        ),
        (
            &["resolve", &id, "--by", "carol", "--note", "disk replaced"],
            "resolved",
        ),
        (&["close", &id, "--by", "ann"], "closed"),
    ];
    for (args, state) in steps {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let changed = json_ok(&url, &with_json);
        assert_eq!(changed["state"], state, "{args:?}: {changed}");
        let shown = show(&url, &id);
        assert_eq!(shown["incident"]["state"], state, "{args:?}");
        let last = shown["journal"]
            .as_array()
            .and_then(|j| j.last())
            .cloned()
            .expect("journal entry");
        let by = args
            .iter()
            .position(|a| *a == "--by")
            .map(|i| args[i + 1])
            .expect("--by");
        assert_eq!(last["actor"], by, "{args:?}: {last}");
        assert_eq!(last["state"], state, "{args:?}: {last}");
    }

    let shown = show(&url, &id);
    let incident = &shown["incident"];
    assert_eq!(incident["acked_by"], "bob");
    assert_eq!(incident["ack_note"], "on it");
    assert_eq!(incident["assignee"], "carol");
    assert_eq!(incident["resolved_by"], "carol");
    assert_eq!(incident["resolution"], "disk replaced");
    assert!(incident["planned_at"].is_string(), "{incident}");
    assert!(incident["closed_at"].is_string(), "{incident}");
    assert_eq!(
        strings(&shown["journal"], "kind"),
        [
            "opened",
            "acknowledged",
            "assigned",
            "waiting",
            "commented",
            "planned",
            "resolved",
            "closed"
        ]
    );
    assert_eq!(
        strings(&shown["journal"], "actor"),
        [
            "ann", "bob", "bob", "carol", "carol", "carol", "carol", "ann"
        ]
    );
    assert_eq!(
        strings(&shown["journal"], "note"),
        [
            "<none>",
            "on it",
            "<none>",
            "vendor ticket 4711",
            "vendor called back",
            "replace the disk tonight",
            "disk replaced",
            "<none>"
        ]
    );
    // Acknowledged and resolved within seconds of opening: both clocks met, and the resolution
    // recorded it in its detail.
    for clock in ["respond", "resolve"] {
        let d = deadline(&shown, clock);
        assert_eq!(d["status"], "met", "{clock}: {d}");
        assert!(d["met_at"].is_string(), "{d}");
    }
    let resolved = &shown["journal"][6];
    assert_eq!(resolved["detail"]["respond"]["met"], true, "{resolved}");
    assert_eq!(resolved["detail"]["resolve"]["met"], true, "{resolved}");
    assert_eq!(shown["journal"][2]["detail"]["assignee"], "carol");

    // The human view has the same three parts.
    let (code, text, err) = incidents(&url, &["show", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("\ndeadlines\nCLOCK    DUE"), "{text}");
    assert!(text.contains("\njournal\nTIME"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("  bob  ")
            && l.contains(" assigned ")
            && l.ends_with("  to carol")),
        "{text}"
    );
    assert!(text.contains("\"disk replaced\""), "{text}");

    // An illegal transition exits 1 with the store's sentence.
    let (code, out, err) = incidents(&url, &["ack", &id, "--by", "bob"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err.trim(),
        format!("patrolctl: incident {id}: cannot acknowledge a closed incident")
    );
    assert!(out.is_empty(), "{out}");

    // Every change was on the stream as it happened, with its note and parsed detail.
    let id_num: u64 = id.parse().expect("id");
    let mut seen = Vec::new();
    let assigned = tail_json.wait_line(Duration::from_secs(20), |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        if v["incident"]["id"].as_u64() != Some(id_num) {
            return None;
        }
        seen.push(v["kind"].as_str().unwrap_or_default().to_owned());
        (v["kind"] == "assigned").then_some(v)
    });
    assert_eq!(seen, ["opened", "acknowledged", "assigned"]);
    assert_eq!(assigned["detail"]["assignee"], "carol", "{assigned}");
    assert_eq!(assigned["incident"]["assignee"], "carol", "{assigned}");
    let closed = tail_json.wait_line(Duration::from_secs(20), |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["kind"] == "closed").then_some(v)
    });
    assert_eq!(closed["actor"], "ann");
    let waiting_line = tail_text.wait_line(Duration::from_secs(20), |l| {
        (l.contains("  WAITING ") && l.contains(&format!("#{id}"))).then(|| l.to_owned())
    });
    assert!(
        waiting_line.ends_with("— \"vendor ticket 4711\" (by carol)"),
        "{waiting_line}"
    );
}

#[test]
fn bad_requests_are_refused_with_what_is_known() {
    let (_dir, _collector, url) = start();
    let create = |level: &str, source: &str| {
        incidents(
            &url,
            &[
                "create",
                "--level",
                level,
                "--host",
                "db01",
                "--summary",
                "fan noise in rack 4",
                "--source",
                source,
                "--by",
                "ann",
            ],
        )
    };
    let (code, _, err) = create("P9", "inspection");
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "patrolctl: unknown level 'P9': this site's levels are P1, P2, P3, P4"
    );
    let (code, _, err) = create("P3", "pager");
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "patrolctl: unknown source 'pager': expected one of phone, email, inspection, other"
    );
    let (code, _, err) = incidents(&url, &["show", "999"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "patrolctl: incident 999 not found");
    // Waiting needs someone to have taken the incident first.
    let (code, out, err) = create("P3", "inspection");
    assert_eq!(code, 0, "{err}");
    let id = out
        .split('#')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the changed line names the incident")
        .to_owned();
    let (code, _, err) = incidents(&url, &["wait", &id, "--by", "ann", "--note", "vendor"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!(
            "patrolctl: incident {id}: cannot put an open incident on wait \
             (acknowledge or assign it first)"
        )
    );
    // A usage error (no --note) is exit 2, before any request.
    let (code, _, _) = incidents(&url, &["comment", &id, "--by", "ann"]);
    assert_eq!(code, 2);
    // A note too long for the journal is refused, and nothing is written.
    let long = "x".repeat(16 * 1024 + 1);
    let (code, _, err) = incidents(&url, &["comment", &id, "--by", "ann", "--note", &long]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!(
            "patrolctl: the note is 16385 bytes long; at most 16384 (link a ticket or document for more)"
        )
    );
    // A journal longer than asked for: the newest entries, and how many there are in all.
    for n in 1..=4 {
        let note = format!("round {n}");
        let (code, _, err) = incidents(&url, &["comment", &id, "--by", "ann", "--note", &note]);
        assert_eq!(code, 0, "{err}");
    }
    let shown = json_ok(&url, &["show", &id, "--limit", "2", "--json"]);
    assert_eq!(shown["journal_total"], 5, "{shown}");
    assert_eq!(strings(&shown["journal"], "note"), ["round 3", "round 4"]);
    let (code, out, err) = incidents(&url, &["show", &id, "--limit", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(the newest 2 of 5 entries;"), "{out}");

    // The list carries the new fields and the clock column.
    let (code, out, err) = incidents(&url, &["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("JSON array");
    let first = &list[0];
    assert_eq!(first["source"], "inspection");
    assert_eq!(first["rule"], "manual");
    assert!(first["respond_due_at"].is_string(), "{first}");
    assert!(first["resolve_due_at"].is_string(), "{first}");
    assert_eq!(first["assignee"], Value::Null);
    let (code, out, err) = incidents(&url, &["list"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap_or_default();
    assert!(header.contains("  CLOCK  "), "{out}");
    // P3's respond target is 20 minutes on the built-in 7×24 calendar.
    assert!(
        out.lines().nth(1).is_some_and(
            |l| l.contains("  respond 19m left  ") || l.contains("  respond 20m left  ")
        ),
        "{out}"
    );
}
