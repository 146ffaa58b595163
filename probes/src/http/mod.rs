//! HTTP probe (`type = "http"`): blackbox-style checks of web services and business systems —
//! one request with status and body expectations, or a short login transaction (ordered
//! steps sharing a cookie jar: GET the form, POST it with the password from a file, expect the
//! welcome text). Emits, per `target`: `http_up`, `http_status_code`, `http_duration_ms`,
//! `http_redirects`, `http_body_bytes`, for https the leaf certificate's
//! `tls_cert_expiry_days`, and for transactions `http_step_ok{step}` and
//! `http_step_duration_ms{step}`. See `README.md` beside this file.

mod config;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use patrol_proto::Sample;
use reqwest::header::LOCATION;

pub use config::{HttpConfig, StepConfig};
use config::{Settings, Step};

use crate::sample_out::{Failing, Out};
use crate::tls_peer::{self, Recorder};
use crate::{CollectContext, Probe, ProbeError};

/// The running http probe.
pub struct HttpProbe {
    settings: Settings,
    tls: Arc<rustls::ClientConfig>,
    recorder: Arc<Recorder>,
    failing: Failing,
}

impl std::fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProbe")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HttpProbe {
    pub fn new(config: &HttpConfig) -> Result<Self, ProbeError> {
        let settings = config.validate()?;
        let (tls, recorder) =
            tls_peer::client_config(config.ca_file.as_deref(), config.insecure_skip_verify)
                .map_err(|e| ProbeError::Config(format!("http: {e}")))?;
        Ok(Self {
            settings,
            tls,
            recorder,
            failing: Failing::new("http"),
        })
    }

    /// A client for one round: a fresh cookie jar (each round logs in anew) and no pooled
    /// connections (each round connects and handshakes, as a user arriving would).
    fn client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .default_headers(self.settings.headers.clone())
            .user_agent(concat!("patrol-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))
    }
}

/// What one step gave.
#[derive(Debug, Default)]
struct StepResult {
    status: Option<u16>,
    redirects: u32,
    body_bytes: usize,
    duration: Duration,
    /// Ran to its end with every expectation held.
    passed: bool,
}

/// Reads at most `limit` bytes of the body.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
    {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() >= room {
            break;
        }
    }
    Ok(body)
}

/// One request with the redirects it leads to.
async fn run_step(
    client: &reqwest::Client,
    settings: &Settings,
    step: &Step,
    secret: Option<&str>,
    result: &mut StepResult,
) -> Result<(), String> {
    let mut url = step.url.clone();
    let mut method = step.method.clone();
    let mut form = step.form.clone();
    if let (Some(field), Some(secret)) = (&step.secret_field, secret) {
        form.push((field.clone(), secret.to_owned()));
    }
    let mut send_form = !form.is_empty();
    loop {
        let mut request = client.request(method.clone(), url.clone());
        if send_form {
            request = request.form(&form);
        }
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        result.status = Some(status.as_u16());
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        if settings.follow_redirects
            && status.is_redirection()
            && let Some(location) = location
        {
            if result.redirects >= settings.max_redirects {
                return Err(format!("more than {} redirects", settings.max_redirects));
            }
            result.redirects += 1;
            url = url
                .join(&location)
                .map_err(|e| format!("redirect to '{location}': {e}"))?;
            // As browsers do: 303, and 301/302 after a POST, continue with a GET and no
            // body; 307 and 308 repeat the request as it was.
            if status == reqwest::StatusCode::SEE_OTHER
                || (method == reqwest::Method::POST && status.as_u16() <= 302)
            {
                method = reqwest::Method::GET;
                send_form = false;
            }
            continue;
        }
        let code = status.as_u16();
        let body = read_body(response, settings.max_body_bytes).await?;
        result.body_bytes = body.len();
        let status_ok = if step.expect_status.is_empty() {
            status.is_success()
        } else {
            step.expect_status.contains(&code)
        };
        if !status_ok {
            let wanted = if step.expect_status.is_empty() {
                "2xx".to_owned()
            } else {
                format!("{:?}", step.expect_status)
            };
            return Err(format!("status {code}, expected {wanted}"));
        }
        let text = String::from_utf8_lossy(&body);
        if let Some(re) = &step.body_regex
            && !re.is_match(&text)
        {
            return Err(format!("body does not match '{re}'"));
        }
        if let Some(re) = &step.body_not_regex
            && re.is_match(&text)
        {
            return Err(format!("body matches '{re}'"));
        }
        return Ok(());
    }
}

/// reqwest's errors say "error sending request" at the top; the cause chain says why.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl Probe for HttpProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        self.recorder.take();
        let settings = &self.settings;
        let mut results: Vec<StepResult> = settings
            .steps
            .iter()
            .map(|_| StepResult::default())
            .collect();
        let started = Instant::now();
        let failure: Option<String> = match self.client() {
            Err(e) => Some(e),
            Ok(client) => {
                let secret = match &settings.secret {
                    Some(s) => match s.read() {
                        Ok(secret) => Ok(Some(secret)),
                        Err(e) => Err(e),
                    },
                    None => Ok(None),
                };
                match secret {
                    Err(e) => Some(e),
                    Ok(secret) => {
                        let run = async {
                            for (i, (step, result)) in
                                settings.steps.iter().zip(results.iter_mut()).enumerate()
                            {
                                let step_started = Instant::now();
                                let outcome =
                                    run_step(&client, settings, step, secret.as_deref(), result)
                                        .await;
                                result.duration = step_started.elapsed();
                                result.passed = outcome.is_ok();
                                if let Err(e) = outcome {
                                    return Some(if settings.transaction {
                                        format!("step {} ({}): {e}", i + 1, step.label)
                                    } else {
                                        e
                                    });
                                }
                            }
                            None
                        };
                        match tokio::time::timeout(settings.timeout, run).await {
                            Ok(failure) => failure,
                            Err(_) => Some(format!(
                                "no answer within {}ms",
                                settings.timeout.as_millis()
                            )),
                        }
                    }
                }
            }
        };
        let duration = started.elapsed();

        match &failure {
            Some(why) => self
                .failing
                .failed(&settings.target, &format!("http_up 0: {why}")),
            None => self.failing.recovered(&settings.target),
        }
        let target = [("target", settings.target.as_str())];
        let mut emit = Out::new(out, ctx.now_ms);
        emit.flag("http_up", target, failure.is_none());
        let last = results.iter().rev().find(|r| r.status.is_some());
        emit.push(
            "http_status_code",
            target,
            f64::from(last.and_then(|r| r.status).unwrap_or(0)),
        );
        emit.push("http_duration_ms", target, duration.as_secs_f64() * 1000.0);
        emit.push(
            "http_redirects",
            target,
            f64::from(results.iter().map(|r| r.redirects).sum::<u32>()),
        );
        if let Some(r) = last {
            emit.push("http_body_bytes", target, r.body_bytes as f64);
        }
        if settings.transaction {
            // A step after a failed one did not run: it is not ok either (and took 0 ms).
            for (step, r) in settings.steps.iter().zip(&results) {
                let labels = [
                    ("target", settings.target.as_str()),
                    ("step", step.label.as_str()),
                ];
                emit.flag("http_step_ok", labels, r.passed);
                emit.push(
                    "http_step_duration_ms",
                    labels,
                    r.duration.as_secs_f64() * 1000.0,
                );
            }
        }
        if let Some(der) = self.recorder.take()
            && let Some(days) = tls_peer::expiry_days(&der, ctx.now_ms as f64 / 1000.0)
        {
            emit.push("tls_cert_expiry_days", target, days);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
