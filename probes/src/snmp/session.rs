//! The network side: one async-snmp client per device, GETs and GETBULK walks, and the
//! library's errors turned into sentences an operator can act on.

use std::time::Duration;

use async_snmp::{
    Auth, AuthProtocol, Client, Error, ErrorStatus, Oid, OidOrdering, PrivProtocol, Retry,
    UdpHandle, UsmConfig, Value, WalkAbortReason, WalkMethod, WalkOptions,
};

use super::config::{AuthProto, Credentials, DeviceSettings, PrivProto, split_address};
use super::table::Val;

/// Why a device gave no (or only part of an) answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "no answer within {timeout:?} after {retries} retries (device down, wrong address/port, firewall, or wrong community: v2c agents stay silent on a wrong community)"
    )]
    Timeout { timeout: Duration, retries: u32 },
    #[error(
        "unknown user '{user}' (usmStatsUnknownUserNames): check `user`, or create it on the device"
    )]
    UnknownUser { user: String },
    #[error(
        "wrong authentication key for user '{user}' (usmStatsWrongDigests): check `auth_protocol` and `auth_password`"
    )]
    WrongDigest { user: String },
    #[error(
        "wrong privacy key or protocol for user '{user}' (usmStatsDecryptionErrors): check `priv_protocol` and `priv_password`"
    )]
    Decryption { user: String },
    #[error(
        "wrong privacy key or protocol for user '{user}': the device answers engine discovery and accepts the user and key, but never answers our encrypted requests, which is how net-snmp treats a request it cannot decrypt; check `priv_protocol` and `priv_password`"
    )]
    Undecryptable { user: String },
    #[error(
        "security level not allowed for user '{user}' (usmStatsUnsupportedSecLevels): the device expects different auth/priv settings"
    )]
    SecurityLevel { user: String },
    #[error(
        "user '{user}' is authenticated but not allowed to read (authorizationError): the device's access rules (net-snmp `rouser`, a VACM view) deny it at this security level or for these OIDs; add privacy (`priv_protocol`, `priv_password`) if the device requires it, or widen the user's view"
    )]
    NotAuthorized { user: String },
    #[error(
        "the device answers SNMPv3 engine discovery but neither answers nor reports on authenticated requests from user '{user}': check `user`, `auth_protocol`/`auth_password` and the device's access rules for this user"
    )]
    Rejected { user: String },
    #[error("cannot set up SNMP for {address:?}: {message}")]
    Setup { address: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// A connected device.
pub struct Session {
    client: Client<UdpHandle>,
    device: DeviceSettings,
    user: String,
    /// Whether the user has a privacy key, which changes what silence means.
    privacy: bool,
    walk: WalkOptions,
}

pub(crate) fn auth_protocol(p: AuthProto) -> AuthProtocol {
    match p {
        AuthProto::Md5 => AuthProtocol::Md5,
        AuthProto::Sha => AuthProtocol::Sha1,
        AuthProto::Sha224 => AuthProtocol::Sha224,
        AuthProto::Sha256 => AuthProtocol::Sha256,
        AuthProto::Sha384 => AuthProtocol::Sha384,
        AuthProto::Sha512 => AuthProtocol::Sha512,
    }
}

pub(crate) fn priv_protocol(p: PrivProto) -> PrivProtocol {
    match p {
        PrivProto::Des => PrivProtocol::Des,
        PrivProto::Des3 => PrivProtocol::Des3,
        PrivProto::Aes => PrivProtocol::Aes128,
        PrivProto::Aes192 => PrivProtocol::Aes192Blumenthal,
        PrivProto::Aes256 => PrivProtocol::Aes256Blumenthal,
        PrivProto::Aes192c => PrivProtocol::Aes192Reeder,
        PrivProto::Aes256c => PrivProtocol::Aes256Reeder,
    }
}

fn auth_of(credentials: &Credentials) -> Result<(Auth, String, bool), String> {
    match credentials {
        Credentials::V2c { community } => {
            Ok((Auth::v2c(community.read()?.as_str()), String::new(), false))
        }
        Credentials::V3 {
            user,
            auth,
            privacy,
            context,
        } => {
            let usm = UsmConfig::new(user.clone().into_bytes())
                .context_name(context.clone().into_bytes());
            let usm = match (auth, privacy) {
                (None, _) => usm,
                (Some((a, ap)), None) => usm
                    .auth(auth_protocol(*a), ap.read()?)
                    .map_err(|e| e.to_string())?,
                (Some((a, ap)), Some((p, pp))) => usm
                    .auth_priv(auth_protocol(*a), ap.read()?, priv_protocol(*p), pp.read()?)
                    .map_err(|e| e.to_string())?,
            };
            Ok((usm.into(), user.clone(), privacy.is_some()))
        }
    }
}

/// Builds the device's client. `lenient` accepts the device's unauthenticated Report PDUs
/// (RFC 3414 sends usmStatsUnknownUserNames, usmStatsWrongDigests and
/// usmStatsDecryptionErrors at noAuthNoPriv), which async-snmp otherwise drops as
/// unverifiable; only the diagnosis of a failing device uses it.
async fn connect(
    device: &DeviceSettings,
    auth: Auth,
    walk: WalkOptions,
    lenient: bool,
) -> Result<Client<UdpHandle>, String> {
    let retry = Retry::fixed(device.retries, Duration::ZERO).map_err(|e| e.to_string())?;
    let (host, port) = split_address(&device.address);
    Client::builder((host.as_str(), port), auth)
        .request_timeout(device.timeout)
        .retry(retry)
        .walk_options(walk)
        .construction_timeout(device.timeout)
        .allow_unauthenticated_v3_time_correction(lenient)
        .connect()
        .await
        .map_err(|e| e.to_string())
}

impl Session {
    /// Resolves the address and opens the device's UDP socket. No packet is sent yet.
    pub async fn open(
        device: &DeviceSettings,
        max_repetitions: u32,
        max_rows: usize,
    ) -> Result<Self, DeviceError> {
        let setup = |message: String| DeviceError::Setup {
            address: device.address.clone(),
            message,
        };
        let (auth, user, privacy) = auth_of(&device.credentials).map_err(setup)?;
        let walk = WalkOptions {
            method: WalkMethod::GetBulk,
            max_repetitions,
            ordering: OidOrdering::Strict,
            result_limit: Some(max_rows),
        };
        let client = connect(device, auth, walk, false).await.map_err(setup)?;
        Ok(Self {
            client,
            device: device.clone(),
            user,
            privacy,
            walk,
        })
    }

    fn explain(&self, e: &Error) -> DeviceError {
        let user = self.user.clone();
        match e {
            Error::Timeout { .. } => DeviceError::Timeout {
                timeout: self.device.timeout,
                retries: self.device.retries,
            },
            Error::Report { status, .. } => match **status {
                async_snmp::v3::ReportStatus::UnknownUserName { .. } => {
                    DeviceError::UnknownUser { user }
                }
                async_snmp::v3::ReportStatus::WrongDigest { .. } => {
                    DeviceError::WrongDigest { user }
                }
                async_snmp::v3::ReportStatus::DecryptionError { .. } => {
                    DeviceError::Decryption { user }
                }
                async_snmp::v3::ReportStatus::UnsupportedSecurityLevel { .. } => {
                    DeviceError::SecurityLevel { user }
                }
                _ => DeviceError::Other(e.to_string()),
            },
            Error::Auth { .. } => DeviceError::WrongDigest { user },
            Error::Snmp {
                status: ErrorStatus::AuthorizationError | ErrorStatus::NoAccess,
                ..
            } if !user.is_empty() => DeviceError::NotAuthorized { user },
            Error::SharedOperation { source } => self.explain(source),
            Error::Exchange { source, .. } => self.explain(source),
            other => DeviceError::Other(other.to_string()),
        }
    }

    /// Like [`Self::explain`], and for a v3 timeout asks the device once more why: async-snmp
    /// drops the unauthenticated Report a device sends for a wrong user or key (it cannot be
    /// verified), so normal polling only sees silence. A throwaway client that accepts such
    /// Reports repeats one GET and reads the device's reason. The answer is unauthenticated,
    /// so it only words the error; it never changes what is polled or trusted.
    async fn diagnose(&self, e: &Error) -> DeviceError {
        let explained = self.explain(e);
        if !matches!(explained, DeviceError::Timeout { .. }) || self.user.is_empty() {
            return explained;
        }
        let Ok((auth, _, _)) = auth_of(&self.device.credentials) else {
            return explained;
        };
        let Ok(lenient) = connect(&self.device, auth, self.walk, true).await else {
            return explained;
        };
        let probe = lenient.get(&Oid::from_slice(super::SYS_UPTIME)).await;
        match probe.map_err(|e| self.explain(&e)) {
            // The device answered this time: a transient loss, reported as what it was.
            Ok(_) => explained,
            Err(DeviceError::Timeout { .. }) => {
                if lenient.rediscover_engine().await.is_err() {
                    explained
                } else if self.privacy {
                    // No Report for a known user with the right auth key, yet no answer:
                    // net-snmp drops a request whose scoped PDU decrypts to garbage.
                    DeviceError::Undecryptable {
                        user: self.user.clone(),
                    }
                } else {
                    DeviceError::Rejected {
                        user: self.user.clone(),
                    }
                }
            }
            Err(reason) => reason,
        }
    }

    /// GETs `oids` in one request; an OID the device lacks comes back as [`Val::Absent`].
    pub async fn get(&self, oids: &[&[u32]]) -> Result<Vec<(Vec<u32>, Val)>, DeviceError> {
        let oids: Vec<Oid> = oids.iter().map(|o| Oid::from_slice(o)).collect();
        let response = match self.client.get_many(&oids).await {
            Ok(r) => r,
            Err(e) => return Err(self.diagnose(&e).await),
        };
        Ok(response
            .varbinds
            .iter()
            .map(|vb| (vb.oid.arcs().to_vec(), val(&vb.value)))
            .collect())
    }

    /// Walks the subtree under `root` with GETBULK. Returns the rows read and whether the
    /// walk was cut short (row limit, or an agent returning OIDs out of order).
    pub async fn walk(
        &self,
        root: &[u32],
    ) -> Result<(Vec<(Vec<u32>, Val)>, Option<String>), DeviceError> {
        let mut stream = self
            .client
            .walk_with(Oid::from_slice(root), self.walk)
            .map_err(|e| self.explain(&e))?;
        let mut rows = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(vb) => rows.push((vb.oid.arcs().to_vec(), val(&vb.value))),
                Err(e) => {
                    if let Error::WalkAborted { reason, .. } = &*e {
                        let why = match reason {
                            WalkAbortReason::ResultLimitExceeded { limit } => {
                                format!("more than max_rows = {limit} rows")
                            }
                            other => format!("agent error: {other}"),
                        };
                        return Ok((rows, Some(why)));
                    }
                    return Err(self.explain(&e));
                }
            }
        }
        Ok((rows, None))
    }
}

/// An SNMP value as the profiles read it (public for the fuzz target over decoded messages).
pub fn val(v: &Value) -> Val {
    match v {
        Value::Integer(i) => Val::Int(i64::from(*i)),
        Value::OctetString(b) | Value::Opaque(b) | Value::Nsap(b) => Val::Bytes(b.to_vec()),
        Value::ObjectIdentifier(o) => Val::Oid(o.arcs().to_vec()),
        Value::IpAddress(a) => Val::Bytes(std::net::Ipv4Addr::from(*a).to_string().into_bytes()),
        Value::Counter32(c) => Val::Counter32(*c),
        Value::Gauge32(g) | Value::UInteger32(g) => Val::Unsigned(u64::from(*g)),
        Value::TimeTicks(t) => Val::Ticks(*t),
        Value::Counter64(c) => Val::Counter64(*c),
        _ => Val::Absent,
    }
}
