//! An in-process collector for tests that drive it through its library API.

use std::path::Path;

use patrol_collector::config::Settings;
use patrol_collector::server::{self, Running};

/// Starts a collector on free loopback ports with its data and rules directories under `dir`
/// (the rules directory is created, empty unless the test filled it); `adjust` changes any
/// other setting.
pub async fn collector(dir: &Path, adjust: impl FnOnce(&mut Settings)) -> Running {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http: "127.0.0.1:0".parse().expect("addr"),
        rules,
        data: dir.join("data"),
        ..Settings::default()
    };
    adjust(&mut settings);
    server::start(settings).await.expect("collector starts")
}
