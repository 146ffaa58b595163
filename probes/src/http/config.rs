//! The http probe's configuration and its checked form.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use crate::ProbeError;
use crate::sample_out::{duration_field, interval_duration};
use crate::secret::Secret;

/// Configuration of one `[[probe]] type = "http"` section: one URL, or one login
/// transaction of ordered `[[probe.step]]`s.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// How often the check runs. Default `"60s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The `target` label. Default: `url` (or the first step's).
    #[serde(default)]
    pub name: Option<String>,
    /// The URL of a one-request check (`http://` or `https://`). Not with `step`.
    #[serde(default)]
    pub url: Option<String>,
    /// Method of the one-request check. Default `"GET"`.
    #[serde(default)]
    pub method: Option<String>,
    /// Status codes that pass (one-request check). Default: any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Regex the body must contain (one-request check).
    #[serde(default)]
    pub body_regex: Option<String>,
    /// Regex the body must not contain, e.g. an error page's text (one-request check).
    #[serde(default)]
    pub body_not_regex: Option<String>,
    /// The steps of a login transaction, run in order with one cookie jar; each
    /// `[[probe.step]]`. Not with `url`.
    #[serde(default, rename = "step")]
    pub steps: Vec<StepConfig>,
    /// The whole check (all steps, redirects, bodies) must end within this. Default `"10s"`;
    /// shorter than the interval.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Follow redirects (3xx with Location). Default true; when false a 3xx is the answer.
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Most redirects followed per request. Default 10.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u32,
    /// Request headers, e.g. `{ "Accept-Language" = "zh-CN" }`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Most body bytes read per response; the regexes see only these. Default 1048576.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// PEM file of the CA(s) that signed the server's certificate, added to the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (its expiry is still reported). Default false.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The secret a step's `secret_field` sends (inline; prefer the file or variable).
    #[serde(default)]
    pub password: Option<String>,
    /// File holding it (first line; mode 600 or 640).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding it.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// One `[[probe.step]]` of a login transaction.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// The `step` label. Default: `"1"`, `"2"`, ... by position.
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    /// Default `"GET"`, or `"POST"` when `form` is given.
    #[serde(default)]
    pub method: Option<String>,
    /// Form fields sent as `application/x-www-form-urlencoded`.
    #[serde(default)]
    pub form: BTreeMap<String, String>,
    /// A form field whose value is the section's password (`password`, `password_file` or
    /// `password_env`), e.g. `"j_password"`.
    #[serde(default)]
    pub secret_field: Option<String>,
    /// Status codes that pass. Default: any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Regex the body must contain, e.g. the welcome page's `'Logged in as \w+'`.
    #[serde(default)]
    pub body_regex: Option<String>,
    /// Regex the body must not contain.
    #[serde(default)]
    pub body_not_regex: Option<String>,
}

duration_field!(timeout_duration, "timeout");

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_redirects() -> u32 {
    10
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn yes() -> bool {
    true
}

/// A checked step.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub label: String,
    pub url: reqwest::Url,
    pub method: reqwest::Method,
    pub form: Vec<(String, String)>,
    pub secret_field: Option<String>,
    pub expect_status: Vec<u16>,
    pub body_regex: Option<Regex>,
    pub body_not_regex: Option<Regex>,
}

/// The checked form of [`HttpConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub target: String,
    pub steps: Vec<Step>,
    /// Whether the check was written as steps (then per-step samples are sent).
    pub transaction: bool,
    pub timeout: Duration,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub headers: reqwest::header::HeaderMap,
    pub max_body_bytes: usize,
    pub secret: Option<Secret>,
}

fn regex(field: &str, text: Option<&String>, errors: &mut Vec<String>) -> Option<Regex> {
    let text = text?;
    Regex::new(text)
        .map_err(|e| errors.push(format!("{field}: {e}")))
        .ok()
}

