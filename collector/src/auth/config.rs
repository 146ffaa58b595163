//! `[auth]` in the collector's file, and checking it into [`Auth`]: every token file read
//! (refused when others can read it), names and tokens unique, so that a credential names
//! exactly one identity.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Deserialize;

use super::Role;

/// Shortest token accepted in `[auth]`: a guessable token is no credential.
pub const MIN_TOKEN_LEN: usize = 16;

/// `[auth]`: who may connect and what they may do (docs/security.md). Present: every caller
/// needs a credential unless `anonymous` says otherwise, on loopback too.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// What a caller with no credential may do: "none" (the default), "viewer", "operator" or
    /// "admin". Anonymous callers are a shared identity: writes must name who acts (`by`).
    #[serde(default)]
    pub anonymous: Anonymous,
    /// A Unix socket served beside the gRPC port, for `patrolctl --collector unix://PATH`:
    /// created mode 0660, so its owner and group (`patrol` in the package) may use it and
    /// nobody else. Callers are known by their Unix user name; no token is asked.
    pub operator_socket: Option<PathBuf>,
    /// Role of callers on `operator_socket`. Default "admin".
    pub socket_role: Option<Role>,
    /// Agents, each with its own credential: an agent may only speak for its own id.
    #[serde(default, rename = "agent")]
    pub agents: Vec<AgentEntry>,
    /// People (and the console's accounts) with their role.
    #[serde(default, rename = "operator")]
    pub operators: Vec<OperatorEntry>,
}

/// `anonymous = "none" | "viewer" | "operator" | "admin"`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Anonymous {
    #[default]
    None,
    Viewer,
    Operator,
    Admin,
}

impl Anonymous {
    fn role(self) -> Option<Role> {
        match self {
            Anonymous::None => None,
            Anonymous::Viewer => Some(Role::Viewer),
            Anonymous::Operator => Some(Role::Operator),
            Anonymous::Admin => Some(Role::Admin),
        }
    }
}

/// `[[auth.agent]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    /// The agent's `agent_id` (its host name unless its file sets one).
    pub id: String,
    /// File holding this agent's token (first line; at least 16 characters; not readable by
    /// others). Unset: the agent is known by its TLS client certificate only (common name or
    /// DNS name equal to `id`, under mutual TLS).
    pub token_file: Option<PathBuf>,
}

/// `[[auth.operator]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    /// The name the journal records for what this identity does.
    pub name: String,
    /// "viewer", "operator" or "admin".
    pub role: Role,
    /// File holding this identity's token (first line; at least 16 characters; not readable
    /// by others), sent by `patrolctl --token-file`. Unset: known by its TLS client certificate
    /// only (common name or DNS name equal to `name`, under mutual TLS).
    pub token_file: Option<PathBuf>,
    /// A desk or team account several people use: writes must say who acts (`--by`), and the
    /// journal records `PERSON via NAME`. Default false: the journal records `name`.
    #[serde(default)]
    pub shared: bool,
}

/// An operator identity as checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    pub shared: bool,
}

/// The checked `[auth]` (or its absence) the collector runs on.
#[derive(Clone)]
pub struct Auth {
    /// `[auth]` is present. Absent: callers on loopback may do everything as a shared
    /// identity (the behaviour before identities existed), others nothing but the agent
    /// stream.
    pub configured: bool,
    pub anonymous: Option<Role>,
    pub operator_socket: Option<PathBuf>,
    pub socket_role: Role,
    /// Operator tokens → identity.
    pub operators: Vec<(String, Operator)>,
    /// Operators known by certificate: name → identity.
    pub operator_names: BTreeMap<String, Operator>,
    /// Agent id → its token (`None`: certificate only).
    pub agents: BTreeMap<String, Option<String>>,
    /// The single `token_file` of earlier versions: a shared agent credential, any agent id.
    pub shared_agent_token: Option<String>,
}

/// Tokens never reach a log or an error message.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("configured", &self.configured)
            .field("anonymous", &self.anonymous)
            .field("operator_socket", &self.operator_socket)
            .field("operators", &self.operator_names.keys().collect::<Vec<_>>())
            .field("agents", &self.agents.keys().collect::<Vec<_>>())
            .field("shared_agent_token", &self.shared_agent_token.is_some())
            .finish()
    }
}

impl Default for Auth {
    /// No `[auth]`: the behaviour before identities existed (see [`Auth::configured`]).
    fn default() -> Self {
        Auth {
            configured: false,
            anonymous: None,
            operator_socket: None,
            socket_role: Role::Admin,
            operators: Vec::new(),
            operator_names: BTreeMap::new(),
            agents: BTreeMap::new(),
            shared_agent_token: None,
        }
    }
}

/// A token from `file` for config key `key`, long enough.
fn token(key: &str, file: &std::path::Path) -> Result<String, String> {
    let token = patrol_proto::secret::read_first_line(key, file)?;
    if token.chars().count() < MIN_TOKEN_LEN {
        return Err(format!(
            "{key} {}: the token is {} characters; use at least {MIN_TOKEN_LEN} \
             (e.g. `openssl rand -hex 32 > {0}`)",
            file.display(),
            token.chars().count()
        ));
    }
    Ok(token)
}

/// A name or id: not empty, no spaces or control characters (it is a journal actor).
fn check_name(key: &str, name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 256
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{key} '{name}': give a name of 1 to 256 characters without spaces"
        ));
    }
    Ok(())
}

