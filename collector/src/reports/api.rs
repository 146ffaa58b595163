//! The `Reports` gRPC service (`proto/patrol/v1/reports.proto`): thin — decode, run the
//! request ([`super::records`]) on the blocking pool, render, answer. [`status`] is the one
//! place a report error becomes a gRPC status.
//!
//! Roles (for the security layer's method table): `ListSheets`, `GetSheet`, `SlaReport`,
//! `MonthlySummary` and `FaultReport` read (viewer); `Sign` journals a sign-off (operator).

use std::str::FromStr;
use std::sync::Arc;

use patrol_proto::v1::{self, reports_server};
use tonic::{Request, Response, Status};

use super::Reports;
use super::archive::SheetRow;
use super::records::{self, ReportError, Which};
use super::render::{self, Format};

/// Sheets listed when the request says no limit.
const LIST_DEFAULT: usize = 100;
/// Sheets listed at most.
const LIST_MAX: usize = 10_000;

pub struct ReportsService {
    reports: Arc<Reports>,
}

impl ReportsService {
    pub fn new(reports: Arc<Reports>) -> Self {
        Self { reports }
    }
}

/// The one place report errors become gRPC statuses.
pub fn status(e: ReportError) -> Status {
    match e {
        ReportError::NotFound(m) => Status::not_found(m),
        ReportError::Invalid(m) => Status::invalid_argument(m),
        ReportError::TooLong(m) => Status::resource_exhausted(m),
        ReportError::Refused(m) => Status::failed_precondition(m),
        ReportError::Unavailable(m) => Status::unavailable(m),
    }
}

fn format(s: &str) -> Result<Format, Status> {
    Format::from_str(s).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// A sheet's particulars on the wire.
pub fn info(row: &SheetRow) -> v1::SheetInfo {
    let signed = row.signed.as_ref();
    v1::SheetInfo {
        id: row.id,
        schedule: row.schedule.clone(),
        at_ms: row.at_ms,
        previous_ms: row.previous_ms,
        date: row.local_date.clone(),
        time_zone: row.time_zone.clone(),
        language: row.language.clone(),
        created_ms: row.created_ms,
        caught_up: row.caught_up,
        no_data: row.no_data,
        checks: row.checks,
        abnormal_checks: row.abnormal_checks,
        open_incidents: row.open_incidents,
        signed_by: signed.map(|s| s.by.clone()).unwrap_or_default(),
        signed_ms: signed.map_or(0, |s| s.at_ms),
        sign_note: signed.and_then(|s| s.note.clone()).unwrap_or_default(),
    }
}

/// A sheet built now, described like a stored one (id 0).
fn info_of_built(s: &patrol_report::Sheet) -> v1::SheetInfo {
    v1::SheetInfo {
        schedule: s.schedule.clone(),
        at_ms: s.at_ms,
        previous_ms: s.previous_ms,
        date: super::local_date(s.at_ms, &s.zone()),
        time_zone: s.time_zone.clone(),
        language: s.language.code().to_owned(),
        created_ms: s.at_ms,
        no_data: s.no_data,
        checks: u32::try_from(s.summary.checks).unwrap_or(u32::MAX),
        abnormal_checks: u32::try_from(s.summary.abnormal_checks).unwrap_or(u32::MAX),
        open_incidents: u32::try_from(s.summary.open_incidents).unwrap_or(u32::MAX),
        ..Default::default()
    }
}

fn rendered(format: Format, body: String, sheet: Option<v1::SheetInfo>) -> v1::Rendered {
    v1::Rendered {
        format: format.name().to_owned(),
        content_type: format.content_type().to_owned(),
        body,
        sheet,
    }
}

/// Runs `f` on the blocking pool (SQLite, history reads).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReportError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(status)
}

fn no_csv(what: &str) -> Status {
    Status::invalid_argument(format!(
        "the {what} is several tables: ask for html, md or json (CSV is for the sheet and the SLA report)"
    ))
}

