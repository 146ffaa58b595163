//! The inspection sheet printed: HTML (a self-contained page), Markdown, CSV (RFC 4180, one
//! record per row) and JSON (the [`Sheet`] itself). Every label comes from the language table.

use std::fmt::Write as _;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::format;
use crate::lang::{Language, Text};
use crate::markup::{csv_record, esc, md_table, page, tr};
use crate::sheet::{Remark, Row, Sheet, Status, state_text};

/// What a sheet's cells say, worked out once for every format.
struct Cells<'a> {
    sheet: &'a Sheet,
    lang: Language,
    tz: TimeZone,
    day: Date,
}

impl<'a> Cells<'a> {
    fn new(sheet: &'a Sheet) -> Self {
        let tz = sheet.zone();
        let day = jiff::Timestamp::from_millisecond(sheet.at_ms)
            .map(|t| t.to_zoned(tz.clone()).date())
            .unwrap_or_default();
        Self {
            sheet,
            lang: sheet.language,
            tz,
            day,
        }
    }

    fn t(&self, t: Text) -> &'static str {
        t.get(self.lang)
    }

    fn when(&self, ms: i64) -> String {
        format::datetime(self.lang, ms, &self.tz)
    }

    fn near(&self, ms: i64) -> String {
        format::datetime_near(self.lang, ms, self.day, &self.tz)
    }

    fn title(&self) -> String {
        format!(
            "{} — {} — {}",
            self.t(Text::SheetTitle),
            self.sheet.title,
            self.when(self.sheet.at_ms)
        )
    }

    fn meta(&self) -> Vec<(&'static str, String)> {
        vec![
            (self.t(Text::Site), self.sheet.title.clone()),
            (self.t(Text::Schedule), self.sheet.schedule.clone()),
            (self.t(Text::InspectedAt), self.when(self.sheet.at_ms)),
            (
                self.t(Text::Period),
                format!(
                    "{} – {}{}",
                    self.when(self.sheet.previous_ms),
                    self.when(self.sheet.at_ms),
                    format::aside(self.lang, self.t(Text::PreviousInspection))
                ),
            ),
        ]
    }

    fn summary_head(&self) -> Vec<String> {
        [
            Text::ObjectsChecked,
            Text::ChecksMade,
            Text::AbnormalObjects,
            Text::AbnormalChecks,
            Text::OpenIncidents,
            Text::PeriodIncidents,
        ]
        .iter()
        .map(|t| self.t(*t).to_owned())
        .collect()
    }

    fn summary_values(&self) -> Vec<String> {
        let s = &self.sheet.summary;
        [
            s.objects,
            s.checks,
            s.abnormal_objects,
            s.abnormal_checks,
            s.open_incidents,
            s.period_incidents,
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    fn row_head(&self) -> Vec<String> {
        [
            Text::Object,
            Text::Check,
            Text::Value,
            Text::Worst,
            Text::Threshold,
            Text::Status,
            Text::Remarks,
        ]
        .iter()
        .map(|t| self.t(*t).to_owned())
        .collect()
    }

    fn value(&self, r: &Row) -> String {
        r.unit.show(self.lang, r.value)
    }

    fn worst(&self, r: &Row) -> String {
        match &r.worst {
            None => self.t(Text::NoValue).to_owned(),
            Some(w) => {
                let v = match w.aggregate {
                    crate::checks::Aggregate::Worst => r.unit.show(self.lang, w.value),
                    crate::checks::Aggregate::Increase => {
                        format!("+{}", format::number(self.lang, w.value, 0))
                    }
                };
                format!("{v}{}", format::aside(self.lang, &self.near(w.at_ms)))
            }
        }
    }

    fn threshold(&self, r: &Row) -> String {
        let parts: Vec<String> = r
            .watches
            .iter()
            .filter_map(|w| {
                let t = w.threshold?;
                let op = w.op.as_deref().unwrap_or("");
                let mut s = format!("{op} {}", r.unit.show_threshold(self.lang, t));
                let why = match &w.override_match {
                    Some(_) => format::list(self.lang, &[&w.severity, self.t(Text::Override)]),
                    None => w.severity.clone(),
                };
                s.push_str(&format::aside(self.lang, &why));
                Some(s)
            })
            .collect();
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join("; ")
        }
    }

    fn status(&self, r: &Row) -> &'static str {
        match r.status {
            Status::Normal => self.t(Text::Normal),
            Status::Abnormal => self.t(Text::Abnormal),
        }
    }

    fn remark(&self, m: &Remark) -> String {
        let sep = match self.lang {
            Language::En => "; ",
            Language::ZhCn => "；",
        };
        let colon = match self.lang {
            Language::En => ": ",
            Language::ZhCn => "：",
        };
        let mut parts = vec![
            format!("{} #{} {}", m.level, m.incident, m.summary),
            format!("{} {}", self.t(Text::Opened), self.near(m.opened_ms)),
        ];
        if let (Some(who), Some(at)) = (&m.acked_by, m.acked_ms) {
            parts.push(format!(
                "{} {who} {}",
                self.t(Text::AcknowledgedBy),
                self.near(at)
            ));
        }
        match m.resolved_ms {
            Some(at) => parts.push(format!("{} {}", self.t(Text::ResolvedAt), self.near(at))),
            None => parts.push(self.t(state_text(&m.state)).to_owned()),
        }
        if let Some(note) = &m.resolution {
            parts.push(format!("{}{colon}{note}", self.t(Text::Resolution)));
        }
        parts.join(sep)
    }

    fn remarks(&self, r: &Row) -> Vec<String> {
        r.remarks.iter().map(|m| self.remark(m)).collect()
    }

    fn sign_off(&self) -> Vec<(&'static str, Option<String>)> {
        let s = &self.sheet.sign_off;
        vec![
            (self.t(Text::Reviewer), s.reviewer.clone()),
            (self.t(Text::SignedAt), s.at_ms.map(|t| self.when(t))),
            (self.t(Text::Note), s.note.clone()),
        ]
    }
}

