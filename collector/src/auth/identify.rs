//! Who a request comes from, from what the connection and its headers prove: an operator token,
//! a verified client certificate, the Unix user on the operator socket, or nobody.

use std::net::SocketAddr;

use tonic::Status;
use tonic::transport::server::{TlsConnectInfo, UdsConnectInfo};

use crate::conn::ConnInfo;

use super::refusals::Reason;
use super::{Auth, Caller, How, Role, constant_time_eq};

/// The connection a request arrived on.
pub(super) enum Peer<'a> {
    Tcp(Option<SocketAddr>),
    Tls(Option<SocketAddr>, Vec<String>),
    Socket(&'a UdsConnectInfo),
}

impl<'a> Peer<'a> {
    /// The peer of a request on the operator socket or on the gRPC port, whose connections
    /// come through the connection budget (`crate::conn`), plaintext or TLS.
    pub(super) fn of(ext: &'a http::Extensions) -> Peer<'a> {
        if let Some(uds) = ext.get::<UdsConnectInfo>() {
            return Peer::Socket(uds);
        }
        if let Some(tls) = ext.get::<TlsConnectInfo<ConnInfo>>() {
            let names = tls
                .peer_certs()
                .and_then(|certs| certs.first().map(|c| cert_names(c.as_ref())))
                .unwrap_or_default();
            return Peer::Tls(tls.get_ref().remote, names);
        }
        // No connection info at all is not loopback: such a caller gets no role without [auth].
        Peer::Tcp(ext.get::<ConnInfo>().and_then(|c| c.remote))
    }

    pub(super) fn shown(&self) -> String {
        match self {
            Peer::Tcp(Some(a)) | Peer::Tls(Some(a), _) => a.to_string(),
            Peer::Tcp(None) | Peer::Tls(None, _) => "unknown".to_owned(),
            Peer::Socket(uds) => uds
                .peer_cred
                .map_or("unix".to_owned(), |c| format!("unix:uid={}", c.uid())),
        }
    }

    fn loopback(&self) -> bool {
        match self {
            Peer::Tcp(a) | Peer::Tls(a, _) => a.is_some_and(|a| a.ip().is_loopback()),
            Peer::Socket(_) => true,
        }
    }
}

/// The subject's common name, then the DNS names of the certificate: the names it may
/// identify as. A certificate reaches here only after rustls verified it against
/// `client_ca_file`.
pub(super) fn cert_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push((*dns).to_owned());
            }
        }
    }
    names
}

/// The Unix user name of `uid`, or `uid:N` when it has none.
fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| format!("uid:{uid}"), |u| u.name)
}

/// Identifies the caller of a request with `headers` on `peer`. A presented credential that
/// is wrong is refused here, whatever the method: a wrong token is never treated as none.
pub(super) fn identify(
    auth: &Auth,
    headers: &http::HeaderMap,
    peer: &Peer<'_>,
) -> Result<Caller, (Reason, Status)> {
    let shown = peer.shown();
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err((
                Reason::BadHeader,
                Status::unauthenticated("the authorization header must be 'Bearer TOKEN'"),
            ));
        };
        return auth
            .operators
            .iter()
            .find(|(t, _)| constant_time_eq(t.as_bytes(), token.as_bytes()))
            .map(|(_, o)| Caller {
                name: o.name.clone(),
                how: How::Token,
                role: Some(o.role),
                shared: o.shared,
                agent: None,
                peer: shown.clone(),
            })
            .ok_or_else(|| {
                (
                    Reason::UnknownToken,
                    Status::unauthenticated(
                        "this collector knows no identity with that token: check --token-file \
                         (PATROL_TOKEN_FILE) against the collector's [[auth.operator]] entries",
                    ),
                )
            });
    }
    match peer {
        Peer::Socket(uds) => {
            let uid = uds.peer_cred.map(|c| c.uid());
            return Ok(Caller {
                name: uid.map_or_else(|| "unix".to_owned(), user_name),
                how: How::Socket,
                role: Some(auth.socket_role),
                // root is everyone who can sudo: it must say who acts.
                shared: uid.is_none_or(|u| u == 0),
                agent: None,
                peer: shown,
            });
        }
        Peer::Tls(_, names) => {
            for name in names {
                if let Some(o) = auth.operator_names.get(name) {
                    return Ok(Caller {
                        name: o.name.clone(),
                        how: How::Certificate,
                        role: Some(o.role),
                        shared: o.shared,
                        agent: None,
                        peer: shown,
                    });
                }
                if auth.agents.contains_key(name) {
                    return Ok(Caller {
                        name: name.clone(),
                        how: How::Certificate,
                        role: None,
                        shared: false,
                        agent: Some(name.clone()),
                        peer: shown,
                    });
                }
            }
        }
        Peer::Tcp(_) => {}
    }
    let role = if auth.configured {
        auth.anonymous
    } else if peer.loopback() {
        // No [auth]: loopback callers keep what they could do before identities existed.
        Some(Role::Admin)
    } else {
        None
    };
    Ok(Caller {
        name: "anonymous".to_owned(),
        how: How::Anonymous,
        role,
        shared: true,
        agent: None,
        peer: shown,
    })
}

