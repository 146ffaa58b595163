//! The SLA report laid out for people (HTML, Markdown) and as JSON.

use crate::availability::AvailabilityRow;
use crate::doc::{Block, Doc, Line};
use crate::format;
use crate::lang::{Language, Text};
use crate::markup::csv_record;
use crate::sla::{Breakdown, ClockSla, LevelSla, SlaReport, TimeStats};

/// `75% (3/4)`, or `-` when nothing was decided.
pub fn rate(lang: Language, c: &ClockSla) -> String {
    match c.rate {
        Some(r) => format!(
            "{} ({}/{})",
            format::percent(lang, r),
            c.met,
            c.met + c.late
        ),
        None => "-".to_owned(),
    }
}

fn time(lang: Language, v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |ms| format::duration(lang, ms))
}

fn level_line(lang: Language, l: &LevelSla, name: String) -> Line {
    let stats = |t: &TimeStats| [time(lang, t.mean_ms), time(lang, t.p95_ms)];
    let [mr, pr] = stats(&l.respond_time);
    let [ms, ps] = stats(&l.resolve_time);
    Line {
        marked: l.resolve.late > 0 || l.respond.late > 0 || l.fix_plan.late > 0,
        cells: vec![
            name,
            l.incidents.to_string(),
            rate(lang, &l.respond),
            if l.fix_plan.with_clock == 0 {
                "-".to_owned()
            } else {
                rate(lang, &l.fix_plan)
            },
            rate(lang, &l.resolve),
            mr,
            pr,
            ms,
            ps,
        ],
    }
}

fn availability_line(lang: Language, r: &AvailabilityRow, name: String) -> Line {
    Line {
        marked: r.outage_ms > 0,
        cells: vec![
            name,
            format::duration(lang, r.outage_ms),
            r.availability
                .map_or_else(|| "-".to_owned(), |a| format::percent_fine(lang, a)),
            match (r.availability, r.nines) {
                (Some(_), Some(n)) => format::number(lang, n, 1),
                (Some(_), None) => "∞".to_owned(),
                _ => "-".to_owned(),
            },
        ],
    }
}

fn breakdown_table(lang: Language, key: Text, rows: &[Breakdown]) -> Block {
    let t = |x: Text| x.get(lang).to_owned();
    Block::Table {
        head: vec![
            t(key),
            t(Text::Incidents),
            t(Text::Resolved),
            t(Text::ResolutionRate),
        ],
        rows: rows
            .iter()
            .map(|b| Line {
                marked: b.resolve.late > 0,
                cells: vec![
                    if b.key.is_empty() {
                        t(Text::Nobody)
                    } else {
                        b.key.clone()
                    },
                    b.incidents.to_string(),
                    b.resolved.to_string(),
                    rate(lang, &b.resolve),
                ],
            })
            .collect(),
        text_columns: 1,
    }
}