/// Column widths shared by every group's table, so the groups line up on paper.
const COLUMNS: &str = "<colgroup><col style=\"width:15%\" /><col style=\"width:12%\" />\
    <col style=\"width:8%\" /><col style=\"width:12%\" /><col style=\"width:14%\" />\
    <col style=\"width:6%\" /><col style=\"width:33%\" /></colgroup>";

/// The sheet as a self-contained HTML page.
pub fn html(sheet: &Sheet) -> String {
    let c = Cells::new(sheet);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<header>\n<h1>{}</h1>\n<p class=\"site\">{}</p>\n<dl class=\"meta\">",
        esc(c.t(Text::SheetTitle)),
        esc(&sheet.title)
    );
    for (k, v) in c.meta() {
        let _ = writeln!(b, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    b.push_str("</dl>\n</header>\n");
    let _ = writeln!(
        b,
        "<section>\n<h2>{}</h2>\n<table class=\"summary\">",
        esc(c.t(Text::Summary))
    );
    b.push_str(&tr("th", &esc_all(&c.summary_head())));
    b.push_str(&tr("td", &esc_all(&c.summary_values())));
    b.push_str("</table>\n</section>\n");
    if sheet.no_data {
        let _ = writeln!(b, "<p class=\"nodata\">{}</p>", esc(c.t(Text::NoData)));
    }
    for g in &sheet.groups {
        let _ = writeln!(
            b,
            "<section>\n<h2>{}</h2>\n<table class=\"rows\">\n{COLUMNS}\n<thead>",
            esc(g.group.title().get(c.lang))
        );
        b.push_str(&tr("th", &esc_all(&c.row_head())));
        b.push_str("</thead>\n<tbody>\n");
        for r in &g.rows {
            let abnormal = r.status == Status::Abnormal;
            let remarks = c.remarks(r);
            let remarks = if remarks.is_empty() {
                String::new()
            } else {
                let items: String = remarks
                    .iter()
                    .map(|m| format!("<li>{}</li>", esc(m)))
                    .collect();
                format!("<ul class=\"remarks\">{items}</ul>")
            };
            let _ = writeln!(
                b,
                "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td>{}</td><td class=\"status-{}\">{}</td><td>{}</td></tr>",
                if abnormal { " class=\"abnormal\"" } else { "" },
                esc(&r.object),
                esc(r.check_label(c.lang)),
                esc(&c.value(r)),
                esc(&c.worst(r)),
                esc(&c.threshold(r)),
                if abnormal { "abnormal" } else { "normal" },
                esc(c.status(r)),
                remarks
            );
        }
        b.push_str("</tbody>\n</table>\n</section>\n");
    }
    if !sheet.other_incidents.is_empty() {
        let _ = writeln!(
            b,
            "<section>\n<h2>{}</h2>\n<ul class=\"remarks\">",
            esc(c.t(Text::OtherIncidents))
        );
        for m in &sheet.other_incidents {
            let _ = writeln!(b, "<li>{} — {}</li>", esc(&m.host), esc(&c.remark(m)));
        }
        b.push_str("</ul>\n</section>\n");
    }
    let _ = writeln!(
        b,
        "<section>\n<h2>{}</h2>\n<table class=\"signoff\">",
        esc(c.t(Text::SignOff))
    );
    for (k, v) in c.sign_off() {
        let _ = writeln!(
            b,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(k),
            esc(v.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table>\n</section>\n");
    page(c.lang, &c.title(), &b)
}

fn esc_all(v: &[String]) -> Vec<String> {
    v.iter().map(|s| esc(s)).collect()
}

/// The sheet as Markdown.
pub fn markdown(sheet: &Sheet) -> String {
    let c = Cells::new(sheet);
    let mut out = format!("# {}\n\n", c.t(Text::SheetTitle));
    for (k, v) in c.meta() {
        let _ = writeln!(out, "- {k}: {v}");
    }
    let _ = write!(out, "\n## {}\n\n", c.t(Text::Summary));
    out.push_str(&md_table(&c.summary_head(), &[c.summary_values()]));
    if sheet.no_data {
        let _ = write!(out, "\n**{}**\n", c.t(Text::NoData));
    }
    for g in &sheet.groups {
        let _ = write!(out, "\n## {}\n\n", g.group.title().get(c.lang));
        let rows: Vec<Vec<String>> = g
            .rows
            .iter()
            .map(|r| {
                let status = match r.status {
                    Status::Abnormal => format!("**{}**", c.status(r)),
                    Status::Normal => c.status(r).to_owned(),
                };
                vec![
                    r.object.clone(),
                    r.check_label(c.lang).to_owned(),
                    c.value(r),
                    c.worst(r),
                    c.threshold(r),
                    status,
                    c.remarks(r).join(" / "),
                ]
            })
            .collect();
        out.push_str(&md_table(&c.row_head(), &rows));
    }
    if !sheet.other_incidents.is_empty() {
        let _ = write!(out, "\n## {}\n\n", c.t(Text::OtherIncidents));
        for m in &sheet.other_incidents {
            let _ = writeln!(out, "- {} — {}", m.host, c.remark(m));
        }
    }
    let _ = write!(out, "\n## {}\n\n", c.t(Text::SignOff));
    for (k, v) in c.sign_off() {
        let _ = writeln!(out, "- {k}: {}", v.unwrap_or_else(|| "________".to_owned()));
    }
    out
}

/// The sheet's rows as CSV (RFC 4180), with a header record in the sheet's language.
pub fn csv(sheet: &Sheet) -> String {
    let c = Cells::new(sheet);
    let head: Vec<String> = [
        Text::Group,
        Text::Object,
        Text::Check,
        Text::Metric,
        Text::Value,
        Text::Worst,
        Text::WorstAt,
        Text::Threshold,
        Text::Status,
        Text::Remarks,
    ]
    .iter()
    .map(|t| c.t(*t).to_owned())
    .collect();
    let mut out = csv_record(&head);
    for g in &sheet.groups {
        for r in &g.rows {
            let (worst, worst_at) = match &r.worst {
                None => (String::new(), String::new()),
                Some(w) => (
                    match w.aggregate {
                        crate::checks::Aggregate::Worst => r.unit.show(c.lang, w.value),
                        crate::checks::Aggregate::Increase => {
                            format!("+{}", format::number(c.lang, w.value, 0))
                        }
                    },
                    c.when(w.at_ms),
                ),
            };
            out.push_str(&csv_record(&[
                g.group.title().get(c.lang).to_owned(),
                r.object.clone(),
                r.check_label(c.lang).to_owned(),
                r.metric.clone(),
                c.value(r),
                worst,
                worst_at,
                c.threshold(r),
                c.status(r).to_owned(),
                c.remarks(r).join(" / "),
            ]));
        }
    }
    out
}

/// The sheet as JSON: every figure raw (numbers, milliseconds), keys in English.
pub fn json(sheet: &Sheet) -> String {
    serde_json::to_string_pretty(sheet).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
