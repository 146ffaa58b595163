//! Who is calling, and what they may do (docs/security.md).
//!
//! Every gRPC request passes [`layer::AuthLayer`] before any service sees it: the caller is
//! identified from its credential — an operator token (`authorization: Bearer …`), a verified
//! TLS client certificate, the Unix user on the operator socket — or is anonymous; the method's
//! need comes from the one table in [`roles`]; a caller without it is refused with a status
//! that names the role needed, counted in `patrol_auth_refused_total{reason}` and logged once
//! per cause ([`refusals`]). An admitted request carries its [`Caller`] in its extensions, so
//! the journal's actor is the authenticated identity, not a typed name. The agent stream is
//! checked on its hello ([`Auth::admit_agent`]), since the hello names the agent.

pub mod config;
pub mod http;
mod identify;
pub mod layer;
pub mod refusals;
pub mod roles;
pub mod socket;

pub use config::{Auth, AuthSection, Operator};
pub use roles::{Need, Role};

use tonic::Status;

use refusals::Reason;

/// How a caller was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// `authorization: Bearer` with an operator token.
    Token,
    /// A TLS client certificate naming an `[[auth.operator]]` or `[[auth.agent]]`.
    Certificate,
    /// The operator socket: the Unix user of the connecting process.
    Socket,
    /// No credential.
    Anonymous,
}

/// The identity a request was admitted with; in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// An operator's name, a Unix user name, a certificate's name, or `anonymous`.
    pub name: String,
    pub how: How,
    /// The operator role, if any.
    pub role: Option<Role>,
    /// Several people act through this identity: writes must say who (`by`).
    pub shared: bool,
    /// The `[[auth.agent]]` id a client certificate names.
    pub agent: Option<String>,
    /// The peer address (or `unix:UID`), for logs.
    pub peer: String,
}

impl Caller {
    /// The journal actor for a write whose request names `by` (empty: not given).
    ///
    /// A personal identity is the actor; naming someone else is refused, since the journal
    /// records who is authenticated. A shared identity must say who acts: anonymous callers
    /// (no `[auth]`, on loopback) are recorded by that name alone as before identities
    /// existed, a shared account as `PERSON via ACCOUNT`.
    pub fn actor(&self, by: &str) -> Result<String, Status> {
        let by = by.trim();
        if !self.shared {
            return if by.is_empty() || by == self.name {
                Ok(self.name.clone())
            } else {
                Err(Status::permission_denied(format!(
                    "you are authenticated as {}: the journal records who is authenticated, \
                     so 'by {by}' is refused (leave --by out)",
                    self.name
                )))
            };
        }
        if by.is_empty() {
            return Err(Status::invalid_argument(format!(
                "say who does it: 'by' is required ({} is a shared identity)",
                self.name
            )));
        }
        Ok(match self.how {
            How::Anonymous => by.to_owned(),
            _ => format!("{by} via {}", self.name),
        })
    }
}

/// Reads the caller the auth layer put in a request's extensions. Absent only when a service
/// is called without the layer (in-process tests): then the caller is the anonymous shared
/// identity, as without `[auth]`.
pub fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller {
            name: "anonymous".to_owned(),
            how: How::Anonymous,
            role: Some(Role::Admin),
            shared: true,
            agent: None,
            peer: String::new(),
        })
}

/// What to tell the operator at start about how open the collector is.
pub fn start_warnings(auth: &Auth, listen: std::net::SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    if !auth.configured && !listen.ip().is_loopback() {
        out.push(format!(
            "no [auth] section while listening on {listen}: callers from other hosts may send \
             agent streams{} but use nothing else; give agents and operators identities \
             (docs/security.md)",
            if auth.shared_agent_token.is_some() {
                " with the shared token"
            } else {
                " without any credential"
            }
        ));
    }
    if auth.configured && auth.anonymous.is_some_and(|r| r > Role::Viewer) {
        out.push(
            "[auth] anonymous grants more than viewer: anyone who reaches the port may change \
             incidents"
                .to_owned(),
        );
    }
    out
}

