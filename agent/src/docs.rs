//! Man pages and shell completions generated from a binary's clap definition, so what the
//! `.deb` ships cannot drift from the flags the binary takes. Run by the hidden
//! `--generate-docs DIR` flag of `patrol-agent` and `patrol-collector` (patrolctl has its own
//! copy: it links no agent code) from `packaging/build-debs.sh`.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Writes `NAME.1` (and `NAME-SUB.1` per subcommand), `NAME.bash`, `_NAME` (zsh) and
/// `NAME.fish` into `dir`; returns the files written.
pub fn write(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let name = cmd.get_name().to_owned();
    let mut written = Vec::new();
    // One page per visible command and subcommand (NAME-SUB.1), no pages for `help`.
    clap_mangen::generate_to(cmd.clone(), dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "1") {
            written.push(path);
        }
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = cmd.clone();
        written.push(clap_complete::generate_to(shell, &mut cmd, &name, dir)?);
    }
    written.sort();
    Ok(written)
}