/// The report as blocks.
pub fn doc(r: &SlaReport) -> Doc {
    let lang = r.language;
    let t = |x: Text| x.get(lang).to_owned();
    let tz = format::zone(&r.time_zone);
    let when = |ms| format::datetime(lang, ms, &tz);
    let mut blocks = vec![Block::Facts(vec![
        (
            t(Text::Period),
            format!("{} – {}", when(r.from_ms), when(r.to_ms)),
        ),
        (t(Text::Generated), when(r.now_ms)),
    ])];
    blocks.push(Block::Heading(t(Text::DeadlinesMet)));
    let mut lines: Vec<Line> = r
        .levels
        .iter()
        .map(|l| level_line(lang, l, l.level.clone()))
        .collect();
    lines.push(level_line(lang, &r.total, t(Text::Total)));
    blocks.push(Block::Table {
        head: vec![
            t(Text::Level),
            t(Text::Incidents),
            t(Text::Respond),
            t(Text::FixPlan),
            format!(
                "{}{}",
                t(Text::Resolve),
                format::aside(lang, &t(Text::ResolutionRate))
            ),
            t(Text::MeanRespond),
            t(Text::P95Respond),
            t(Text::MeanResolve),
            t(Text::P95Resolve),
        ],
        rows: lines,
        text_columns: 1,
    });
    blocks.push(Block::Para(t(Text::BusinessTimeNote)));
    let a = &r.availability;
    blocks.push(Block::Heading(t(Text::Availability)));
    blocks.push(Block::Facts(vec![
        (t(Text::ServiceCalendar), a.calendar.clone()),
        (t(Text::CountedLevels), a.levels.join(", ")),
        (t(Text::ServiceTime), format::hours(lang, a.service_ms)),
    ]));
    let avail_head = |first: Text| {
        vec![
            t(first),
            t(Text::Outage),
            t(Text::Availability),
            t(Text::Nines),
        ]
    };
    blocks.push(Block::Table {
        head: avail_head(Text::Host),
        rows: a
            .hosts
            .iter()
            .map(|h| availability_line(lang, h, h.value.clone()))
            .collect(),
        text_columns: 1,
    });
    if !a.groups.is_empty() {
        blocks.push(Block::Table {
            head: avail_head(Text::Group),
            rows: a
                .groups
                .iter()
                .map(|g| availability_line(lang, g, format!("{}={}", g.label, g.value)))
                .collect(),
            text_columns: 1,
        });
    }
    blocks.push(Block::Para(t(Text::AvailabilityNote)));
    for (heading, key, rows) in [
        (Text::ByHost, Text::Host, &r.by_host),
        (Text::ByLevel, Text::Level, &r.by_level),
        (Text::BySource, Text::Source, &r.by_source),
        (Text::ByAssignee, Text::Assignee, &r.by_assignee),
    ] {
        blocks.push(Block::Heading(t(heading)));
        blocks.push(breakdown_table(lang, key, rows));
    }
    Doc {
        lang,
        title: t(Text::SlaTitle),
        subtitle: r.title.clone(),
        blocks,
    }
}

/// As a self-contained HTML page.
pub fn html(r: &SlaReport) -> String {
    doc(r).html()
}

/// As Markdown.
pub fn markdown(r: &SlaReport) -> String {
    doc(r).markdown()
}

/// The per-level table as CSV (RFC 4180): per level and in total, each clock's met, late,
/// still running and not needed counts and its rate in percent, and the business times in
/// minutes; headers in the report's language.
pub fn csv(r: &SlaReport) -> String {
    let lang = r.language;
    let t = |x: Text| x.get(lang);
    let mut head = vec![t(Text::Level).to_owned(), t(Text::Incidents).to_owned()];
    for clock in [Text::Respond, Text::FixPlan, Text::Resolve] {
        for what in [
            Text::MetCount,
            Text::LateCount,
            Text::PendingCount,
            Text::NotNeededCount,
            Text::RatePercent,
        ] {
            head.push(format!("{} {}", t(clock), t(what)));
        }
    }
    for stat in [
        Text::MeanRespond,
        Text::P95Respond,
        Text::MeanResolve,
        Text::P95Resolve,
    ] {
        head.push(format!(
            "{}{}",
            t(stat),
            format::aside(lang, t(Text::Minutes))
        ));
    }
    let mut out = csv_record(&head);
    let minutes =
        |v: Option<i64>| v.map_or_else(String::new, |ms| format!("{:.1}", ms as f64 / 60_000.0));
    for l in r.levels.iter().chain(std::iter::once(&r.total)) {
        let mut rec = vec![
            if l.level.is_empty() {
                t(Text::Total).to_owned()
            } else {
                l.level.clone()
            },
            l.incidents.to_string(),
        ];
        for c in [&l.respond, &l.fix_plan, &l.resolve] {
            rec.extend([
                c.met.to_string(),
                c.late.to_string(),
                c.running.to_string(),
                c.not_needed.to_string(),
                c.rate
                    .map_or_else(String::new, |x| format!("{:.1}", x * 100.0)),
            ]);
        }
        rec.extend([
            minutes(l.respond_time.mean_ms),
            minutes(l.respond_time.p95_ms),
            minutes(l.resolve_time.mean_ms),
            minutes(l.resolve_time.p95_ms),
        ]);
        out.push_str(&csv_record(&rec));
    }
    out
}

/// As JSON: raw figures (milliseconds, ratios), keys in English.
pub fn json(r: &SlaReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
