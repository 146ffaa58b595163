//! Where the database password comes from: a file only its owner (and group) can read, or an
//! environment variable. Never the config file itself.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Longest password file read; Oracle passwords are at most 1024 bytes.
const MAX_PASSWORD_FILE: u64 = 4096;

/// A checked password source. Read at every connect, so a rotated password is picked up.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    File(PathBuf),
    Env(String),
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "password_file {}", p.display()),
            Self::Env(v) => write!(f, "password_env {v}"),
        }
    }
}

impl PasswordSource {
    /// Reads the password: the first line of the file (without its line end), or the
    /// variable's value. Refuses a file that others may read or write, as ssh does with keys.
    pub fn read(&self) -> Result<String, String> {
        let password = match self {
            Self::File(path) => {
                let shown = path.display();
                let file =
                    std::fs::File::open(path).map_err(|e| format!("password_file {shown}: {e}"))?;
                let meta = file
                    .metadata()
                    .map_err(|e| format!("password_file {shown}: {e}"))?;
                if !meta.is_file() {
                    return Err(format!("password_file {shown}: not a regular file"));
                }
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o007 != 0 {
                    return Err(format!(
                        "password_file {shown} is accessible to other users (mode {mode:03o}): \
                         run `chmod 600 {shown}` (or 640 with the agent's group)"
                    ));
                }
                let mut text = String::new();
                file.take(MAX_PASSWORD_FILE)
                    .read_to_string(&mut text)
                    .map_err(|e| format!("password_file {shown}: {e}"))?;
                text.lines().next().unwrap_or_default().to_owned()
            }
            Self::Env(var) => std::env::var(var).map_err(|e| {
                format!("password_env {var}: {e} (set it in the agent's environment, e.g. the systemd unit's EnvironmentFile)")
            })?,
        };
        if password.is_empty() {
            return Err(format!("{self:?}: the password is empty"));
        }
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(mode: u32, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ora.pw");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        (dir, path)
    }

    #[test]
    fn private_file_gives_its_first_line() {
        let (_d, path) = file_with(0o600, "s3cr3t pass\nignored\n");
        assert_eq!(PasswordSource::File(path).read(), Ok("s3cr3t pass".into()));
        let (_d, path) = file_with(0o640, "crlf\r\n");
        assert_eq!(PasswordSource::File(path).read(), Ok("crlf".into()));
    }

    #[test]
    fn world_readable_file_is_refused_with_the_fix() {
        let (_d, path) = file_with(0o644, "s3cr3t\n");
        let err = PasswordSource::File(path.clone())
            .read()
            .expect_err("644 must be refused");
        assert!(err.contains("mode 644"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "the password must not leak: {err}");
    }

    #[test]
    fn missing_empty_and_unset_sources_are_errors() {
        let missing = PasswordSource::File("/nonexistent/ora.pw".into()).read();
        assert!(missing.is_err_and(|e| e.contains("/nonexistent/ora.pw")));
        let (_d, path) = file_with(0o600, "\n");
        assert!(
            PasswordSource::File(path)
                .read()
                .is_err_and(|e| e.contains("empty"))
        );
        let unset = PasswordSource::Env("PATROL_TEST_SURELY_UNSET_VAR".into()).read();
        assert!(unset.is_err_and(|e| e.contains("PATROL_TEST_SURELY_UNSET_VAR")));
    }

    #[test]
    fn environment_variable_is_read() {
        // PATH is set in every test environment; no need to mutate the process environment.
        let path = std::env::var("PATH").expect("PATH");
        assert_eq!(PasswordSource::Env("PATH".into()).read(), Ok(path));
    }
}
