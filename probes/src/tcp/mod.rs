//! TCP probe (`type = "tcp"`): connect to `host:port`, optionally over TLS, optionally send a
//! line and expect a reply matching a regex (an SMTP banner, a Redis `PONG`, a listener that
//! must answer). Emits, per `target`: `tcp_up`, `tcp_connect_ms`, `tcp_duration_ms`, and with
//! `tls = true` the leaf certificate's `tls_cert_expiry_days`. See `README.md` beside this file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use patrol_proto::Sample;
use regex::bytes::Regex;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::sample_out::{Failing, Out, duration_field, interval_duration};
use crate::tls_peer::{self, Recorder};
use crate::{CollectContext, Probe, ProbeError};

/// Most reply bytes read while waiting for `expect`.
const MAX_REPLY: usize = 64 * 1024;

/// Configuration of one `[[probe]] type = "tcp"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// How often the check runs. Default `"30s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// `host:port` (a name, an IPv4 address, or `[v6]:port`).
    pub target: String,
    /// The `target` label. Default: `target`.
    #[serde(default)]
    pub name: Option<String>,
    /// The whole check must end within this. Default `"5s"`; shorter than the interval.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Text sent once connected (TOML escapes such as `"\r\n"` work).
    #[serde(default)]
    pub send: Option<String>,
    /// Regex the reply must match (read until it does, the peer closes, 64 KiB, or timeout).
    #[serde(default)]
    pub expect: Option<String>,
    /// Speak TLS after connecting (LDAPS, SMTPS, Oracle TCPS, a TLS-only service). Default
    /// false.
    #[serde(default)]
    pub tls: bool,
    /// Name sent in SNI and verified in the certificate. Default: the host of `target`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// PEM file of the CA that signed the server's certificate (added to the system's).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (its expiry is still reported). Default false.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

duration_field!(timeout_duration, "timeout");

fn default_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The running tcp probe.
pub struct TcpProbe {
    label: String,
    target: String,
    timeout: Duration,
    send: Option<Vec<u8>>,
    expect: Option<Regex>,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    recorder: Option<Arc<Recorder>>,
    failing: Failing,
}

impl std::fmt::Debug for TcpProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProbe")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The host part of `host:port` / `[v6]:port`, if the port is a number.
fn split_target(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty()).then_some((host, port))
}

impl TcpProbe {
    pub fn new(config: &TcpConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        let host = split_target(&config.target).map(|(h, _)| h.to_owned());
        if host.is_none() {
            errors.push(format!("target: '{}' is not host:port", config.target));
        }
        let expect = config.expect.as_ref().and_then(|e| {
            Regex::new(e)
                .map_err(|err| errors.push(format!("expect: {err}")))
                .ok()
        });
        if config.timeout.is_zero() || config.timeout >= config.interval {
            errors.push(format!(
                "timeout: {}ms must be above 0 and below the interval ({}ms)",
                config.timeout.as_millis(),
                config.interval.as_millis()
            ));
        }
        let tls_options_set =
            config.server_name.is_some() || config.ca_file.is_some() || config.insecure_skip_verify;
        if !config.tls && tls_options_set {
            errors.push("server_name, ca_file, insecure_skip_verify: only with tls = true".into());
        }
        if config.ca_file.is_some() && config.insecure_skip_verify {
            errors.push("ca_file: not with insecure_skip_verify = true".into());
        }
        let mut tls = None;
        let mut recorder = None;
        if config.tls && errors.is_empty() {
            let name = config.server_name.clone().or(host).unwrap_or_default();
            match (
                tls_peer::client_config(config.ca_file.as_deref(), config.insecure_skip_verify),
                rustls::pki_types::ServerName::try_from(name.clone()),
            ) {
                (Ok((client, rec)), Ok(server_name)) => {
                    tls = Some((tokio_rustls::TlsConnector::from(client), server_name));
                    recorder = Some(rec);
                }
                (Err(e), _) => errors.push(e),
                (_, Err(e)) => errors.push(format!("server_name: '{name}': {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("tcp: {}", errors.join("; "))));
        }
        Ok(Self {
            label: config.name.clone().unwrap_or_else(|| config.target.clone()),
            target: config.target.clone(),
            timeout: config.timeout,
            send: config.send.as_ref().map(|s| s.as_bytes().to_vec()),
            expect,
            tls,
            recorder,
            failing: Failing::new("tcp"),
        })
    }
}

/// Sends and expects on a connected stream.
async fn converse(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    send: Option<&[u8]>,
    expect: Option<&Regex>,
) -> Result<(), String> {
    if let Some(bytes) = send {
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        stream.flush().await.map_err(|e| format!("sending: {e}"))?;
    }
    let Some(expect) = expect else { return Ok(()) };
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading: {e}"))?;
        if n == 0 {
            return Err(format!(
                "closed without a reply matching '{expect}' (got {:?})",
                String::from_utf8_lossy(&reply[..reply.len().min(200)])
            ));
        }
        reply.extend_from_slice(&chunk[..n]);
        if expect.is_match(&reply) {
            return Ok(());
        }
        if reply.len() >= MAX_REPLY {
            return Err(format!(
                "{MAX_REPLY} bytes without a reply matching '{expect}'"
            ));
        }
    }
}

#[async_trait]
impl Probe for TcpProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        if let Some(r) = &self.recorder {
            r.take();
        }
        let started = Instant::now();
        let mut connect_ms = None;
        let check = async {
            let stream = tokio::net::TcpStream::connect(&self.target)
                .await
                .map_err(|e| format!("connecting: {e}"))?;
            connect_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            match &self.tls {
                None => {
                    let mut stream = stream;
                    converse(&mut stream, self.send.as_deref(), self.expect.as_ref()).await
                }
                Some((connector, name)) => {
                    let mut stream = connector
                        .connect(name.clone(), stream)
                        .await
                        .map_err(|e| format!("TLS handshake: {e}"))?;
                    converse(&mut stream, self.send.as_deref(), self.expect.as_ref()).await
                }
            }
        };
        let result = match tokio::time::timeout(self.timeout, check).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {}ms", self.timeout.as_millis())),
        };
        let duration = started.elapsed();
        match &result {
            Err(e) => self.failing.failed(&self.label, &format!("tcp_up 0: {e}")),
            Ok(()) => self.failing.recovered(&self.label),
        }
        let target = [("target", self.label.as_str())];
        let mut emit = Out::new(out, ctx.now_ms);
        emit.flag("tcp_up", target, result.is_ok());
        if let Some(ms) = connect_ms {
            emit.push("tcp_connect_ms", target, ms);
        }
        emit.push("tcp_duration_ms", target, duration.as_secs_f64() * 1000.0);
        if let Some(der) = self.recorder.as_ref().and_then(|r| r.take())
            && let Some(days) = tls_peer::expiry_days(&der, ctx.now_ms as f64 / 1000.0)
        {
            emit.push("tls_cert_expiry_days", target, days);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
