//! docs/reports.md shows what the code renders: its example sheet (both languages), SLA
//! report, fault report and check table are generated from the recorded set and compared
//! here. `PATROL_UPDATE_DOCS=1 cargo test -p patrol-report --test docs_examples` rewrites
//! them after a deliberate change.

#![allow(clippy::unwrap_used)]

mod recorded;

use patrol_report::checks::CHECKS;
use patrol_report::fault::{self, FaultInput};
use patrol_report::sheet::{self, SheetInput};
use patrol_report::sla::{self, SlaInput};
use patrol_report::{Language, sheet_render, sla_render};
use recorded::*;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/reports.md");

fn sheet_md(lang: Language) -> String {
    let samples = samples();
    let cur = current(&samples, oct9("16:00"));
    let worst = worst_of(&samples);
    let rules = rules();
    let incidents = incidents();
    let s = sheet::build(&SheetInput {
        title: "HQ data centre".into(),
        schedule: "daily".into(),
        at_ms: oct9("16:00"),
        previous_ms: oct9("09:00"),
        language: lang,
        time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
        current: &cur,
        worst: &worst,
        rules: &rules,
        incidents: &incidents,
    });
    sheet_render::markdown(&s)
}

fn sla_md() -> String {
    let site = site();
    let incidents = incidents();
    let known = [
        db1(&[]),
        app1(&[]),
        labels(&[("host", "web1"), ("role", "app")]),
    ];
    let r = sla::build(&SlaInput {
        title: "HQ data centre".into(),
        site: &site,
        incidents: &incidents,
        from_ms: at("2026-10-01T00:00:00+08:00"),
        to_ms: at("2026-11-01T00:00:00+08:00"),
        now_ms: at("2026-11-02T09:00:00+08:00"),
        known: &known,
        language: Language::En,
        time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
    })
    .unwrap();
    sla_render::markdown(&r)
}

fn fault_md() -> String {
    let site = site();
    let incidents = incidents();
    let journal = journal_of_3();
    let r = fault::build(&FaultInput {
        title: "HQ data centre".into(),
        site: &site,
        incident: incidents.iter().find(|i| i.id == 3).unwrap(),
        journal: &journal,
        now_ms: at("2026-10-12T09:00:00+08:00"),
        language: Language::En,
        time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
    })
    .unwrap();
    fault::markdown(&r)
}

fn checks_table() -> String {
    let mut out =
        String::from("| metric | group | check | object | worst is |\n|---|---|---|---|---|\n");
    for c in CHECKS {
        out.push_str(&format!(
            "| `{}` | {} | {} ({}) | {} | {} |\n",
            c.metric,
            c.group.title().get(Language::En),
            c.text.get(Language::En),
            c.text.get(Language::ZhCn),
            c.object.join(", "),
            match (c.aggregate, c.bad) {
                (patrol_report::checks::Aggregate::Increase, _) => "the increase",
                (_, patrol_report::Bad::High) => "the maximum",
                (_, patrol_report::Bad::Low) => "the minimum",
            }
        ));
    }
    out
}

fn fenced(body: &str) -> String {
    format!("````markdown\n{}````\n", body)
}

#[test]
fn docs_reports_md_shows_what_the_code_renders() {
    let blocks = [
        ("checks", checks_table()),
        ("sheet-en", fenced(&sheet_md(Language::En))),
        ("sheet-zh", fenced(&sheet_md(Language::ZhCn))),
        ("sla-en", fenced(&sla_md())),
        ("fault-en", fenced(&fault_md())),
    ];
    let mut doc = std::fs::read_to_string(DOC).unwrap();
    let mut stale = Vec::new();
    for (name, want) in &blocks {
        let begin = format!("<!-- BEGIN generated {name} -->\n");
        let end = format!("<!-- END generated {name} -->");
        let start = doc
            .find(&begin)
            .unwrap_or_else(|| panic!("docs/reports.md lacks the marker {begin}"))
            + begin.len();
        let stop = start
            + doc[start..]
                .find(&end)
                .unwrap_or_else(|| panic!("docs/reports.md lacks the marker {end}"));
        if &doc[start..stop] != want {
            stale.push(*name);
            doc.replace_range(start..stop, want);
        }
    }
    if std::env::var_os("PATROL_UPDATE_DOCS").is_some() {
        std::fs::write(DOC, doc).unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "docs/reports.md differs from what the code renders in {stale:?}: run PATROL_UPDATE_DOCS=1 cargo test -p patrol-report --test docs_examples and review the diff"
    );
}
