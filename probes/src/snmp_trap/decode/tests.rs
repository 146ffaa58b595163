//! The decoder on datagrams captured from net-snmp's `snmptrap`, `snmpinform` and `snmpget`
//! (`../testdata/README.md` has the commands), and on arbitrary bytes.
#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

const V2C_LINKDOWN: &str = include_str!("../testdata/v2c_linkdown.hex");
const V1_LINKDOWN: &str = include_str!("../testdata/v1_linkdown.hex");
const V3_AUTHPRIV: &str = include_str!("../testdata/v3_authpriv_coldstart.hex");
const V3_AUTHNOPRIV: &str = include_str!("../testdata/v3_authnopriv_vendor.hex");
const V2C_INFORM: &str = include_str!("../testdata/v2c_inform_linkup.hex");
const V2C_GET: &str = include_str!("../testdata/v2c_get.hex");

/// Master keys cost a million-byte hash each (RFC 3414 §A.2), slow in a debug build: made
/// once per password for all the cases.
fn master(protocol: AuthProtocol, password: &str) -> MasterKey {
    static CACHE: std::sync::Mutex<Vec<(String, MasterKey)>> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some((_, key)) = cache.iter().find(|(p, _)| p == password) {
        return key.clone();
    }
    let key = MasterKey::from_password(protocol, password.as_bytes()).unwrap();
    cache.push((password.to_owned(), key.clone()));
    key
}

/// The receiver's credentials: community `public`, and `trapuser` at the given level.
fn security(auth: Option<&str>, privacy: Option<&str>) -> Security {
    let mut users = HashMap::new();
    let auth_key = auth.map(|p| (AuthProtocol::Sha1, master(AuthProtocol::Sha1, p)));
    let priv_key = privacy.map(|p| (PrivProtocol::Aes128, master(AuthProtocol::Sha1, p)));
    users.insert(
        b"trapuser".to_vec(),
        User {
            auth: auth_key,
            privacy: priv_key,
        },
    );
    Security::new(vec!["public".into()], users)
}

#[test]
fn v2c_link_down_with_its_varbinds() {
    let n = decode(&hex(V2C_LINKDOWN), &mut security(None, None), 0).unwrap();
    assert_eq!(n.version, "2c");
    assert_eq!(n.trap_oid, [1, 3, 6, 1, 6, 3, 1, 1, 5, 3]);
    assert_eq!(
        n.varbinds,
        [
            (vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 7], Val::Int(7)),
            (vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 7, 7], Val::Int(1)),
            (vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 7], Val::Int(2)),
        ]
    );
    assert_eq!(n.response, None, "a trap is not answered");
}

#[test]
fn a_community_not_configured_is_refused() {
    let mut s = Security::new(vec!["private".into()], HashMap::new());
    assert_eq!(
        decode(&hex(V2C_LINKDOWN), &mut s, 0),
        Err(Refused::Community)
    );
    assert_eq!(
        decode(&hex(V1_LINKDOWN), &mut s, 0),
        Err(Refused::Community)
    );
}

#[test]
fn v1_trap_is_translated_as_rfc_3584_says() {
    let n = decode(&hex(V1_LINKDOWN), &mut security(None, None), 0).unwrap();
    assert_eq!(n.version, "1");
    // generic-trap 2 (linkDown) → snmpTraps.3.
    assert_eq!(n.trap_oid, [1, 3, 6, 1, 6, 3, 1, 1, 5, 3]);
    assert_eq!(n.agent_address, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        n.varbinds,
        [(vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3], Val::Int(3))]
    );
}

#[test]
fn v2c_inform_is_answered_with_a_response_carrying_its_request_id() {
    let n = decode(&hex(V2C_INFORM), &mut security(None, None), 0).unwrap();
    assert_eq!(n.trap_oid, [1, 3, 6, 1, 6, 3, 1, 1, 5, 4]);
    let response = n.response.expect("an inform is answered");
    let decoded = CommunityMessage::decode(response.into(), DecodeConfig::DEFAULT)
        .unwrap()
        .value;
    assert_eq!(decoded.version(), Version::V2c);
    assert!(decoded.community().matches(b"public"));
    let CommunityPdu::Standard(pdu) = decoded.pdu() else {
        panic!("a standard PDU");
    };
    assert_eq!(pdu.pdu_type(), PduType::Response);
    // snmpinform's request-id, from the capture (0x035dc2d8).
    assert_eq!(pdu.request_id(), 0x035d_c2d8);
    assert_eq!(pdu.varbinds().len(), 3, "the inform's varbinds echoed");
}

