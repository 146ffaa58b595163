//! Compiles `proto/patrol/v1/*.proto` with `protox` (pure Rust), so building needs no system
//! `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(
        ["patrol/v1/patrol.proto", "patrol/v1/reports.proto"],
        ["proto"],
    )?;
    tonic_prost_build::configure()
        // Maps (facts) as BTreeMap: sorted keys print and compare the same every time.
        .btree_map(".")
        .compile_fds(fds)?;
    // compile_fds only sees a descriptor set, so cargo must be told which files matter.
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
