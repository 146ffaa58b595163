//! Tests of the sheet archive: once per (schedule, time), append-only, signed once, what is owed.

#![allow(clippy::unwrap_used)]
use super::*;
use patrol_report::Language;
use patrol_report::sheet::{SignOff as SheetSignOff, Summary};

fn sheet(schedule: &str, at_ms: i64) -> Sheet {
    Sheet {
        title: "HQ".into(),
        schedule: schedule.into(),
        language: Language::En,
        time_zone: "UTC".into(),
        at_ms,
        previous_ms: at_ms - 3_600_000,
        no_data: true,
        summary: Summary::default(),
        groups: Vec::new(),
        other_incidents: Vec::new(),
        sign_off: SheetSignOff::default(),
    }
}

fn new<'a>(s: &'a Sheet, send: &'a [String]) -> NewSheet<'a> {
    NewSheet {
        sheet: s,
        local_date: "2026-10-09".into(),
        created_ms: s.at_ms + 5,
        caught_up: false,
        send,
    }
}

#[test]
fn a_sheet_is_stored_once_per_schedule_and_time_and_never_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reports.db");
    let a = Archive::open(&path).unwrap();
    let s = sheet("daily", 1_000_000);
    let Stored::New(id) = a.insert(&new(&s, &[])).unwrap() else {
        panic!("first insert stores")
    };
    assert_eq!(a.insert(&new(&s, &[])).unwrap(), Stored::Exists(id));
    assert!(matches!(
        a.insert(&new(&sheet("other", 1_000_000), &[])).unwrap(),
        Stored::New(_)
    ));
    // Append-only, whoever asks.
    let c = Connection::open(&path).unwrap();
    let e = c
        .execute(
            "UPDATE sheets SET sheet_json = '{}' WHERE id = ?1",
            params![id as i64],
        )
        .unwrap_err();
    assert!(e.to_string().contains("kept as made"), "{e}");
    assert!(c.execute("DELETE FROM sheets", []).is_err());
    // Reopened: the same sheet reads back.
    drop(a);
    let a = Archive::open(&path).unwrap();
    let row = a.row(id).unwrap().unwrap();
    assert_eq!(a.sheet(&row).unwrap(), s);
    assert_eq!(a.last_made("daily").unwrap(), Some(1_000_000));
    // Same date and time: the newer row is the date's latest.
    assert_eq!(
        a.row_of_date("2026-10-09").unwrap().map(|r| r.schedule),
        Some("other".to_owned())
    );
    assert_eq!(a.row_of_date("2026-10-10").unwrap(), None);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_sheet_is_signed_once_and_reads_back_signed() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(&dir.path().join("reports.db")).unwrap();
    let s = sheet("daily", 2_000_000);
    let Stored::New(id) = a.insert(&new(&s, &[])).unwrap() else {
        panic!()
    };
    assert_eq!(a.sign(99, "Li Na", None, 5).unwrap(), Signing::NotFound);
    let Signing::Signed(row) = a.sign(id, "Li Na", Some("checked"), 2_100_000).unwrap() else {
        panic!("signs")
    };
    assert_eq!(row.signed.as_ref().map(|s| s.by.as_str()), Some("Li Na"));
    assert_eq!(
        a.sign(id, "Wang Wei", None, 2_200_000).unwrap(),
        Signing::Already(SignOff {
            by: "Li Na".into(),
            at_ms: 2_100_000,
            note: Some("checked".into())
        })
    );
    let read = a.sheet(&a.row(id).unwrap().unwrap()).unwrap();
    assert_eq!(read.sign_off.reviewer.as_deref(), Some("Li Na"));
    assert_eq!(read.sign_off.note.as_deref(), Some("checked"));
    assert_eq!(a.journal(id).unwrap().len(), 1);
}

#[test]
fn deliveries_are_owed_until_sent_or_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(&dir.path().join("reports.db")).unwrap();
    let s = sheet("daily", 3_000_000);
    let send = vec!["mail".to_owned(), "ops-mail".to_owned()];
    let Stored::New(id) = a.insert(&new(&s, &send)).unwrap() else {
        panic!()
    };
    assert_eq!(a.owed(0).unwrap().len(), 2);
    assert!(
        a.owed(3_000_001).unwrap().is_empty(),
        "older sheets are not owed"
    );
    a.record_delivery(id, "mail", true, 1, None, 3_000_100)
        .unwrap();
    let owed = a.owed(0).unwrap();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].channel, "ops-mail");
    a.record_delivery(id, "ops-mail", false, 3, Some("550"), 3_000_200)
        .unwrap();
    assert!(a.owed(0).unwrap().is_empty());
}