#[test]
fn a_request_sent_to_the_trap_port_is_not_a_notification() {
    assert_eq!(
        decode(&hex(V2C_GET), &mut security(None, None), 0),
        Err(Refused::NotNotification)
    );
}

#[test]
fn v3_auth_priv_trap_is_verified_and_decrypted() {
    let mut s = security(Some("authpass123"), Some("privpass123"));
    let n = decode(&hex(V3_AUTHPRIV), &mut s, 0).unwrap();
    assert_eq!(n.version, "3");
    assert_eq!(n.trap_oid, [1, 3, 6, 1, 6, 3, 1, 1, 5, 1], "coldStart");
    assert!(n.varbinds.is_empty());
}

#[test]
fn v3_auth_no_priv_vendor_trap() {
    let n = decode(
        &hex(V3_AUTHNOPRIV),
        &mut security(Some("authpass123"), None),
        0,
    )
    .unwrap();
    assert_eq!(n.trap_oid, [1, 3, 6, 1, 4, 1, 9, 9, 43, 2, 0, 1]);
}

#[test]
fn v3_wrong_keys_unknown_users_and_levels_each_have_their_reason() {
    let authpriv = hex(V3_AUTHPRIV);
    let cases = [
        (
            security(Some("wrongpass1"), Some("privpass123")),
            Refused::WrongDigest,
        ),
        (
            security(Some("authpass123"), Some("wrongpriv1")),
            Refused::Decryption,
        ),
        // Configured without privacy: an encrypted message cannot be read.
        (security(Some("authpass123"), None), Refused::SecurityLevel),
        (
            Security::new(vec!["public".into()], HashMap::new()),
            Refused::UnknownUser,
        ),
    ];
    for (mut s, want) in cases {
        assert_eq!(decode(&authpriv, &mut s, 0), Err(want));
    }
    // A user configured with privacy refuses the same user's unencrypted message: the keys
    // are a promise that every message of the user is protected.
    let mut s = security(Some("authpass123"), Some("privpass123"));
    assert_eq!(
        decode(&hex(V3_AUTHNOPRIV), &mut s, 0),
        Err(Refused::SecurityLevel)
    );
}

#[test]
fn v3_replay_outside_the_time_window_is_refused() {
    let datagram = hex(V3_AUTHPRIV);
    let mut s = security(Some("authpass123"), Some("privpass123"));
    // The first authenticated message teaches the sender engine's clock.
    assert!(decode(&datagram, &mut s, 1000).is_ok());
    // Within the window, a repeat is not (yet) a replay by RFC 3414's rule.
    assert!(decode(&datagram, &mut s, 1100).is_ok());
    // 151 s later by our clock the engine's time has moved on: the old message is refused.
    assert_eq!(
        decode(&datagram, &mut s, 1151),
        Err(Refused::NotInTimeWindow)
    );
}

#[test]
fn a_flipped_byte_is_refused_never_accepted_or_a_panic() {
    let datagram = hex(V3_AUTHPRIV);
    for i in 0..datagram.len() {
        let mut bad = datagram.clone();
        bad[i] ^= 0x01;
        let mut s = security(Some("authpass123"), Some("privpass123"));
        // The HMAC covers the whole message, so no single-bit change can pass as the trap.
        assert!(
            decode(&bad, &mut s, 0).is_err(),
            "byte {i} flipped was accepted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]
    /// Hostile input: any bytes are a notification or a reason, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut s = security(Some("authpass123"), Some("privpass123"));
        let _ = decode(&bytes, &mut s, 0);
    }

    /// Real datagrams with random bytes overwritten reach the deeper decoding paths.
    #[test]
    fn mangled_real_datagrams_never_panic(
        which in 0usize..6,
        edits in proptest::collection::vec((0usize..200, any::<u8>()), 1..8),
        cut in proptest::option::of(0usize..200),
    ) {
        let all = [V2C_LINKDOWN, V1_LINKDOWN, V3_AUTHPRIV, V3_AUTHNOPRIV, V2C_INFORM, V2C_GET];
        let mut bytes = hex(all[which]);
        for (at, b) in edits {
            if let Some(slot) = bytes.get_mut(at) {
                *slot = b;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        let mut s = security(Some("authpass123"), Some("privpass123"));
        let _ = decode(&bytes, &mut s, 0);
    }
}