#[tonic::async_trait]
impl reports_server::Reports for ReportsService {
    async fn list_sheets(
        &self,
        request: Request<v1::ListSheetsRequest>,
    ) -> Result<Response<v1::ListSheetsResponse>, Status> {
        let r = request.into_inner();
        let limit = match r.limit {
            0 => LIST_DEFAULT,
            n => (n as usize).min(LIST_MAX),
        };
        let month = if r.month.trim().is_empty() {
            None
        } else {
            let (y, m) = records::parse_month(&r.month).map_err(status)?;
            Some(format!("{y:04}-{m:02}"))
        };
        let schedule = Some(r.schedule).filter(|s| !s.trim().is_empty());
        let reports = Arc::clone(&self.reports);
        let rows = blocking(move || {
            reports
                .archive
                .list(limit, schedule.as_deref(), month.as_deref())
                .map_err(records::unavailable)
        })
        .await?;
        Ok(Response::new(v1::ListSheetsResponse {
            sheets: rows.iter().map(info).collect(),
        }))
    }

    async fn get_sheet(
        &self,
        request: Request<v1::GetSheetRequest>,
    ) -> Result<Response<v1::Rendered>, Status> {
        let r = request.into_inner();
        let f = format(&r.format)?;
        let lang = records::language(&r.language).map_err(status)?;
        let which = if r.now {
            Which::Now(Some(r.schedule).filter(|s| !s.trim().is_empty()))
        } else if r.id != 0 {
            Which::Id(r.id)
        } else if !r.date.trim().is_empty() {
            Which::Date(r.date)
        } else {
            Which::Newest
        };
        let reports = Arc::clone(&self.reports);
        let (row, sheet) = blocking(move || reports.sheet(&which, lang)).await?;
        let info = match &row {
            Some(row) => info(row),
            None => info_of_built(&sheet),
        };
        let body = render::sheet(&sheet, f);
        Ok(Response::new(rendered(f, body, Some(info))))
    }

    async fn sign(
        &self,
        request: Request<v1::SignRequest>,
    ) -> Result<Response<v1::SheetInfo>, Status> {
        // The reviewer is the authenticated caller (or the person a shared identity names).
        let by = crate::auth::caller(&request).actor(&request.get_ref().by)?;
        let r = request.into_inner();
        let reports = Arc::clone(&self.reports);
        let row = blocking(move || reports.sign(r.id, &by, &r.note)).await?;
        Ok(Response::new(info(&row)))
    }

    async fn sla_report(
        &self,
        request: Request<v1::SlaReportRequest>,
    ) -> Result<Response<v1::Rendered>, Status> {
        let r = request.into_inner();
        let f = format(&r.format)?;
        let lang = records::language(&r.language).map_err(status)?;
        let reports = Arc::clone(&self.reports);
        let report = blocking(move || reports.sla(&r.from, &r.to, lang)).await?;
        Ok(Response::new(rendered(f, render::sla(&report, f), None)))
    }

    async fn monthly_summary(
        &self,
        request: Request<v1::MonthlySummaryRequest>,
    ) -> Result<Response<v1::Rendered>, Status> {
        let r = request.into_inner();
        let f = format(&r.format)?;
        let lang = records::language(&r.language).map_err(status)?;
        let reports = Arc::clone(&self.reports);
        let m = blocking(move || reports.monthly(&r.month, lang)).await?;
        let body = render::monthly(&m, f).ok_or_else(|| no_csv("monthly summary"))?;
        Ok(Response::new(rendered(f, body, None)))
    }

    async fn fault_report(
        &self,
        request: Request<v1::FaultReportRequest>,
    ) -> Result<Response<v1::Rendered>, Status> {
        let r = request.into_inner();
        let f = format(&r.format)?;
        let lang = records::language(&r.language).map_err(status)?;
        let reports = Arc::clone(&self.reports);
        let report = blocking(move || reports.fault(r.incident, lang)).await?;
        let body = render::fault(&report, f).ok_or_else(|| no_csv("fault report"))?;
        Ok(Response::new(rendered(f, body, None)))
    }
}
