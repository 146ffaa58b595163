//! The web console on the collector's HTTP port (docs/console.md): the incident board with
//! live updates ([`board`], [`events`]), an incident's page with its journal and deadlines
//! ([`incident`]), hosts with their current values and the day's charts ([`hosts`],
//! [`chart`]), the status of rules, site and agents ([`status`]), and the writes an
//! authenticated operator makes from the incident page ([`write`]).
//!
//! Pages are rendered on the server and work without script; one small stylesheet (with a
//! print stylesheet) and one plain script, both embedded in the binary, add the live board,
//! the ticking deadline clocks and the write buttons. Nothing is fetched from elsewhere, so
//! the console works on an isolated network. Every text that comes from operators or agents
//! (titles, labels, notes, host names) is escaped on its way into HTML.
//!
//! Reads need the viewer role ([`crate::auth::http::require_viewer`]); writes need the
//! operator role from the same roles table ([`crate::auth::roles`]) and are journaled under
//! the authenticated identity through the same store operations as the gRPC API.

pub mod board;
pub mod chart;
pub mod events;
pub mod hosts;
pub mod incident;
pub mod metrics;
pub mod status;
pub mod write;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::tz::TimeZone;
use patrol_report::markup::esc;

use crate::core::Core;

/// The stylesheet every console page links.
const CSS: &str = include_str!("assets/console.css");
/// The one script: live board, ticking clocks, token and write buttons.
const JS: &str = include_str!("assets/console.js");

/// The console's routes, with their state: reads behind the viewer check, the write API
/// checking its own need (it answers 401/403 with a sentence), the assets open.
pub fn router(core: Arc<Core>) -> Router {
    let reads = Router::new()
        .route("/console", get(board::show))
        .route("/console/", get(board::show))
        .route("/console/events", get(events::stream))
        .route("/console/incidents/{id}", get(incident::show))
        .route("/console/hosts", get(hosts::list))
        .route("/console/hosts/{host}", get(hosts::show))
        .route("/console/status", get(status::show))
        .route("/console/api/whoami", get(write::whoami))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&core),
            crate::auth::http::require_viewer,
        ));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        // Browsers ask for it on every page; an answer with no body keeps their logs clean.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/console/static/console.css", get(css))
        .route("/console/static/console.js", get(js))
        .route("/console/api/incidents/{id}/{op}", post(write::act))
        .merge(reads)
        .with_state(core)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Embedded in the binary: a new version is a new collector, so a short cache.
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Which navigation entry a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Board,
    Hosts,
    Status,
    None,
}

/// A whole console page around `body` (already HTML); `title` is escaped here.
pub fn page(title: &str, nav: Nav, body: &str) -> String {
    let item = |n: Nav, href: &str, text: &str| {
        format!(
            "<a href=\"{href}\"{}>{text}</a>",
            if n == nav {
                " class=\"here\" aria-current=\"page\""
            } else {
                ""
            }
        )
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · Patrol</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"/console/static/console.css\">\n\
         <script src=\"/console/static/console.js\" defer></script>\n</head>\n<body>\n\
         <nav class=\"top\"><strong>Patrol</strong> {} {} {} <a href=\"/reports/\">Reports</a>\
         <span class=\"signin noprint\"><span id=\"who\"></span>\
         <form id=\"signin\"><input type=\"password\" id=\"token\" placeholder=\"operator token\" \
         autocomplete=\"off\" aria-label=\"operator token\"> <button type=\"submit\">Sign in</button></form>\
         <button type=\"button\" id=\"signout\" hidden>Sign out</button></span></nav>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(title),
        item(Nav::Board, "/console", "Board"),
        item(Nav::Hosts, "/console/hosts", "Hosts"),
        item(Nav::Status, "/console/status", "Status"),
    )
}

/// An HTML page answer.
pub fn html(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Pages carry live data: never from a cache.
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A refusal: its status and a plain sentence.
#[derive(Debug)]
pub struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = (
            self.0,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.1),
        )
            .into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<patrol_store::StoreError> for Refusal {
    fn from(e: patrol_store::StoreError) -> Self {
        use patrol_store::StoreError as E;
        let code = match &e {
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Illegal { .. } => StatusCode::CONFLICT,
            E::Invalid { .. } | E::InvalidNew(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        Refusal(code, e.to_string())
    }
}

/// Runs a store read off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, patrol_store::StoreError> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(Refusal::from)
}

/// The zone the console shows times in: the site's report zone (UTC without a site).
pub fn zone(core: &Core) -> TimeZone {
    crate::reports::report_zone(&patrol_site::current(&core.site))
}

/// `2026-05-04 09:15:02` in `tz`.
pub fn local(ms: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

/// A duration for people, two units at most: `1h 4m`, `4m 10s`, `12s`. The script
/// (`assets/console.js`, `span`) writes the same form as the clocks tick.
pub fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// A level's colour class by its rank in the site's scale (the first level is the most
/// severe): `rank-0` … `rank-3`, `rank-x` for a level the scale does not know.
pub fn rank_class(core: &Core, level: &str) -> String {
    match core.levels().rank(level) {
        Some(r) if r < 4 => format!("rank-{r}"),
        Some(_) => "rank-3".to_owned(),
        None => "rank-x".to_owned(),
    }
}

/// A sample value as people read it: whole numbers without decimals, others to 3 places.
pub fn value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        v.to_string()
    }
}

/// The value of one query parameter.
pub fn param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_the_clocks() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(12_400), "12s");
        assert_eq!(span(250_000), "4m 10s");
        assert_eq!(span(3_840_000), "1h 4m");
        assert_eq!(span(90_000_000), "1d 1h");
        assert_eq!(span(-5), "0s");
    }

    #[test]
    fn the_page_title_is_escaped() {
        let p = page("<script>x</script>", Nav::None, "");
        assert!(p.contains("<title>&lt;script&gt;x&lt;/script&gt; · Patrol</title>"));
    }
}