/// A new random token (256 bits, hex), for the in-process agent.
pub fn fresh_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Checks an agent's hello: its token (or the certificate the layer found) must be the
    /// credential of the agent id the hello names. `local` is the in-process agent's own
    /// (id, token), made at start.
    pub fn admit_agent(
        &self,
        caller: &Caller,
        agent_id: &str,
        token: &str,
        local: Option<&(String, String)>,
    ) -> Result<(), (Reason, Status)> {
        let wrong = |reason: Reason, text: String| Err((reason, Status::unauthenticated(text)));
        if let Some((id, t)) = local
            && id == agent_id
            && constant_time_eq(t.as_bytes(), token.as_bytes())
        {
            return Ok(());
        }
        if let Some(named) = &caller.agent {
            return if named == agent_id {
                Ok(())
            } else {
                Err((
                    Reason::OtherAgent,
                    Status::permission_denied(format!(
                        "your certificate is agent '{named}'; it may not speak for '{agent_id}'"
                    )),
                ))
            };
        }
        if let Some(shared) = &self.shared_agent_token
            && constant_time_eq(shared.as_bytes(), token.as_bytes())
        {
            return Ok(());
        }
        match self.agents.get(agent_id) {
            Some(Some(own)) if constant_time_eq(own.as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) if token.is_empty() => wrong(
                Reason::AgentToken,
                format!("agent '{agent_id}' must present its token (token_file)"),
            ),
            Some(_) => wrong(
                Reason::AgentToken,
                format!("wrong token for agent '{agent_id}'"),
            ),
            None if self
                .agents
                .values()
                .flatten()
                .any(|t| constant_time_eq(t.as_bytes(), token.as_bytes())) =>
            {
                Err((
                    Reason::OtherAgent,
                    Status::permission_denied(format!(
                        "this token belongs to another agent; it may not speak for '{agent_id}'"
                    )),
                ))
            }
            // No [auth] and no token_file: agents were never asked for a credential.
            None if !self.configured && self.shared_agent_token.is_none() => Ok(()),
            None if self.shared_agent_token.is_some() => {
                wrong(Reason::AgentToken, "wrong or missing token".to_owned())
            }
            None => wrong(
                Reason::UnknownAgent,
                format!("agent '{agent_id}' is not in this collector's [auth] agents"),
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn caller(name: &str, how: How, shared: bool) -> Caller {
        Caller {
            name: name.into(),
            how,
            role: Some(Role::Operator),
            shared,
            agent: None,
            peer: "127.0.0.1:5000".into(),
        }
    }

    #[test]
    fn the_actor_is_who_is_authenticated() {
        let ann = caller("ann", How::Token, false);
        assert_eq!(ann.actor("").unwrap(), "ann");
        assert_eq!(ann.actor("ann").unwrap(), "ann");
        let err = ann.actor("bob").unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(
            err.message().starts_with("you are authenticated as ann"),
            "{err:?}"
        );

        let desk = caller("noc-desk", How::Token, true);
        assert_eq!(desk.actor("bob").unwrap(), "bob via noc-desk");
        assert_eq!(
            desk.actor("").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );

        let anonymous = caller("anonymous", How::Anonymous, true);
        assert_eq!(anonymous.actor(" ann ").unwrap(), "ann");
    }

    fn auth(configured: bool, shared: Option<&str>) -> Auth {
        let mut agents = BTreeMap::new();
        agents.insert("web-01".to_owned(), Some("web-token-0123456789".to_owned()));
        agents.insert("db-01".to_owned(), None);
        Auth {
            configured,
            agents,
            shared_agent_token: shared.map(str::to_owned),
            ..Auth::default()
        }
    }

    #[test]
    fn an_agent_speaks_only_for_its_own_id() {
        let a = auth(true, None);
        let anon = caller("anonymous", How::Anonymous, true);
        assert!(
            a.admit_agent(&anon, "web-01", "web-token-0123456789", None)
                .is_ok()
        );
        let (reason, status) = a.admit_agent(&anon, "web-01", "nope", None).unwrap_err();
        assert_eq!(
            (reason, status.code()),
            (Reason::AgentToken, tonic::Code::Unauthenticated)
        );
        let (reason, _) = a.admit_agent(&anon, "web-01", "", None).unwrap_err();
        assert_eq!(reason, Reason::AgentToken);
        // web-01's token presented by an agent calling itself web-02.
        let (reason, status) = a
            .admit_agent(&anon, "web-02", "web-token-0123456789", None)
            .unwrap_err();
        assert_eq!(
            (reason, status.code()),
            (Reason::OtherAgent, tonic::Code::PermissionDenied)
        );
        let (reason, _) = a.admit_agent(&anon, "web-02", "", None).unwrap_err();
        assert_eq!(reason, Reason::UnknownAgent);
        // A certificate naming db-01 speaks for db-01 only.
        let mut cert = caller("db-01", How::Certificate, false);
        cert.agent = Some("db-01".into());
        assert!(a.admit_agent(&cert, "db-01", "", None).is_ok());
        let (reason, _) = a.admit_agent(&cert, "web-01", "", None).unwrap_err();
        assert_eq!(reason, Reason::OtherAgent);
        // The in-process agent's own token.
        let local = ("here".to_owned(), "local-token".to_owned());
        assert!(
            a.admit_agent(&anon, "here", "local-token", Some(&local))
                .is_ok()
        );
        assert!(a.admit_agent(&anon, "here", "other", Some(&local)).is_err());
    }

    #[test]
    fn without_auth_the_single_token_or_nothing_as_before() {
        let anon = caller("anonymous", How::Anonymous, true);
        let open = Auth::default();
        assert!(open.admit_agent(&anon, "any", "", None).is_ok());
        let legacy = Auth {
            shared_agent_token: Some("shared".into()),
            ..Auth::default()
        };
        assert!(legacy.admit_agent(&anon, "any", "shared", None).is_ok());
        let (reason, status) = legacy.admit_agent(&anon, "any", "", None).unwrap_err();
        assert_eq!(reason, Reason::AgentToken);
        assert_eq!(status.message(), "wrong or missing token");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
