//! One datagram to one notification: SNMPv1 traps (converted as RFC 3584 §3.1 says), SNMPv2c
//! traps and informs, SNMPv3 traps with USM (RFC 3414 §3.2: user, security level, HMAC, time
//! window, decryption). The BER and the cryptography are async-snmp's; the order of the
//! checks, what is accepted and why a datagram is refused are here.
//!
//! [`decode`] is a pure function of the bytes, the configured credentials and the time
//! passed in (the only state is the per-engine clock of RFC 3414 §2.3 and a key cache), and
//! panic-free on any input: a proptest feeds it arbitrary bytes, so a fuzz target can wrap
//! it as it is.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use async_snmp::ber::Decoder;
use async_snmp::message::{CommunityMessage, CommunityPdu, RawMsgData, RawV3Message, ScopedPdu};
use async_snmp::pdu::{OutboundErrorStatus, Pdu, PduType, ResponsePdu};
use async_snmp::v3::auth::verify_message;
use async_snmp::v3::{PrivKey, UsmSecurityParams};
use async_snmp::{
    AuthProtocol, Community, DecodeConfig, LocalizedKey, MasterKey, PrivProtocol, SecurityLevel,
    VarBind, Version,
};

use crate::snmp::Val;
use crate::snmp::session::val;

/// sysUpTime.0, the first varbind of an SNMPv2 notification (RFC 3416 §4.2.6).
const SYS_UPTIME_0: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpTrapOID.0, the second.
const SNMP_TRAP_OID_0: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// RFC 3414 §2.2.3: a boots value at its maximum means the engine must be reconfigured.
const MAX_ENGINE_BOOTS: u32 = i32::MAX as u32;
/// RFC 3414 §3.2 step 7b: the time window, seconds.
const TIME_WINDOW: i64 = 150;
/// Remote engines remembered for the time window, and localized keys cached: each entry
/// is made only after a message authenticated, so only a credential holder can add them,
/// and the bound stops even that from growing memory.
const MAX_ENGINES: usize = 1024;

/// Varbinds as (OID arcs, value).
pub type Varbinds = Vec<(Vec<u32>, Val)>;

/// Why a datagram was not taken as a notification (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
pub enum Refused {
    #[error("not a decodable SNMP message")]
    Malformed,
    #[error("SNMPv1/v2c community not accepted")]
    Community,
    #[error("SNMPv3 user not configured")]
    UnknownUser,
    #[error("SNMPv3 security level below the user's (or the user has no such keys)")]
    SecurityLevel,
    #[error("SNMPv3 authentication failed (wrong auth key or protocol)")]
    WrongDigest,
    #[error("SNMPv3 message outside the engine's time window (replayed or clock reset)")]
    NotInTimeWindow,
    #[error("SNMPv3 message could not be decrypted (wrong privacy key or protocol)")]
    Decryption,
    #[error("not a notification (a request or response sent to the trap port)")]
    NotNotification,
    #[error("SNMPv3 inform: needs this receiver to be an authoritative engine, not supported")]
    Unsupported,
}

impl Refused {
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Community => "community",
            Self::UnknownUser => "unknown_user",
            Self::SecurityLevel => "security_level",
            Self::WrongDigest => "wrong_digest",
            Self::NotInTimeWindow => "not_in_time_window",
            Self::Decryption => "decryption",
            Self::NotNotification => "not_notification",
            Self::Unsupported => "unsupported",
        }
    }
}

/// A received notification, in SNMPv2 form.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `"1"`, `"2c"` or `"3"`.
    pub version: &'static str,
    /// snmpTrapOID.0 (for v1: the RFC 3584 translation of generic/specific trap).
    pub trap_oid: Vec<u32>,
    /// The varbinds after sysUpTime.0 and snmpTrapOID.0 (for v1: all of them).
    pub varbinds: Varbinds,
    /// SNMPv1 agent-addr: the device that raised the trap, when a relay sent it.
    pub agent_address: Option<Ipv4Addr>,
    /// For an inform: the Response to send back to the sender.
    pub response: Option<Vec<u8>>,
}

/// A v3 user's keys, derived from the passwords once at start.
#[derive(Clone)]
pub struct User {
    pub auth: Option<(AuthProtocol, MasterKey)>,
    /// The privacy master key is derived from the privacy password with the auth protocol's
    /// hash (RFC 3826 §1.2); the protocol is the cipher.
    pub privacy: Option<(PrivProtocol, MasterKey)>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("auth", &self.auth.as_ref().map(|(p, _)| p))
            .field("privacy", &self.privacy.as_ref().map(|(p, _)| p))
            .finish()
    }
}

impl User {
    fn level(&self) -> SecurityLevel {
        match (&self.auth, &self.privacy) {
            (None, _) => SecurityLevel::NoAuthNoPriv,
            (Some(_), None) => SecurityLevel::AuthNoPriv,
            (Some(_), Some(_)) => SecurityLevel::AuthPriv,
        }
    }
}

