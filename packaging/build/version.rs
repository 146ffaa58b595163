// Shared by the build scripts of the three binaries (`include!`d from their build.rs): sets
// `PATROL_COMMIT` to the short commit the binary is built from, so `--version` can say it.
// `PATROL_COMMIT` in the environment wins (a build from a tarball, or CI naming the commit);
// outside a git checkout without it, "unknown". Rebuilds when HEAD moves, not on every edit.

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=PATROL_COMMIT");
    let commit = std::env::var("PATROL_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            // HEAD, the branch it points to and packed refs: whichever moves on a commit or
            // checkout. In a worktree these live in different directories; git knows where.
            for file in ["HEAD", "packed-refs"] {
                if let Some(p) = git(&["rev-parse", "--git-path", file]) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
                && let Some(p) = git(&["rev-parse", "--git-path", &branch])
            {
                println!("cargo:rerun-if-changed={p}");
            }
            git(&["rev-parse", "--short=10", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PATROL_COMMIT={commit}");
}
