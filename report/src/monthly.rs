//! The monthly summary: the month's inspection sheets rolled up (each abnormal finding per
//! object and check, how often and when first and last), the incidents per level, and the
//! month's SLA figures; printable (the page's print stylesheet).

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::checks::Group;
use crate::doc::{Block, Doc, Line};
use crate::format;
use crate::lang::{Language, Text};
use crate::sheet::{Sheet, Status};
use crate::sla::SlaReport;

/// What a monthly summary is made from.
pub struct MonthlyInput<'a> {
    /// Shown at the top.
    pub title: String,
    /// The year.
    pub year: i16,
    /// The month, 1–12.
    pub month: i8,
    /// The month's sheets (any order).
    pub sheets: &'a [Sheet],
    /// The SLA report of the month ([`month_period`]).
    pub sla: &'a SlaReport,
    /// Its language.
    pub language: Language,
    /// The zone times are shown in.
    pub time_zone: TimeZone,
}

/// The monthly summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthlySummary {
    /// Shown at the top.
    pub title: String,
    /// Its language.
    pub language: Language,
    /// The zone of the times shown.
    pub time_zone: String,
    /// The year.
    pub year: i16,
    /// The month.
    pub month: i8,
    /// Sheets of the month.
    pub sheets: usize,
    /// Of those, signed off.
    pub signed: usize,
    /// Abnormal findings, in the sheet's order (group, check, object).
    pub findings: Vec<Rollup>,
    /// Incidents opened in the month per level, most severe first.
    pub incidents_per_level: Vec<(String, usize)>,
    /// The month's SLA figures.
    pub sla: SlaReport,
}

/// One object and check that was abnormal on at least one sheet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollup {
    /// Its group.
    pub group: Group,
    /// The object.
    pub object: String,
    /// The check's key.
    pub check: String,
    /// The check's name in the summary's language.
    pub check_label: String,
    /// The metric.
    pub metric: String,
    /// On how many sheets it was abnormal.
    pub sheets: usize,
    /// The first such sheet's time.
    pub first_ms: i64,
    /// The last one's.
    pub last_ms: i64,
    /// Incidents named in its remarks.
    pub incidents: Vec<u64>,
}

/// `[start, end)` of a month in `tz`, as ms.
pub fn month_period(year: i16, month: i8, tz: &TimeZone) -> Option<(i64, i64)> {
    let first = Date::new(year, month, 1).ok()?;
    let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
    let at = |d: Date| {
        tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .ok()
            .map(|t| t.as_millisecond())
    };
    Some((at(first)?, at(next)?))
}

/// Rolls the month up.
pub fn build(input: &MonthlyInput<'_>) -> MonthlySummary {
    let lang = input.language;
    let mut sheets: Vec<&Sheet> = input.sheets.iter().collect();
    sheets.sort_by_key(|s| s.at_ms);
    let mut roll: BTreeMap<(Group, String, String, String), Rollup> = BTreeMap::new();
    for s in &sheets {
        for g in &s.groups {
            for r in g.rows.iter().filter(|r| r.status == Status::Abnormal) {
                let key = (g.group, r.check.clone(), r.object.clone(), r.metric.clone());
                let e = roll.entry(key).or_insert_with(|| Rollup {
                    group: g.group,
                    object: r.object.clone(),
                    check: r.check.clone(),
                    check_label: r.check_label(lang).to_owned(),
                    metric: r.metric.clone(),
                    sheets: 0,
                    first_ms: s.at_ms,
                    last_ms: s.at_ms,
                    incidents: Vec::new(),
                });
                e.sheets += 1;
                e.last_ms = s.at_ms;
                for m in &r.remarks {
                    if !e.incidents.contains(&m.incident) {
                        e.incidents.push(m.incident);
                    }
                }
            }
        }
    }
    MonthlySummary {
        title: input.title.clone(),
        language: lang,
        time_zone: format::zone_name(&input.time_zone),
        year: input.year,
        month: input.month,
        sheets: sheets.len(),
        signed: sheets
            .iter()
            .filter(|s| s.sign_off.reviewer.is_some())
            .count(),
        findings: roll.into_values().collect(),
        incidents_per_level: input
            .sla
            .levels
            .iter()
            .map(|l| (l.level.clone(), l.incidents))
            .collect(),
        sla: input.sla.clone(),
    }
}

/// The summary as blocks.
pub fn doc(m: &MonthlySummary) -> Doc {
    let lang = m.language;
    let t = |x: Text| x.get(lang).to_owned();
    let tz = format::zone(&m.time_zone);
    let when = |ms: i64| format::datetime(lang, ms, &tz);
    let mut blocks = vec![Block::Facts(vec![
        (t(Text::Month), format::month(lang, m.year, m.month)),
        (t(Text::SheetsInMonth), m.sheets.to_string()),
        (t(Text::SheetsSigned), m.signed.to_string()),
    ])];
    blocks.push(Block::Heading(t(Text::AbnormalFindings)));
    if m.findings.is_empty() {
        blocks.push(Block::Para(t(Text::NoAbnormal)));
    } else {
        blocks.push(Block::Table {
            head: vec![
                t(Text::Group),
                t(Text::Object),
                t(Text::Check),
                t(Text::FirstSeen),
                t(Text::LastSeen),
                t(Text::Incident),
                t(Text::TimesAbnormal),
            ],
            rows: m
                .findings
                .iter()
                .map(|f| {
                    Line::plain(vec![
                        f.group.title().get(lang).to_owned(),
                        f.object.clone(),
                        f.check_label.clone(),
                        when(f.first_ms),
                        when(f.last_ms),
                        f.incidents
                            .iter()
                            .map(|i| format!("#{i}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        f.sheets.to_string(),
                    ])
                })
                .collect(),
            text_columns: 6,
        });
    }
    blocks.push(Block::Heading(t(Text::IncidentsPerLevel)));
    blocks.push(Block::Table {
        head: vec![t(Text::Level), t(Text::Incidents)],
        rows: m
            .incidents_per_level
            .iter()
            .map(|(l, n)| Line::plain(vec![l.clone(), n.to_string()]))
            .collect(),
        text_columns: 1,
    });
    // The SLA figures of the month follow, as the SLA report lays them out.
    let sla = crate::sla_render::doc(&m.sla);
    blocks.push(Block::Heading(sla.title));
    blocks.extend(sla.blocks);
    Doc {
        lang,
        title: format!(
            "{} — {}",
            t(Text::MonthlyTitle),
            format::month(lang, m.year, m.month)
        ),
        subtitle: m.title.clone(),
        blocks,
    }
}

/// As a self-contained, printable HTML page.
pub fn html(m: &MonthlySummary) -> String {
    doc(m).html()
}

/// As Markdown.
pub fn markdown(m: &MonthlySummary) -> String {
    doc(m).markdown()
}

/// As JSON.
pub fn json(m: &MonthlySummary) -> String {
    serde_json::to_string_pretty(m).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
