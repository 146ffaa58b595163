//! Secrets the site file names (`*_file`, `*_env`), read when a channel starts rather than
//! when the site file is checked: a site file can be checked on a machine without the
//! secrets, and a missing secret stops only its own channel, with an error naming it. A secret
//! file other users can read is refused like a missing one (`patrol_proto::secret`, the check
//! every binary applies).

use patrol_site::notify::config::SecretSource;

/// A secret read from a file or an environment variable; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret with this value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reading the secret a [`SecretSource`] names.
pub trait ReadSecret {
    /// Reads the secret; the error is a plain sentence naming the file or variable.
    fn read(&self) -> Result<Secret, String>;
}

impl ReadSecret for SecretSource {
    fn read(&self) -> Result<Secret, String> {
        match self {
            SecretSource::File(path) => match std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))
                .and_then(|text| {
                    patrol_proto::secret::check_private("secret file", path).map(|()| text)
                }) {
                // Files written with `echo` end in a newline that is not part of the secret.
                Ok(text) if !text.trim().is_empty() => {
                    Ok(Secret(text.trim_end_matches(['\n', '\r']).to_owned()))
                }
                Ok(_) => Err(format!("secret file {} is empty", path.display())),
                Err(e) => Err(e),
            },
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(format!("environment variable {var} is not set or empty")),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_read_from_files_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let secret = SecretSource::File(path.clone()).read().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        std::fs::write(&path, "\n").unwrap();
        assert!(
            SecretSource::File(path.clone())
                .read()
                .unwrap_err()
                .contains("is empty")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, "s3cret\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let open = SecretSource::File(path.clone()).read().unwrap_err();
            assert_eq!(
                open,
                format!(
                    "secret file {0} is readable by others (mode 644): run `chmod 600 {0}` \
                     (or 640 with the service's group)",
                    path.display()
                )
            );
        }
        let missing = SecretSource::Env("PATROL_TEST_SURELY_UNSET_VAR".into()).read();
        assert_eq!(
            missing.unwrap_err(),
            "environment variable PATROL_TEST_SURELY_UNSET_VAR is not set or empty"
        );
    }
}
