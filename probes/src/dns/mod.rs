//! DNS probe (`type = "dns"`): resolves a name (A, AAAA, CNAME, MX, TXT, NS, SOA, PTR, SRV)
//! against a given server or the system's (`/etc/resolv.conf`), with hickory-resolver and no
//! cache, so every round asks the server. Emits, per `target` and `server`: `dns_up`,
//! `dns_duration_ms`, `dns_answers`, and with `expect` set, `dns_expected_ok`. See
//! `README.md` beside this file.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use patrol_proto::Sample;
use serde::Deserialize;

use crate::sample_out::{Failing, Out, duration_field, interval_duration};
use crate::{CollectContext, Probe, ProbeError};

/// Configuration of one `[[probe]] type = "dns"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// How often the name is resolved. Default `"30s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The name to resolve (`erp.example.com`; for PTR the `in-addr.arpa` name).
    pub query: String,
    /// The `target` label. Default: `query`.
    #[serde(default)]
    pub name: Option<String>,
    /// Record type asked for. Default `"A"`.
    #[serde(default = "default_type")]
    pub record_type: String,
    /// The server asked: `"10.0.0.53"` or `"10.0.0.53:5353"`. Default: the servers of
    /// `/etc/resolv.conf`, with `/etc/hosts` consulted first (what applications see).
    #[serde(default)]
    pub server: Option<String>,
    /// `"udp"` (default) or `"tcp"`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// The answer must come within this. Default `"5s"`; shorter than the interval.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Values that must all be among the answers: addresses for A/AAAA, names or text for
    /// the other types (`"mail.example.com"` for MX compares the exchange).
    #[serde(default)]
    pub expect: Vec<String>,
}

duration_field!(timeout_duration, "timeout");

fn default_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_type() -> String {
    "A".into()
}
fn default_protocol() -> String {
    "udp".into()
}

const TYPES: [RecordType; 9] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::TXT,
    RecordType::NS,
    RecordType::SOA,
    RecordType::PTR,
    RecordType::SRV,
];

/// Where the questions go.
#[derive(Debug, Clone)]
enum Upstream {
    System,
    Server(SocketAddr, ProtocolConfig),
}

/// The running dns probe.
pub struct DnsProbe {
    query: String,
    record_type: RecordType,
    upstream: Upstream,
    timeout: Duration,
    expect: Vec<String>,
    target: String,
    server_label: String,
    resolver: Option<TokioResolver>,
    failing: Failing,
}

impl std::fmt::Debug for DnsProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsProbe")
            .field("query", &self.query)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

impl DnsProbe {
    pub fn new(config: &DnsConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if config.query.trim().is_empty() || config.query.contains(char::is_whitespace) {
            errors.push(format!("query: '{}' is not a DNS name", config.query));
        }
        let record_type = match config
            .record_type
            .to_ascii_uppercase()
            .parse::<RecordType>()
        {
            Ok(t) if TYPES.contains(&t) => Some(t),
            _ => {
                errors.push(format!(
                    "record_type: '{}' is not one of A AAAA CNAME MX TXT NS SOA PTR SRV",
                    config.record_type
                ));
                None
            }
        };
        let protocol = match config.protocol.as_str() {
            "udp" => Some(ProtocolConfig::Udp),
            "tcp" => Some(ProtocolConfig::Tcp),
            other => {
                errors.push(format!("protocol: '{other}' is not udp or tcp"));
                None
            }
        };
        let upstream = match (&config.server, protocol) {
            (None, _) => Some(Upstream::System),
            (Some(s), Some(p)) => match parse_server(s) {
                Some(addr) => Some(Upstream::Server(addr, p)),
                None => {
                    errors.push(format!(
                        "server: '{s}' is not an IP address or IP:port (a name would need DNS to be found)"
                    ));
                    None
                }
            },
            (Some(_), None) => None,
        };
        if config.server.is_none() && config.protocol != "udp" {
            errors.push(
                "protocol: only with server (the system's servers use resolv.conf's settings)"
                    .into(),
            );
        }
        if config.timeout.is_zero() || config.timeout >= config.interval {
            errors.push(format!(
                "timeout: {}ms must be above 0 and below the interval ({}ms)",
                config.timeout.as_millis(),
                config.interval.as_millis()
            ));
        }
        if let Some(t) = record_type
            && matches!(t, RecordType::A | RecordType::AAAA)
        {
            for e in &config.expect {
                if e.parse::<IpAddr>().is_err() {
                    errors.push(format!(
                        "expect: '{e}' is not an IP address (record_type {t})"
                    ));
                }
            }
        }
        let (Some(record_type), Some(upstream), true) = (record_type, upstream, errors.is_empty())
        else {
            return Err(ProbeError::Config(format!("dns: {}", errors.join("; "))));
        };
        Ok(Self {
            server_label: config.server.clone().unwrap_or_else(|| "system".into()),
            target: config.name.clone().unwrap_or_else(|| config.query.clone()),
            query: config.query.clone(),
            record_type,
            upstream,
            timeout: config.timeout,
            expect: config.expect.clone(),
            resolver: None,
            failing: Failing::new("dns"),
        })
    }

