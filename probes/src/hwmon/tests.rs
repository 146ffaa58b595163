use std::path::Path;

use super::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hwmon/machine")
}

async fn collect(config: HwmonConfig) -> Vec<Sample> {
    let mut probe = HwmonProbe::new(config).expect("probe");
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: 7 }, &mut out)
        .await
        .expect("collect");
    out
}

fn value(out: &[Sample], name: &str, label: &str, v: &str) -> Option<f64> {
    out.iter()
        .find(|s| s.name == name && s.labels.get(label) == Some(v))
        .map(|s| s.value)
}

#[tokio::test]
async fn temperatures_and_their_limit_states_follow_the_sensor() {
    let out = collect(HwmonConfig {
        root: fixture(),
        ..HwmonConfig::default()
    })
    .await;
    let t = |name: &str, sensor: &str| value(&out, name, "sensor", sensor);
    assert_eq!(
        t("hw_temperature_celsius", "coretemp/Package id 0"),
        Some(45.0)
    );
    assert_eq!(
        t("hw_temperature_max_celsius", "coretemp/Package id 0"),
        Some(80.0)
    );
    assert_eq!(
        t("hw_temperature_crit_celsius", "coretemp/Package id 0"),
        Some(100.0)
    );
    assert_eq!(t("hw_temperature_high", "coretemp/Package id 0"), Some(0.0));
    assert_eq!(
        t("hw_temperature_critical", "coretemp/Package id 0"),
        Some(0.0)
    );
    // At or above crit: critical, and high too.
    assert_eq!(t("hw_temperature_critical", "coretemp/Core 0"), Some(1.0));
    assert_eq!(t("hw_temperature_high", "coretemp/Core 0"), Some(1.0));
    assert_eq!(t("hw_temperature_high", "coretemp/Core 1"), Some(1.0));
    assert_eq!(t("hw_temperature_critical", "coretemp/Core 1"), Some(0.0));
    // No limits: the reading only, no 0/1 states that would claim a limit was checked.
    assert_eq!(t("hw_temperature_celsius", "nct6775/SYSTIN"), Some(38.0));
    assert_eq!(t("hw_temperature_high", "nct6775/SYSTIN"), None);
    assert_eq!(t("hw_temperature_critical", "nct6775/SYSTIN"), None);
    // Two nvme chips told apart by their device; a 0 max means unknown.
    assert_eq!(
        t("hw_temperature_celsius", "nvme@nvme0/Composite"),
        Some(39.85)
    );
    assert_eq!(
        t("hw_temperature_celsius", "nvme@nvme1/Composite"),
        Some(70.85)
    );
    assert_eq!(
        t("hw_temperature_max_celsius", "nvme@nvme1/Composite"),
        None
    );
    assert_eq!(t("hw_temperature_high", "nvme@nvme1/Composite"), None);
    assert_eq!(
        t("hw_temperature_critical", "nvme@nvme1/Composite"),
        Some(0.0)
    );
    // Attributes under device/: the kernel's crit alarm alone makes it critical.
    assert_eq!(t("hw_temperature_celsius", "it87/temp1"), Some(52.0));
    assert_eq!(t("hw_temperature_critical", "it87/temp1"), Some(1.0));
}

#[tokio::test]
async fn fans_are_ok_only_turning_above_their_minimum_without_alarm() {
    let out = collect(HwmonConfig {
        root: fixture(),
        ..HwmonConfig::default()
    })
    .await;
    let f = |name: &str, fan: &str| value(&out, name, "fan", fan);
    assert_eq!(f("hw_fan_rpm", "nct6775/fan1"), Some(1200.0));
    assert_eq!(f("hw_fan_min_rpm", "nct6775/fan1"), Some(300.0));
    assert_eq!(f("hw_fan_ok", "nct6775/fan1"), Some(1.0));
    assert_eq!(f("hw_fan_ok", "nct6775/fan2"), Some(0.0), "stopped");
    assert_eq!(f("hw_fan_ok", "nct6775/fan3"), Some(0.0), "below min");
    assert_eq!(f("hw_fan_ok", "nct6775/fan4"), Some(0.0), "alarm");
    assert_eq!(f("hw_fan_min_rpm", "nct6775/fan4"), None, "min 0 = not set");
    assert_eq!(f("hw_fan_ok", "it87/fan1"), Some(0.0), "stopped, no min");
    // The garbage temp7_input is counted, not reported.
    assert_eq!(value(&out, "hw_sensors_unreadable", "", ""), None);
    let unreadable = out.iter().find(|s| s.name == "hw_sensors_unreadable");
    assert_eq!(unreadable.map(|s| s.value), Some(1.0));
    assert!(value(&out, "hw_temperature_celsius", "sensor", "nct6775/temp7").is_none());
}

#[tokio::test]
async fn excluded_sensors_are_not_reported() {
    let out = collect(HwmonConfig {
        root: fixture(),
        exclude: vec!["nct6775/*".into(), "it87/fan1".into()],
        ..HwmonConfig::default()
    })
    .await;
    assert!(!out.iter().any(|s| {
        s.labels
            .iter()
            .any(|(_, v)| v.starts_with("nct6775/") || v == "it87/fan1")
    }));
    assert!(value(&out, "hw_temperature_celsius", "sensor", "it87/temp1").is_some());
}

#[tokio::test]
async fn a_missing_root_fails_the_round_with_a_clear_message() {
    let mut probe = HwmonProbe::new(HwmonConfig {
        root: "/nonexistent/hwmon".into(),
        ..HwmonConfig::default()
    })
    .expect("probe");
    let err = probe
        .collect(CollectContext { now_ms: 0 }, &mut Vec::new())
        .await
        .expect_err("no root");
    assert!(err.to_string().contains("/nonexistent/hwmon"), "{err}");
}

/// The machine's own sensors, when it has any: every reading must be a plausible number.
#[tokio::test]
async fn reads_this_machines_sensors_when_present() {
    let root = Path::new("/sys/class/hwmon");
    if !root.is_dir() {
        // Not a skip: the fixture tests above cover the parsing; this machine (a VM) has no
        // hwmon class at all, which the probe reports as an error, checked here.
        let mut probe = HwmonProbe::new(HwmonConfig::default()).expect("probe");
        let err = probe
            .collect(CollectContext { now_ms: 0 }, &mut Vec::new())
            .await
            .expect_err("no hwmon on this machine");
        assert!(err.to_string().contains("/sys/class/hwmon"), "{err}");
        return;
    }
    let out = collect(HwmonConfig::default()).await;
    for s in out.iter().filter(|s| s.name == "hw_temperature_celsius") {
        assert!((-60.0..=200.0).contains(&s.value), "{s:?}");
    }
}

#[test]
fn sample_toml_parses_to_the_defaults() {
    let config = crate::sample_out::sample_config!(Hwmon, include_str!("sample.toml"));
    assert_eq!(config, HwmonConfig::default());
}

#[test]
fn bad_excludes_are_reported() {
    let config = HwmonConfig {
        exclude: vec!["a*b".into(), String::new(), "ok*".into()],
        ..HwmonConfig::default()
    };
    let Err(ProbeError::Config(m)) = config.validate() else {
        panic!("expected an error")
    };
    assert!(m.contains("exclude[0]") && m.contains("exclude[1]"), "{m}");
    assert!(!m.contains("exclude[2]"), "{m}");
}
