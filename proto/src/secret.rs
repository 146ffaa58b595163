//! Secret files — tokens, passwords, private keys — checked and read the same way by every
//! binary: the agent's `token_file`, the collector's `token_file` and `[auth]` token files,
//! the channels' `*_file` secrets, patrolctl's `--token-file`, and every TLS private key.
//!
//! A secret file other users can read or change is refused, naming the file and the `chmod`
//! that fixes it: a secret others can read is no longer a secret, and accepting it in one
//! binary while refusing it in another teaches operators that the check does not matter. The
//! group may read it, so the packaged layout (owner root, group patrol, mode 0640) works for
//! the services running as `patrol`.

use std::path::Path;

/// Refuses `path` when users other than its owner and group may read, write or run it. `key` names what the file is
/// (`token_file`, `tls.key_file`, `--token-file`, ...) and starts the message:
/// ``token_file /etc/patrol/token is readable by others (mode 644): run `chmod 600 /etc/patrol/token` ``.
pub fn check_private(key: &str, path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{key} {shown}: cannot read: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            let how = if mode & 0o004 != 0 {
                "readable"
            } else {
                "writable"
            };
            return Err(format!(
                "{key} {shown} is {how} by others (mode {mode:03o}): run `chmod 600 {shown}` \
                 (or 640 with the service's group)"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// Reads a secret file: checked with [`check_private`], then its first line, trimmed. An
/// empty first line is an error, since an empty secret would match an empty credential.
pub fn read_first_line(key: &str, path: &Path) -> Result<String, String> {
    check_private(key, path)?;
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{key} {shown}: cannot read: {e}"))?;
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(format!("{key} {shown} is empty"));
    }
    Ok(first.to_owned())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let p = dir.join("secret");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_file_only_its_owner_reads_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(dir.path(), "s3cret\nignored\n", 0o600);
        assert_eq!(read_first_line("token_file", &p).unwrap(), "s3cret");
        for mode in [0o400, 0o640] {
            let p = file(dir.path(), "s3cret", mode);
            assert!(check_private("token_file", &p).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn open_to_others_is_refused_with_the_chmod_that_fixes_it() {
        let dir = tempfile::tempdir().unwrap();
        for (mode, how) in [
            (0o644, "readable"),
            (0o604, "readable"),
            (0o602, "writable"),
        ] {
            let p = file(dir.path(), "s3cret", mode);
            let err = read_first_line("token_file", &p).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "token_file {0} is {how} by others (mode {mode:03o}): run `chmod 600 {0}` \
                     (or 640 with the service's group)",
                    p.display()
                )
            );
            assert!(!err.contains("s3cret"));
        }
    }

    #[test]
    fn empty_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(dir.path(), "\n", 0o600);
        assert_eq!(
            read_first_line("k", &p).unwrap_err(),
            format!("k {} is empty", p.display())
        );
        let missing = dir.path().join("nope");
        assert!(
            read_first_line("k", &missing)
                .unwrap_err()
                .starts_with(&format!("k {}: cannot read:", missing.display()))
        );
    }
}