impl AuthSection {
    /// Reads the token files and checks the section; every problem at once, one per line.
    pub fn settle(self, shared_agent_token: Option<String>) -> Result<Auth, Vec<String>> {
        let mut errors = Vec::new();
        let mut tokens: HashSet<String> = shared_agent_token.iter().cloned().collect();
        let mut auth = Auth {
            configured: true,
            anonymous: self.anonymous.role(),
            operator_socket: self.operator_socket,
            socket_role: self.socket_role.unwrap_or(Role::Admin),
            shared_agent_token,
            ..Auth::default()
        };
        let mut names = HashSet::new();
        for (i, a) in self.agents.into_iter().enumerate() {
            let key = format!("auth.agent[{i}]");
            if let Err(e) = check_name(&format!("{key}.id"), &a.id) {
                errors.push(e);
                continue;
            }
            if auth.agents.contains_key(&a.id) {
                errors.push(format!("{key}.id '{}' is listed twice", a.id));
                continue;
            }
            let t = match &a.token_file {
                Some(file) => match token(&format!("{key}.token_file"), file) {
                    Ok(t) if !tokens.insert(t.clone()) => {
                        errors.push(format!(
                            "{key}.token_file {}: the same token as another identity; give each its own",
                            file.display()
                        ));
                        continue;
                    }
                    Ok(t) => Some(t),
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
                None => None,
            };
            auth.agents.insert(a.id, t);
        }
        for (i, o) in self.operators.into_iter().enumerate() {
            let key = format!("auth.operator[{i}]");
            if let Err(e) = check_name(&format!("{key}.name"), &o.name) {
                errors.push(e);
                continue;
            }
            if !names.insert(o.name.clone()) {
                errors.push(format!("{key}.name '{}' is listed twice", o.name));
                continue;
            }
            let identity = Operator {
                name: o.name.clone(),
                role: o.role,
                shared: o.shared,
            };
            if let Some(file) = &o.token_file {
                match token(&format!("{key}.token_file"), file) {
                    Ok(t) if !tokens.insert(t.clone()) => errors.push(format!(
                        "{key}.token_file {}: the same token as another identity; give each its own",
                        file.display()
                    )),
                    Ok(t) => auth.operators.push((t, identity.clone())),
                    Err(e) => errors.push(e),
                }
            }
            auth.operator_names.insert(o.name, identity);
        }
        if errors.is_empty() {
            Ok(auth)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn token_file(dir: &std::path::Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn section(toml_text: &str) -> AuthSection {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn agents_and_operators_with_their_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let web = token_file(dir.path(), "web", "0123456789abcdef-web\n", 0o600);
        let ann = token_file(dir.path(), "ann", "0123456789abcdef-ann\n", 0o640);
        let auth = section(&format!(
            "anonymous = \"viewer\"\n\
             [[agent]]\nid = \"web-01\"\ntoken_file = \"{}\"\n\
             [[agent]]\nid = \"db-01\"\n\
             [[operator]]\nname = \"ann\"\nrole = \"operator\"\ntoken_file = \"{}\"\n\
             [[operator]]\nname = \"noc-desk\"\nrole = \"viewer\"\nshared = true\n",
            web.display(),
            ann.display()
        ))
        .settle(None)
        .unwrap();
        assert!(auth.configured);
        assert_eq!(auth.anonymous, Some(Role::Viewer));
        assert_eq!(auth.socket_role, Role::Admin);
        assert_eq!(
            auth.agents.get("web-01").unwrap().as_deref(),
            Some("0123456789abcdef-web")
        );
        assert_eq!(auth.agents.get("db-01"), Some(&None));
        assert_eq!(auth.operators.len(), 1);
        assert_eq!(auth.operators[0].1.name, "ann");
        assert!(auth.operator_names["noc-desk"].shared);
        let shown = format!("{auth:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let open = token_file(dir.path(), "open", "0123456789abcdef-open\n", 0o644);
        let short = token_file(dir.path(), "short", "abc\n", 0o600);
        let one = token_file(dir.path(), "one", "0123456789abcdef-one\n", 0o600);
        let same = token_file(dir.path(), "same", "0123456789abcdef-one\n", 0o600);
        let errors = section(&format!(
            "[[agent]]\nid = \"a\"\ntoken_file = \"{}\"\n\
             [[agent]]\nid = \"a b\"\n\
             [[agent]]\nid = \"c\"\ntoken_file = \"{}\"\n\
             [[operator]]\nname = \"ann\"\nrole = \"admin\"\ntoken_file = \"{}\"\n\
             [[operator]]\nname = \"bob\"\nrole = \"admin\"\ntoken_file = \"{}\"\n\
             [[operator]]\nname = \"ann\"\nrole = \"viewer\"\n",
            open.display(),
            short.display(),
            one.display(),
            same.display()
        ))
        .settle(None)
        .unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].starts_with(&format!(
            "auth.agent[0].token_file {} is readable by others (mode 644): run `chmod 600",
            open.display()
        )));
        assert_eq!(
            errors[1],
            "auth.agent[1].id 'a b': give a name of 1 to 256 characters without spaces"
        );
        assert!(errors[2].contains("the token is 3 characters; use at least 16"));
        assert!(errors[3].ends_with("the same token as another identity; give each its own"));
        assert_eq!(errors[4], "auth.operator[2].name 'ann' is listed twice");
    }

    #[test]
    fn unknown_keys_and_roles_are_refused() {
        assert!(toml::from_str::<AuthSection>("anonymus = \"viewer\"\n").is_err());
        assert!(
            toml::from_str::<AuthSection>("[[operator]]\nname = \"a\"\nrole = \"root\"\n").is_err()
        );
    }
}
