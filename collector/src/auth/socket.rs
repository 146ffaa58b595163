//! The operator socket: a Unix socket served beside the gRPC port, guarded by its file
//! permissions (0660: its owner and group) instead of a token, for `patrolctl --collector
//! unix://PATH` on the collector's own host.

use std::path::Path;

use tokio::net::UnixListener;

/// Binds `path` (a socket left by an earlier run is replaced; any other file there is an
/// error) and makes it 0660.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_socket_is_for_owner_and_group_and_replaces_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let first = bind(&path).unwrap();
        drop(first);
        // The file stays after the listener is gone, as after a crash.
        assert!(path.exists());
        let _again = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert!(bind(&plain).is_err());
        assert!(plain.exists(), "a regular file is never removed");
    }
}