/// What one remote engine's clock was at its latest authenticated message.
#[derive(Debug, Clone, Copy)]
struct EngineClock {
    boots: u32,
    /// Its snmpEngineTime then, and our clock (seconds) when it arrived.
    time: u32,
    at: i64,
}

/// Keys of one (user, engine): localizing costs a hash over the key per message otherwise.
type Keys = (LocalizedKey, Option<PrivKey>);

/// The credentials and the state of USM processing.
pub struct Security {
    communities: Vec<Community>,
    users: HashMap<Vec<u8>, User>,
    engines: HashMap<Vec<u8>, EngineClock>,
    keys: HashMap<(Vec<u8>, Vec<u8>), Keys>,
}

/// Never prints a community or a key.
impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("communities", &self.communities.len())
            .field("users", &self.users)
            .field("engines", &self.engines.len())
            .finish_non_exhaustive()
    }
}

impl Security {
    pub fn new(communities: Vec<Community>, users: HashMap<Vec<u8>, User>) -> Self {
        Self {
            communities,
            users,
            engines: HashMap::new(),
            keys: HashMap::new(),
        }
    }
}

fn oid(o: &async_snmp::Oid) -> Vec<u32> {
    o.arcs().to_vec()
}

fn varbinds(list: &[VarBind]) -> Varbinds {
    list.iter()
        .map(|vb| (oid(&vb.oid), val(&vb.value)))
        .collect()
}

/// The SNMP version of a message: the INTEGER at the start of its outer SEQUENCE.
fn version(datagram: &[u8]) -> Result<i32, Refused> {
    let mut d = Decoder::from_slice(datagram);
    let mut seq = d.read_sequence().map_err(|_| Refused::Malformed)?;
    seq.read_integer().map_err(|_| Refused::Malformed)
}

/// Decodes one datagram received at `now_s` (monotonic seconds; only the time window uses it).
pub fn decode(
    datagram: &[u8],
    security: &mut Security,
    now_s: i64,
) -> Result<Notification, Refused> {
    match version(datagram)? {
        0 | 1 => community(datagram, security),
        3 => v3(datagram, security, now_s),
        _ => Err(Refused::Malformed),
    }
}

/// The notification in an SNMPv2 PDU: sysUpTime.0 first, snmpTrapOID.0 second (RFC 3416
/// §4.2.6); a PDU without them is malformed.
fn v2_parts(pdu: &Pdu) -> Result<(Vec<u32>, Varbinds), Refused> {
    let list = pdu.varbinds();
    let (Some(first), Some(second)) = (list.first(), list.get(1)) else {
        return Err(Refused::Malformed);
    };
    if first.oid.arcs() != SYS_UPTIME_0 || second.oid.arcs() != SNMP_TRAP_OID_0 {
        return Err(Refused::Malformed);
    }
    let Val::Oid(trap_oid) = val(&second.value) else {
        return Err(Refused::Malformed);
    };
    Ok((trap_oid, varbinds(&list[2..])))
}

fn community(datagram: &[u8], security: &Security) -> Result<Notification, Refused> {
    let message = CommunityMessage::decode(datagram.to_vec().into(), DecodeConfig::DEFAULT)
        .map_err(|_| Refused::Malformed)?
        .value;
    let received = message.community();
    if !security
        .communities
        .iter()
        .any(|c| c.matches(received.as_bytes()))
    {
        return Err(Refused::Community);
    }
    match message.pdu() {
        CommunityPdu::TrapV1(trap) => {
            let trap_oid = trap.v2_trap_oid().map_err(|_| Refused::Malformed)?;
            Ok(Notification {
                version: "1",
                trap_oid: oid(&trap_oid),
                varbinds: varbinds(trap.varbinds()),
                agent_address: Some(Ipv4Addr::from(trap.agent_addr())),
                response: None,
            })
        }
        CommunityPdu::Standard(pdu) if message.version() == Version::V2c => {
            let (trap_oid, vbs) = match pdu.pdu_type() {
                PduType::TrapV2 | PduType::InformRequest => v2_parts(pdu)?,
                _ => return Err(Refused::NotNotification),
            };
            let response = (pdu.pdu_type() == PduType::InformRequest)
                .then(|| inform_response(received, pdu))
                .flatten();
            Ok(Notification {
                version: "2c",
                trap_oid,
                varbinds: vbs,
                agent_address: None,
                response,
            })
        }
        CommunityPdu::Standard(_) => Err(Refused::NotNotification),
    }
}

/// The Response to a v2c InformRequest: same request-id, same varbinds (RFC 3416 §4.2.7).
/// `None` when it cannot be encoded (then the sender retries and gives up, which is all a
/// receiver can do about an inform it cannot answer).
fn inform_response(community: &Community, pdu: &Pdu) -> Option<Vec<u8>> {
    let response = ResponsePdu::new(
        Version::V2c,
        pdu.request_id(),
        OutboundErrorStatus::NoError,
        None,
        pdu.varbinds().to_vec(),
    )
    .ok()?;
    let message = CommunityMessage::v2c(community.clone(), response).ok()?;
    message.encode().ok().map(|b| b.to_vec())
}

