//! The records as pages on the collector's HTTP port, from the same code as the gRPC service
//! ([`super::records`]): HTML by default, `?format=md|csv|json` for the other renderings,
//! `?lang=en|zh-CN` for the other language.
//!
//! | path | what |
//! |---|---|
//! | `/reports/` | the sheets kept, newest first, with links |
//! | `/reports/sheets/{id}` | one sheet |
//! | `/reports/sheets?date=YYYY-MM-DD` | the newest sheet of that date (no date: the newest; `now=1`: one made now, not stored) |
//! | `/reports/sla?from=..&to=..` | the SLA report of `[from, to)` |
//! | `/reports/monthly?month=YYYY-MM` | the monthly summary (no month: the previous one) |
//! | `/reports/fault/{id}` | the fault report of incident `id` |
//!
//! An error is a plain sentence with its status: 400 for a malformed request, 404 for no such
//! sheet or incident, 409 for a refused one, 413 for a period over the limit, 503 when the
//! archive or the store cannot be read.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use patrol_report::Language;
use patrol_report::lang::Text;
use patrol_report::markup::{esc, page};

use super::Reports;
use super::records::{self, ReportError, Which};
use super::render::{self, Format};

/// The report pages, with their state.
pub fn router(reports: Arc<Reports>) -> Router {
    Router::new()
        .route("/reports", get(index))
        .route("/reports/", get(index))
        .route("/reports/sheets", get(sheet_by_query))
        .route("/reports/sheets/{id}", get(sheet_by_id))
        .route("/reports/sla", get(sla))
        .route("/reports/monthly", get(monthly))
        .route("/reports/fault/{id}", get(fault))
        .with_state(reports)
}

/// A refusal: its status and sentence.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.1),
        )
            .into_response()
    }
}

impl From<ReportError> for Refusal {
    fn from(e: ReportError) -> Self {
        let code = match &e {
            ReportError::NotFound(_) => StatusCode::NOT_FOUND,
            ReportError::Invalid(_) => StatusCode::BAD_REQUEST,
            ReportError::TooLong(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ReportError::Refused(_) => StatusCode::CONFLICT,
            ReportError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Refusal(code, e.to_string())
    }
}

fn params(q: Option<String>) -> HashMap<String, String> {
    q.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// `format` (default html) and `lang` of a request.
fn format_and_lang(p: &HashMap<String, String>) -> Result<(Format, Option<Language>), Refusal> {
    let format = match p.get("format") {
        Some(f) => {
            Format::from_str(f).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e.to_string()))?
        }
        None => Format::Html,
    };
    let lang = records::language(p.get("lang").map_or("", String::as_str))?;
    Ok((format, lang))
}

fn page_of(format: Format, body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReportError> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(Refusal::from)
}

fn no_csv(what: &str) -> Refusal {
    Refusal(
        StatusCode::BAD_REQUEST,
        format!(
            "the {what} is several tables: ask for html, md or json (CSV is for the sheet and the SLA report)"
        ),
    )
}

async fn sheet_of(
    reports: Arc<Reports>,
    which: Which,
    p: HashMap<String, String>,
) -> Result<Response, Refusal> {
    let (format, lang) = format_and_lang(&p)?;
    let (_, sheet) = blocking(move || reports.sheet(&which, lang)).await?;
    Ok(page_of(format, render::sheet(&sheet, format)))
}

async fn sheet_by_id(
    State(reports): State<Arc<Reports>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let id: u64 = id.parse().map_err(|_| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("'{id}' is not a sheet number"),
        )
    })?;
    sheet_of(reports, Which::Id(id), params(q)).await
}

async fn sheet_by_query(
    State(reports): State<Arc<Reports>>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let p = params(q);
    let which = if p.get("now").is_some_and(|v| v == "1" || v == "true") {
        Which::Now(p.get("schedule").filter(|s| !s.is_empty()).cloned())
    } else {
        match p.get("date").filter(|d| !d.is_empty()) {
            Some(d) => Which::Date(d.clone()),
            None => Which::Newest,
        }
    };
    sheet_of(reports, which, p).await
}

