//! Build script: the commit for `--version` (packaging/build/version.rs).
include!("../packaging/build/version.rs");