fn v3(datagram: &[u8], security: &mut Security, now_s: i64) -> Result<Notification, Refused> {
    let raw = RawV3Message::decode(datagram.to_vec().into(), DecodeConfig::DEFAULT)
        .map_err(|_| Refused::Malformed)?
        .value;
    let usm = UsmSecurityParams::decode(raw.security_params().clone(), DecodeConfig::DEFAULT)
        .map_err(|_| Refused::Malformed)?
        .value;
    let name = usm.username().to_vec();
    let user = security
        .users
        .get(&name)
        .cloned()
        .ok_or(Refused::UnknownUser)?;
    // A message above the user's level cannot be checked (no such key); one below would let
    // anyone who knows the user name forge what the keys are there to sign.
    if raw.security_level() != user.level() {
        return Err(Refused::SecurityLevel);
    }
    let engine_id = usm.engine_id().to_vec();
    if let Some((_, master)) = &user.auth {
        let keys = localized(security, &name, &engine_id, master, &user)?;
        let (offset, len) =
            UsmSecurityParams::find_auth_params_offset(datagram).ok_or(Refused::Malformed)?;
        if !verify_message(&keys.0, datagram, offset, len).unwrap_or(false) {
            return Err(Refused::WrongDigest);
        }
        in_time_window(
            security,
            &engine_id,
            usm.engine_boots(),
            usm.engine_time(),
            now_s,
        )?;
    }
    let scoped = match raw.msg_data() {
        RawMsgData::Plaintext { data, .. } => {
            ScopedPdu::decode(&mut Decoder::new(data.clone())).map_err(|_| Refused::Malformed)?
        }
        RawMsgData::Encrypted(ciphertext) => {
            let key = security
                .keys
                .get(&(name.clone(), engine_id.clone()))
                .and_then(|k| k.1.as_ref())
                .ok_or(Refused::SecurityLevel)?;
            let plain = key
                .decrypt(
                    ciphertext,
                    usm.engine_boots(),
                    usm.engine_time(),
                    usm.priv_params(),
                )
                .map_err(|_| Refused::Decryption)?;
            // Block-cipher padding may follow the scoped PDU; only its own TLV is read.
            ScopedPdu::decode(&mut Decoder::new(plain)).map_err(|_| Refused::Decryption)?
        }
    };
    match scoped.pdu.pdu_type() {
        PduType::TrapV2 => {
            let (trap_oid, vbs) = v2_parts(&scoped.pdu)?;
            Ok(Notification {
                version: "3",
                trap_oid,
                varbinds: vbs,
                agent_address: None,
                response: None,
            })
        }
        PduType::InformRequest => Err(Refused::Unsupported),
        _ => Err(Refused::NotNotification),
    }
}

/// The user's keys localized to `engine_id` (RFC 3414 §2.6), from the cache or made now.
fn localized<'a>(
    security: &'a mut Security,
    name: &[u8],
    engine_id: &[u8],
    master: &MasterKey,
    user: &User,
) -> Result<&'a Keys, Refused> {
    let key = (name.to_vec(), engine_id.to_vec());
    if !security.keys.contains_key(&key) {
        if security.keys.len() >= MAX_ENGINES {
            security.keys.clear();
        }
        let auth = master
            .localize(engine_id)
            .map_err(|_| Refused::WrongDigest)?;
        let privacy = match &user.privacy {
            Some((protocol, priv_master)) => Some(
                PrivKey::from_master_key(priv_master, *protocol, engine_id)
                    .map_err(|_| Refused::Decryption)?,
            ),
            None => None,
        };
        security.keys.insert(key.clone(), (auth, privacy));
    }
    security.keys.get(&key).ok_or(Refused::WrongDigest)
}

/// RFC 3414 §3.2 step 7b, for a receiver that is not the authoritative engine: the sender's
/// clock is learnt from its first authenticated message and moves forward with it; a
/// message more than 150 s behind that clock, or from an older boot, is a replay.
fn in_time_window(
    security: &mut Security,
    engine_id: &[u8],
    boots: u32,
    time: u32,
    now_s: i64,
) -> Result<(), Refused> {
    if boots >= MAX_ENGINE_BOOTS {
        return Err(Refused::NotInTimeWindow);
    }
    let fresh = EngineClock {
        boots,
        time,
        at: now_s,
    };
    let Some(known) = security.engines.get_mut(engine_id) else {
        if security.engines.len() >= MAX_ENGINES {
            security.engines.clear();
        }
        security.engines.insert(engine_id.to_vec(), fresh);
        return Ok(());
    };
    let estimated = i64::from(known.time) + (now_s - known.at);
    let newer = boots > known.boots || (boots == known.boots && i64::from(time) > estimated);
    if newer {
        *known = fresh;
        return Ok(());
    }
    if boots < known.boots || i64::from(time) < estimated - TIME_WINDOW {
        return Err(Refused::NotInTimeWindow);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