async fn sla(
    State(reports): State<Arc<Reports>>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let p = params(q);
    let (format, lang) = format_and_lang(&p)?;
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let (from, to) = (get("from"), get("to"));
    let report = blocking(move || reports.sla(&from, &to, lang)).await?;
    Ok(page_of(format, render::sla(&report, format)))
}

async fn monthly(
    State(reports): State<Arc<Reports>>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let p = params(q);
    let (format, lang) = format_and_lang(&p)?;
    let month = p.get("month").cloned().unwrap_or_default();
    let m = blocking(move || reports.monthly(&month, lang)).await?;
    let body = render::monthly(&m, format).ok_or_else(|| no_csv("monthly summary"))?;
    Ok(page_of(format, body))
}

async fn fault(
    State(reports): State<Arc<Reports>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let id: u64 = id.parse().map_err(|_| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("'{id}' is not an incident number"),
        )
    })?;
    let p = params(q);
    let (format, lang) = format_and_lang(&p)?;
    let r = blocking(move || reports.fault(id, lang)).await?;
    let body = render::fault(&r, format).ok_or_else(|| no_csv("fault report"))?;
    Ok(page_of(format, body))
}

/// Sheets listed on the index page.
const INDEX_SHEETS: usize = 200;

async fn index(
    State(reports): State<Arc<Reports>>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let p = params(q);
    let (_, lang) = format_and_lang(&p)?;
    let site = patrol_site::current(&reports.core.site);
    let lang = lang.unwrap_or(site.report.language);
    let title = patrol_report::sheet::site_title(&site);
    let tz = super::report_zone(&site);
    let rows = blocking({
        let reports = Arc::clone(&reports);
        move || {
            reports
                .archive
                .list(INDEX_SHEETS, None, None)
                .map_err(records::unavailable)
        }
    })
    .await?;
    let t = |x: Text| esc(x.get(lang));
    let mut b = format!(
        "<header>\n<h1>{}</h1>\n<p class=\"site\">{}</p>\n</header>\n",
        t(Text::SheetsInMonth),
        esc(&title)
    );
    let (y, m) = records::previous_month(reports.clock.now_ms(), &tz);
    b.push_str(&format!(
        "<p><a href=\"/reports/sheets?now=1\">{} ({})</a> · <a href=\"/reports/monthly?month={y:04}-{m:02}\">{} — {}</a></p>\n",
        t(Text::SheetTitle),
        t(Text::Generated),
        t(Text::MonthlyTitle),
        esc(&patrol_report::format::month(lang, y, m)),
    ));
    b.push_str("<table>\n<thead><tr>");
    for h in [
        Text::InspectedAt,
        Text::Schedule,
        Text::ChecksMade,
        Text::AbnormalChecks,
        Text::OpenIncidents,
        Text::Reviewer,
    ] {
        b.push_str(&format!("<th>{}</th>", t(h)));
    }
    b.push_str("</tr></thead>\n<tbody>\n");
    for r in &rows {
        let when = patrol_report::format::datetime(
            lang,
            r.at_ms,
            &patrol_report::format::zone(&r.time_zone),
        );
        b.push_str(&format!(
            "<tr{}><td><a href=\"/reports/sheets/{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            if r.abnormal_checks > 0 { " class=\"abnormal\"" } else { "" },
            r.id,
            esc(&when),
            esc(&r.schedule),
            r.checks,
            r.abnormal_checks,
            r.open_incidents,
            esc(r.signed.as_ref().map_or("", |s| s.by.as_str())),
        ));
    }
    b.push_str("</tbody>\n</table>\n");
    Ok(page_of(Format::Html, page(lang, &title, &b)))
}