fn step(at: &str, c: &StepConfig, position: usize, errors: &mut Vec<String>) -> Option<Step> {
    let url = match reqwest::Url::parse(&c.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(_) => {
            errors.push(format!(
                "{at}url: '{}' is not an http:// or https:// URL",
                c.url
            ));
            None
        }
        Err(e) => {
            errors.push(format!("{at}url: '{}': {e}", c.url));
            None
        }
    };
    let default_method = if c.form.is_empty() && c.secret_field.is_none() {
        "GET"
    } else {
        "POST"
    };
    let method_text = c
        .method
        .as_deref()
        .unwrap_or(default_method)
        .to_ascii_uppercase();
    let method = match method_text.as_str() {
        "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "OPTIONS" | "PATCH" => {
            reqwest::Method::from_bytes(method_text.as_bytes()).ok()
        }
        other => {
            errors.push(format!(
                "{at}method: '{other}' is not one of GET HEAD POST PUT DELETE OPTIONS PATCH"
            ));
            None
        }
    };
    if (!c.form.is_empty() || c.secret_field.is_some())
        && method_text != "POST"
        && method_text != "PUT"
    {
        errors.push(format!(
            "{at}form: a form is sent with POST or PUT, not {method_text}"
        ));
    }
    for code in &c.expect_status {
        if !(100..=599).contains(code) {
            errors.push(format!("{at}expect_status: {code} is not an HTTP status"));
        }
    }
    let body_regex = regex(&format!("{at}body_regex"), c.body_regex.as_ref(), errors);
    let body_not_regex = regex(
        &format!("{at}body_not_regex"),
        c.body_not_regex.as_ref(),
        errors,
    );
    Some(Step {
        label: c.name.clone().unwrap_or_else(|| (position + 1).to_string()),
        url: url?,
        method: method?,
        form: c.form.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        secret_field: c.secret_field.clone(),
        expect_status: c.expect_status.clone(),
        body_regex,
        body_not_regex,
    })
}

impl HttpConfig {
    pub(crate) fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        let single = StepConfig {
            name: None,
            url: self.url.clone().unwrap_or_default(),
            method: self.method.clone(),
            form: BTreeMap::new(),
            secret_field: None,
            expect_status: self.expect_status.clone(),
            body_regex: self.body_regex.clone(),
            body_not_regex: self.body_not_regex.clone(),
        };
        let one_request_fields = self.method.is_some()
            || !self.expect_status.is_empty()
            || self.body_regex.is_some()
            || self.body_not_regex.is_some();
        let steps: Vec<Step> = match (&self.url, self.steps.is_empty()) {
            (Some(_), true) => step("", &single, 0, &mut errors).into_iter().collect(),
            (None, false) => {
                if one_request_fields {
                    errors.push("method, expect_status, body_regex, body_not_regex: with steps, set them per [[probe.step]]".into());
                }
                self.steps
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| step(&format!("step[{i}]."), s, i, &mut errors))
                    .collect()
            }
            _ => {
                errors.push("url: give url (one request) or [[probe.step]]s (a transaction), not both or neither".into());
                Vec::new()
            }
        };
        for (i, s) in self.steps.iter().enumerate() {
            if self.steps[..i]
                .iter()
                .any(|o| o.name.is_some() && o.name == s.name)
            {
                errors.push(format!("step[{i}].name: listed twice"));
            }
        }
        let secret = Secret::choose(
            "password",
            self.password.as_deref(),
            self.password_file.as_deref(),
            self.password_env.as_deref(),
        )
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
        let wants_secret = self.steps.iter().any(|s| s.secret_field.is_some());
        if wants_secret && secret.is_none() {
            errors.push("secret_field: set password_file (or password_env) for it".into());
        }
        if self.timeout.is_zero() || self.timeout >= self.interval {
            errors.push(format!(
                "timeout: {}ms must be above 0 and below the interval ({}ms)",
                self.timeout.as_millis(),
                self.interval.as_millis()
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            errors.push("max_body_bytes: between 1024 and 67108864".into());
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &self.headers {
            match (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => errors.push(format!("headers: '{k}: {v}' is not a valid header")),
            }
        }
        if self.ca_file.is_some() && self.insecure_skip_verify {
            errors.push("ca_file: not with insecure_skip_verify = true".into());
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("http: {}", errors.join("; "))));
        }
        let target = self
            .name
            .clone()
            .unwrap_or_else(|| steps.first().map(|s| s.url.to_string()).unwrap_or_default());
        Ok(Settings {
            target,
            transaction: !self.steps.is_empty(),
            steps,
            timeout: self.timeout,
            follow_redirects: self.follow_redirects,
            max_redirects: self.max_redirects,
            headers,
            max_body_bytes: self.max_body_bytes,
            secret,
        })
    }
}
