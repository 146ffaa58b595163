//! Where a probe's secret (a database password, an SNMP community or key) comes from: a file
//! only its owner (and group) can read, an environment variable, or, where the probe allows
//! it, the config file itself. Shared by the Oracle and SNMP probes.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Longest secret file read; Oracle passwords are at most 1024 bytes, SNMP keys far less.
const MAX_SECRET_FILE: u64 = 4096;

/// A checked secret source, read again at every use so a rotated secret is picked up.
/// `name` is the option's base name (`password`, `auth_password`, `community`): the file and
/// variable forms are `<name>_file` and `<name>_env`, and errors quote them.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    File { name: String, path: PathBuf },
    Env { name: String, var: String },
}

/// Never prints the secret itself.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => write!(f, "<inline secret>"),
            Self::File { name, path } => write!(f, "{name}_file {}", path.display()),
            Self::Env { name, var } => write!(f, "{name}_env {var}"),
        }
    }
}

impl Secret {
    /// The one source set among `<name>` (inline), `<name>_file` and `<name>_env`; `None`
    /// when none is set (the caller knows whether that is allowed).
    pub fn choose(
        name: &str,
        inline: Option<&str>,
        file: Option<&Path>,
        env: Option<&str>,
    ) -> Result<Option<Secret>, String> {
        match (inline, file, env) {
            (None, None, None) => Ok(None),
            (Some(s), None, None) => Ok(Some(Self::Inline(s.to_owned()))),
            (None, Some(p), None) => Ok(Some(Self::File {
                name: name.to_owned(),
                path: p.to_path_buf(),
            })),
            (None, None, Some("")) => Err(format!("{name}_env: must name a variable")),
            (None, None, Some(v)) => Ok(Some(Self::Env {
                name: name.to_owned(),
                var: v.to_owned(),
            })),
            (inline, file, env) => {
                let set: Vec<String> = [
                    inline.map(|_| name.to_owned()),
                    file.map(|_| format!("{name}_file")),
                    env.map(|_| format!("{name}_env")),
                ]
                .into_iter()
                .flatten()
                .collect();
                Err(format!("{}: set only one", set.join(" and ")))
            }
        }
    }

    /// Reads the secret: the inline text, the first line of the file (without its line
    /// end), or the variable's value. Refuses a file that others may read or write, as ssh
    /// does with keys. Errors name the option and never contain the secret.
    pub fn read(&self) -> Result<String, String> {
        let secret = match self {
            Self::Inline(s) => s.clone(),
            Self::File { name, path } => read_private_file(&format!("{name}_file"), path)?,
            Self::Env { name, var } => std::env::var(var).map_err(|e| {
                format!(
                    "{name}_env {var}: {e} (set it in the agent's environment, e.g. the systemd unit's EnvironmentFile)"
                )
            })?,
        };
        if secret.is_empty() {
            return Err(format!("{self:?}: the secret is empty"));
        }
        Ok(secret)
    }
}

fn read_private_file(option: &str, path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{option} {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{option} {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{option} {shown}: not a regular file"));
    }
    // The one check every binary applies to secret files.
    patrol_proto::secret::check_private(option, path)?;
    let mut text = String::new();
    file.take(MAX_SECRET_FILE)
        .read_to_string(&mut text)
        .map_err(|e| format!("{option} {shown}: {e}"))?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_with(mode: u32, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        (dir, path)
    }

    fn file(path: PathBuf) -> Secret {
        Secret::File {
            name: "password".into(),
            path,
        }
    }

    #[test]
    fn private_file_gives_its_first_line() {
        let (_d, path) = file_with(0o600, "s3cr3t pass\nignored\n");
        assert_eq!(file(path).read(), Ok("s3cr3t pass".into()));
        let (_d, path) = file_with(0o640, "crlf\r\n");
        assert_eq!(file(path).read(), Ok("crlf".into()));
    }

    #[test]
    fn world_readable_file_is_refused_with_the_fix() {
        let (_d, path) = file_with(0o644, "s3cr3t\n");
        let err = Secret::File {
            name: "auth_password".into(),
            path: path.clone(),
        }
        .read()
        .expect_err("644 must be refused");
        assert!(err.starts_with("auth_password_file "), "{err}");
        assert!(err.contains("mode 644"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "the secret must not leak: {err}");
    }

    #[test]
    fn missing_empty_and_unset_sources_are_errors() {
        let missing = file("/nonexistent/ora.pw".into()).read();
        assert!(missing.is_err_and(|e| e.contains("/nonexistent/ora.pw")));
        let (_d, path) = file_with(0o600, "\n");
        assert!(file(path).read().is_err_and(|e| e.contains("empty")));
        let unset = Secret::Env {
            name: "password".into(),
            var: "PATROL_TEST_SURELY_UNSET_VAR".into(),
        }
        .read();
        assert!(unset.is_err_and(|e| e.contains("password_env PATROL_TEST_SURELY_UNSET_VAR")));
    }

    #[test]
    fn environment_variable_is_read() {
        // PATH is set in every test environment; no need to mutate the process environment.
        let path = std::env::var("PATH").expect("PATH");
        let env = Secret::Env {
            name: "password".into(),
            var: "PATH".into(),
        };
        assert_eq!(env.read(), Ok(path));
    }

    #[test]
    fn exactly_one_source_is_chosen() {
        let p = Path::new("/etc/x");
        assert_eq!(Secret::choose("community", None, None, None), Ok(None));
        assert_eq!(
            Secret::choose("community", Some("public"), None, None),
            Ok(Some(Secret::Inline("public".into())))
        );
        assert_eq!(
            format!("{:?}", Secret::choose("community", None, Some(p), None)),
            "Ok(Some(community_file /etc/x))"
        );
        assert_eq!(
            Secret::choose("auth_password", Some("x"), Some(p), Some("V")),
            Err("auth_password and auth_password_file and auth_password_env: set only one".into())
        );
        assert_eq!(
            Secret::choose("password", None, None, Some("")),
            Err("password_env: must name a variable".into())
        );
    }

    #[test]
    fn debug_never_shows_an_inline_secret() {
        assert_eq!(
            format!("{:?}", Secret::Inline("hunter22".into())),
            "<inline secret>"
        );
    }
}