/// Refuses `caller` unless it has `role`; the status names the role needed and what gives it.
pub(super) fn require(
    auth: &Auth,
    caller: &Caller,
    role: Role,
    what: &str,
) -> Result<(), (Reason, Status)> {
    if caller.role.is_some_and(|r| r >= role) {
        return Ok(());
    }
    let needed = role.as_str();
    if caller.how == How::Anonymous {
        let socket = auth
            .operator_socket
            .as_ref()
            .map(|p| {
                format!(
                    ", or use the operator socket (--collector unix://{})",
                    p.display()
                )
            })
            .unwrap_or_default();
        let hint = if auth.configured {
            format!(
                "present an operator token (patrolctl --token-file FILE, or PATROL_TOKEN_FILE){socket}"
            )
        } else {
            "this collector has no [auth] section, so only callers on loopback are served \
             without a credential (docs/security.md)"
                .to_owned()
        };
        return Err((
            Reason::NoCredential,
            Status::unauthenticated(format!(
                "{what} needs the {needed} role and you presented no credential: {hint}"
            )),
        ));
    }
    let has = caller.role.map_or("no operator role".to_owned(), |r| {
        format!("the {} role", r.as_str())
    });
    Err((
        Reason::Role,
        Status::permission_denied(format!(
            "{what} needs the {needed} role; {} has {has}",
            caller.name
        )),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::config::Operator;

    fn auth() -> Auth {
        let ann = Operator {
            name: "ann".into(),
            role: Role::Operator,
            shared: false,
        };
        Auth {
            configured: true,
            operators: vec![("ann-token-0123456789".into(), ann.clone())],
            operator_names: [("ann".to_owned(), ann)].into(),
            ..Auth::default()
        }
    }

    fn bearer(t: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, t.parse().unwrap());
        h
    }

    fn remote(ip: &str) -> Peer<'static> {
        Peer::Tcp(Some(format!("{ip}:40000").parse().unwrap()))
    }

    #[test]
    fn a_token_names_its_operator_and_a_wrong_one_is_refused() {
        let a = auth();
        let c = identify(
            &a,
            &bearer("Bearer ann-token-0123456789"),
            &remote("192.0.2.7"),
        )
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.how, c.role),
            ("ann", How::Token, Some(Role::Operator))
        );
        assert!(require(&a, &c, Role::Operator, "incidents ack").is_ok());
        let (reason, status) = require(&a, &c, Role::Admin, "rules reload").unwrap_err();
        assert_eq!(reason, Reason::Role);
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "rules reload needs the admin role; ann has the operator role"
        );
        let (reason, _) = identify(&a, &bearer("Bearer guess"), &remote("192.0.2.7")).unwrap_err();
        assert_eq!(reason, Reason::UnknownToken);
        let (reason, _) = identify(&a, &bearer("Basic YTpi"), &remote("192.0.2.7")).unwrap_err();
        assert_eq!(reason, Reason::BadHeader);
    }

    #[test]
    fn anonymous_callers_get_what_the_config_allows() {
        let a = auth();
        let none = http::HeaderMap::new();
        let c = identify(&a, &none, &remote("127.0.0.1")).unwrap();
        assert_eq!((c.how, c.role), (How::Anonymous, None));
        let (reason, status) = require(&a, &c, Role::Viewer, "tail").unwrap_err();
        assert_eq!(reason, Reason::NoCredential);
        assert!(
            status
                .message()
                .starts_with("tail needs the viewer role and you presented no credential"),
            "{status:?}"
        );
        // Without [auth]: loopback as before, anyone else nothing.
        let open = Auth::default();
        let local = identify(&open, &none, &remote("127.0.0.1")).unwrap();
        assert!(require(&open, &local, Role::Admin, "rules reload").is_ok());
        let far = identify(&open, &none, &remote("192.0.2.7")).unwrap();
        let (_, status) = require(&open, &far, Role::Operator, "incidents ack").unwrap_err();
        assert!(status.message().contains("no [auth] section"), "{status:?}");
    }
}
