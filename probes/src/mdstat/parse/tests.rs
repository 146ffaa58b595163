use super::*;

fn array<'a>(arrays: &'a [Array], name: &str) -> &'a Array {
    arrays
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {arrays:#?}"))
}

#[test]
fn clean_mirror_is_not_degraded() {
    let (arrays, errors) = parse(include_str!("../testdata/raid1_clean.txt"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        arrays,
        vec![Array {
            name: "md0".into(),
            active: true,
            level: Some("raid1".into()),
            members: Some((2, 2)),
            map: Some("UU".into()),
            failed: 0,
            sync: None,
        }]
    );
    assert!(!arrays[0].degraded());
}

#[test]
fn mirror_with_a_failed_member_is_degraded() {
    let (arrays, errors) = parse(include_str!("../testdata/raid1_degraded.txt"));
    assert!(errors.is_empty(), "{errors:?}");
    let md1 = array(&arrays, "md1");
    assert_eq!(md1.members, Some((2, 1)));
    assert_eq!(md1.failed, 1);
    assert!(md1.degraded());
}

#[test]
fn old_kernels_counting_two_of_two_with_a_hole_are_degraded() {
    let (arrays, errors) = parse(include_str!("../testdata/raid1_failed_old_counts.txt"));
    assert!(errors.is_empty(), "{errors:?}");
    let md3 = array(&arrays, "md3");
    assert_eq!(md3.members, Some((2, 2)));
    assert!(md3.degraded(), "the map [U_] says so");
    let md1 = array(&arrays, "md1");
    assert_eq!(md1.sync, Some(("recovery".into(), 8.1)));
    assert!(md1.degraded());
}

#[test]
fn raid5_recovery_resync_check_raid0_and_inactive() {
    let (arrays, errors) = parse(include_str!("../testdata/mixed.txt"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(arrays.len(), 7);
    let md2 = array(&arrays, "md2");
    assert_eq!(md2.level.as_deref(), Some("raid5"));
    assert_eq!(md2.members, Some((4, 3)));
    assert_eq!(md2.sync, Some(("recovery".into(), 21.6)));
    assert!(md2.degraded());
    let md4 = array(&arrays, "md4");
    assert_eq!(md4.sync, Some(("resync".into(), 47.3)));
    assert!(
        !md4.degraded(),
        "an initial resync of a complete array is not degraded"
    );
    assert_eq!(array(&arrays, "md5").sync, Some(("check".into(), 17.0)));
    let md6 = array(&arrays, "md6");
    assert_eq!(md6.sync, None, "DELAYED has no progress yet");
    assert!(!md6.degraded());
    let md3 = array(&arrays, "md3");
    assert_eq!(md3.level.as_deref(), Some("raid0"));
    assert_eq!(md3.members, None, "raid0 has no redundancy to lose");
    assert!(!md3.degraded());
    let md7 = array(&arrays, "md7");
    assert_eq!(
        md7.level.as_deref(),
        Some("raid1"),
        "(auto-read-only) skipped"
    );
    let md127 = array(&arrays, "md127");
    assert!(!md127.active);
    assert!(md127.degraded(), "an inactive array serves nothing");
}

#[test]
fn broken_blocks_are_reported_and_the_rest_still_read() {
    let (arrays, errors) = parse(include_str!("../testdata/hostile.txt"));
    assert_eq!(
        arrays.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["md4"]
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    for (e, name) in errors.iter().zip(["md0", "md1", "md2", "md3"]) {
        assert!(e.starts_with(&format!("{name}: ")), "{e}");
    }
}

#[test]
fn no_input_is_too_strange_to_handle() {
    for text in [
        "",
        "md0 : ",
        "md0 : active",
        "md : active raid1\n [",
        "\u{0}\u{ffff}",
    ] {
        let _ = parse(text);
    }
    let many: String = (0..2000)
        .map(|i| format!("md{i} : active raid1 a[0]\n  1 blocks [1/1] [U]\n"))
        .collect();
    let (arrays, errors) = parse(&many);
    assert_eq!(arrays.len(), MAX_ARRAYS);
    assert_eq!(errors.len(), 1);
}
