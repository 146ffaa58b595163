//! Writes every record of the recorded test set, in every format and both languages, into a
//! directory, to look at them in a browser or print them:
//!
//! ```sh
//! cargo run -p patrol-report --example recorded -- /tmp/patrol-reports
//! ```

#[path = "../tests/recorded/mod.rs"]
mod recorded;

use std::path::PathBuf;

use patrol_report::fault::{self, FaultInput};
use patrol_report::monthly::{self, MonthlyInput};
use patrol_report::sheet::{self, SheetInput};
use patrol_report::sla::{self, SlaInput};
use patrol_report::{Language, sheet_render, sla_render};
use recorded::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "patrol-reports".to_owned()),
    );
    std::fs::create_dir_all(&dir)?;
    let site = site();
    let rules = rules();
    let incidents = incidents();
    let samples = samples();
    let worst = worst_of(&samples);
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai")?;
    let journal = journal_of_3();
    let known = [
        db1(&[]),
        app1(&[]),
        labels(&[("host", "web1"), ("role", "app")]),
    ];
    for lang in Language::ALL {
        let code = lang.code();
        let cur = current(&samples, oct9("16:00"));
        let s = sheet::build(&SheetInput {
            title: sheet::site_title(&site),
            schedule: "daily".into(),
            at_ms: oct9("16:00"),
            previous_ms: oct9("09:00"),
            language: lang,
            time_zone: tz.clone(),
            current: &cur,
            worst: &worst,
            rules: &rules,
            incidents: &incidents,
        });
        std::fs::write(
            dir.join(format!("sheet.{code}.html")),
            sheet_render::html(&s),
        )?;
        std::fs::write(
            dir.join(format!("sheet.{code}.md")),
            sheet_render::markdown(&s),
        )?;
        std::fs::write(dir.join(format!("sheet.{code}.csv")), sheet_render::csv(&s))?;
        std::fs::write(
            dir.join(format!("sheet.{code}.json")),
            sheet_render::json(&s),
        )?;
        let (from, to) = monthly::month_period(2026, 10, &tz).ok_or("month")?;
        let r = sla::build(&SlaInput {
            title: sheet::site_title(&site),
            site: &site,
            incidents: &incidents,
            from_ms: from,
            to_ms: to,
            now_ms: at("2026-11-02T09:00:00+08:00"),
            known: &known,
            language: lang,
            time_zone: tz.clone(),
        })?;
        std::fs::write(dir.join(format!("sla.{code}.html")), sla_render::html(&r))?;
        std::fs::write(dir.join(format!("sla.{code}.md")), sla_render::markdown(&r))?;
        let m = monthly::build(&MonthlyInput {
            title: sheet::site_title(&site),
            year: 2026,
            month: 10,
            sheets: std::slice::from_ref(&s),
            sla: &r,
            language: lang,
            time_zone: tz.clone(),
        });
        std::fs::write(dir.join(format!("monthly.{code}.html")), monthly::html(&m))?;
        let f = fault::build(&FaultInput {
            title: sheet::site_title(&site),
            site: &site,
            incident: incidents.iter().find(|i| i.id == 3).ok_or("incident 3")?,
            journal: &journal,
            now_ms: at("2026-10-12T09:00:00+08:00"),
            language: lang,
            time_zone: tz.clone(),
        })?;
        std::fs::write(dir.join(format!("fault.{code}.html")), fault::html(&f))?;
        std::fs::write(dir.join(format!("fault.{code}.md")), fault::markdown(&f))?;
    }
    println!("written to {}", dir.display());
    Ok(())
}