    /// Built at the first round (it needs the runtime), without a cache: a cached answer
    /// would say nothing about the server.
    fn resolver(&mut self) -> Result<&TokioResolver, String> {
        if self.resolver.is_none() {
            let provider = TokioRuntimeProvider::default();
            let mut builder = match &self.upstream {
                Upstream::System => TokioResolver::builder(provider)
                    .map_err(|e| format!("reading /etc/resolv.conf: {e}"))?,
                Upstream::Server(addr, protocol) => {
                    let mut connection = ConnectionConfig::new(protocol.clone());
                    connection.port = addr.port();
                    let server = NameServerConfig::new(addr.ip(), true, vec![connection]);
                    let mut b = TokioResolver::builder_with_config(
                        ResolverConfig::from_parts(None, Vec::new(), vec![server]),
                        provider,
                    );
                    b.options_mut().use_hosts_file = ResolveHosts::Never;
                    b
                }
            };
            let options = builder.options_mut();
            options.cache_size = 0;
            options.attempts = 1;
            options.timeout = self.timeout;
            self.resolver = Some(
                builder
                    .build()
                    .map_err(|e| format!("building the resolver: {e}"))?,
            );
        }
        self.resolver
            .as_ref()
            .ok_or_else(|| "no resolver".to_owned())
    }
}

/// An answer's value as `expect` is written: the address, or the name / text without the
/// trailing dot, lower-cased.
fn answer_value(data: &RData) -> String {
    let text = match data {
        RData::A(a) => return a.0.to_string(),
        RData::AAAA(a) => return a.0.to_string(),
        RData::MX(mx) => mx.exchange.to_string(),
        RData::SRV(srv) => srv.target.to_string(),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect::<String>(),
        other => other.to_string(),
    };
    text.trim_end_matches('.').to_ascii_lowercase()
}

fn expected(want: &str, got: &[String]) -> bool {
    match want.parse::<IpAddr>() {
        Ok(ip) => got
            .iter()
            .any(|g| g.parse::<IpAddr>().is_ok_and(|a| a == ip)),
        Err(_) => {
            let want = want.trim_end_matches('.').to_ascii_lowercase();
            got.contains(&want)
        }
    }
}

#[async_trait]
impl Probe for DnsProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let (query, record_type, timeout) = (self.query.clone(), self.record_type, self.timeout);
        let started = Instant::now();
        let answer: Result<Vec<String>, String> = match self.resolver() {
            Err(e) => Err(e),
            Ok(resolver) => {
                match tokio::time::timeout(timeout, resolver.lookup(query.as_str(), record_type))
                    .await
                {
                    Err(_) => Err(format!("no answer within {}ms", timeout.as_millis())),
                    Ok(Ok(lookup)) => Ok(lookup
                        .answers()
                        .iter()
                        .filter(|r| r.record_type() == record_type)
                        .map(|r| answer_value(&r.data))
                        .collect()),
                    Ok(Err(e)) if e.is_nx_domain() => {
                        Err("NXDOMAIN: the name does not exist".into())
                    }
                    Ok(Err(e)) if e.is_no_records_found() => Ok(Vec::new()),
                    Ok(Err(e)) => Err(e.to_string()),
                }
            }
        };
        let duration = started.elapsed();
        let missing: Vec<&String> = match &answer {
            Ok(values) => self
                .expect
                .iter()
                .filter(|e| !expected(e, values))
                .collect(),
            Err(_) => Vec::new(),
        };
        let problem = match &answer {
            Err(e) => Some(e.clone()),
            Ok(v) if v.is_empty() => Some(format!("no {record_type} record")),
            Ok(v) if !missing.is_empty() => {
                Some(format!("expected {missing:?} among the answers {v:?}"))
            }
            Ok(_) => None,
        };
        let source = format!("{} @{}", self.target, self.server_label);
        match &problem {
            Some(p) => self.failing.failed(&source, &format!("dns_up 0: {p}")),
            None => self.failing.recovered(&source),
        }
        let labels = [
            ("target", self.target.as_str()),
            ("server", self.server_label.as_str()),
        ];
        let mut emit = Out::new(out, ctx.now_ms);
        emit.flag("dns_up", labels, problem.is_none());
        emit.push("dns_duration_ms", labels, duration.as_secs_f64() * 1000.0);
        let count = answer.as_ref().map(Vec::len).unwrap_or(0);
        emit.push("dns_answers", labels, count as f64);
        if !self.expect.is_empty() {
            emit.flag(
                "dns_expected_ok",
                labels,
                answer.is_ok() && missing.is_empty(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
