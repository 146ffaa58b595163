//! Runs the host probe on the machine running the tests and checks its figures against what
//! the test reads itself from `/proc` and from the real `df`, the tools operators compare with.

use std::process::Command;

use patrol_probes::{CollectContext, ProbeConfig};
use patrol_proto::Sample;

fn find<'a>(samples: &'a [Sample], name: &str, label: Option<(&str, &str)>) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && match label {
                None => s.labels.is_empty(),
                Some((k, v)) => s.labels.get(k) == Some(v),
            }
    })
}

fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    find(samples, name, label)
        .unwrap_or_else(|| panic!("{name} {label:?} not emitted; got {samples:#?}"))
        .value
}

/// (MemTotal − MemAvailable) ÷ MemTotal × 100 from /proc/meminfo.
fn meminfo_used_percent() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let field = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/meminfo"))
    };
    let total = field("MemTotal:");
    (total - field("MemAvailable:")) / total * 100.0
}

/// Use% of `/` as df computes it before rounding, from `df -P /` (1024-byte blocks).
fn df_root_used_percent() -> f64 {
    let out = Command::new("df")
        .args(["-P", "/"])
        .output()
        .expect("run df");
    assert!(out.status.success(), "df failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("df prints UTF-8");
    let line = text.lines().nth(1).expect("df data line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let used: f64 = fields[2].parse().expect("df Used");
    let available: f64 = fields[3].parse().expect("df Available");
    used / (used + available) * 100.0
}

fn proc_uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").expect("read /proc/uptime");
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("uptime figure")
}

#[tokio::test]
async fn host_probe_agrees_with_proc_and_df() {
    let config: ProbeConfig = toml::from_str("type = \"host\"").expect("config");
    let mut probe = config
        .build(&patrol_probes::BuildContext::new(std::env::temp_dir()))
        .expect("build host probe");
    let ctx = CollectContext {
        now_ms: 1_700_000_000_000,
    };

    // The first collect is what `--once` runs: it must already be complete.
    for round in 0..2 {
        let mut samples = Vec::new();
        let mem_before = meminfo_used_percent();
        probe.collect(ctx, &mut samples).await.expect("collect");
        let mem_after = meminfo_used_percent();
        assert!(samples.iter().all(|s| s.timestamp_ms == ctx.now_ms));
        assert!(samples.iter().all(|s| s.value.is_finite()));
        assert!(
            samples.iter().all(|s| s.labels.get("host").is_none()),
            "the agent adds host, not the probe"
        );

        let cpu = value(&samples, "cpu_usage_percent", None);
        assert!((0.0..=100.0).contains(&cpu), "round {round}: cpu {cpu}");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_core: Vec<f64> = samples
            .iter()
            .filter(|s| s.name == "cpu_core_usage_percent")
            .map(|s| s.value)
            .collect();
        assert!(per_core.len() >= cores, "{} cores reported", per_core.len());
        assert!(per_core.iter().all(|v| (0.0..=100.0).contains(v)));

        // Other tests allocate while this one runs: the probe's reading must lie between
        // /proc/meminfo just before and just after it (a wrong definition, such as counting
        // the page cache as used, is off by far more).
        let mem = value(&samples, "memory_used_percent", None);
        let (low, high) = (mem_before.min(mem_after), mem_before.max(mem_after));
        assert!(
            (low - 0.1..=high + 0.1).contains(&mem),
            "memory_used_percent {mem} vs /proc/meminfo {mem_before} before, {mem_after} after"
        );
        assert!(value(&samples, "memory_total_bytes", None) > 0.0);
        let swap = value(&samples, "swap_used_percent", None);
        assert!((0.0..=100.0).contains(&swap));
        for name in [
            "swap_total_bytes",
            "swap_used_bytes",
            "memory_available_bytes",
        ] {
            assert!(value(&samples, name, None) >= 0.0);
        }

        let root = Some(("mount", "/"));
        let disk = value(&samples, "disk_used_percent", root);
        let expected_disk = df_root_used_percent();
        assert!(
            (disk - expected_disk).abs() <= 1.0,
            "disk_used_percent{{mount=\"/\"}} {disk} vs df {expected_disk}"
        );
        let total = value(&samples, "disk_total_bytes", root);
        let used = value(&samples, "disk_used_bytes", root);
        let avail = value(&samples, "disk_available_bytes", root);
        assert!(used + avail <= total, "{used} + {avail} > {total}");
        for s in samples.iter().filter(|s| s.name.starts_with("disk_")) {
            assert_eq!(s.labels.len(), 1, "disk samples carry only mount: {s:?}");
            let mount = s.labels.get("mount").unwrap_or("");
            assert!(
                !mount.starts_with("/proc") && !mount.starts_with("/sys") && mount != "/dev/shm",
                "virtual filesystem reported by default: {s:?}"
            );
        }

        assert!(value(&samples, "processes", None) > 0.0);
        let uptime = value(&samples, "uptime_seconds", None);
        let expected_uptime = proc_uptime();
        assert!(
            (uptime - expected_uptime).abs() <= 5.0,
            "uptime {uptime} vs /proc/uptime {expected_uptime}"
        );
        for name in ["system_load1", "system_load5", "system_load15"] {
            assert!(value(&samples, name, None) >= 0.0);
        }
        for s in samples.iter().filter(|s| s.name.starts_with("net_")) {
            assert!(s.value >= 0.0, "{s:?}");
            assert_ne!(
                s.labels.get("iface"),
                Some("lo"),
                "lo is excluded by default"
            );
        }
    }
}

#[tokio::test]
async fn network_rates_reflect_traffic_on_the_first_round() {
    // Generate loopback traffic and report lo (excluded by default) to see a real rate.
    let config: ProbeConfig =
        toml::from_str("type = \"host\"\ninterfaces_exclude = []\nper_core = false")
            .expect("config");
    let mut probe = config
        .build(&patrol_probes::BuildContext::new(std::env::temp_dir()))
        .expect("build");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut conn, &mut sink).map(|_| sink.len())
    });
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    std::io::Write::write_all(&mut conn, &vec![0u8; 4 << 20]).expect("write");
    drop(conn);
    let received = reader.join().expect("reader").expect("read");
    assert_eq!(received, 4 << 20);

    let mut samples = Vec::new();
    probe
        .collect(CollectContext { now_ms: 1 }, &mut samples)
        .await
        .expect("collect");
    let rx = value(
        &samples,
        "net_receive_bytes_per_second",
        Some(("iface", "lo")),
    );
    let tx = value(
        &samples,
        "net_transmit_bytes_per_second",
        Some(("iface", "lo")),
    );
    // 4 MiB in well under 10 s: at least 400 kB/s, whatever else ran on the host.
    assert!(rx >= 400_000.0 && tx >= 400_000.0, "rx {rx} tx {tx}");
    assert!(!samples.iter().any(|s| s.name == "cpu_core_usage_percent"));
}

#[test]
fn unknown_option_is_named_in_the_error() {
    let err = toml::from_str::<ProbeConfig>("type = \"host\"\ninclude_virtual = true")
        .expect_err("unknown key must fail");
    assert!(err.to_string().contains("include_virtual"), "{err}");
}

#[test]
fn invalid_pattern_fails_the_build() {
    let config: ProbeConfig =
        toml::from_str("type = \"host\"\nexclude_mounts = [\"*tmp\"]").expect("parses");
    let err = config
        .build(&patrol_probes::BuildContext::new(std::env::temp_dir()))
        .err()
        .expect("bad pattern must fail the build");
    assert!(err.to_string().contains("exclude_mounts[0]"), "{err}");
}
