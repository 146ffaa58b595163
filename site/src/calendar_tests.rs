use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use proptest::prelude::*;

use super::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn w(start: &str, end: &str) -> Window {
    let m = |s: &str| {
        let (h, mi) = s.split_once(':').unwrap();
        h.parse::<u16>().unwrap() * 60 + mi.parse::<u16>().unwrap()
    };
    Window {
        start: m(start),
        end: m(end),
    }
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

/// The handbook's office calendar: Mon–Fri 08:00–12:00 and 14:00–18:00, China Standard Time.
fn office(holidays: &[&str], working_days: &[&str]) -> Calendar {
    let day = vec![w("08:00", "12:00"), w("14:00", "18:00")];
    let week = [
        day.clone(),
        day.clone(),
        day.clone(),
        day.clone(),
        day,
        vec![],
        vec![],
    ];
    Calendar::new(
        "office",
        TimeZone::get("Asia/Shanghai").unwrap(),
        week,
        holidays.iter().map(|d| date(d)).collect(),
        working_days.iter().map(|d| date(d)).collect(),
        Weekday::Monday,
    )
    .unwrap()
}

/// `2026-11-20T17:00` in the calendar's zone, as ms.
fn at(cal: &Calendar, local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    cal.time_zone().to_timestamp(dt).unwrap().as_millisecond()
}

fn local(cal: &Calendar, ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .to_zoned(cal.time_zone().clone())
        .datetime()
        .strftime("%a %Y-%m-%dT%H:%M")
        .to_string()
}

#[test]
fn handbook_example_friday_evening_to_monday_morning() {
    // Opened Friday 17:00, resolved Monday 08:30: 1 h of Friday plus 30 min of Monday.
    let cal = office(&[], &[]);
    let opened = at(&cal, "2026-11-20T17:00");
    let resolved = at(&cal, "2026-11-23T08:30");
    assert_eq!(cal.business_ms(opened, resolved), HOUR + 30 * MIN);
    // So a 2 h resolve target (due Monday 09:00) is met.
    let due = cal.add_business(opened, 2 * HOUR).unwrap();
    assert_eq!(local(&cal, due), "Mon 2026-11-23T09:00");
    assert!(resolved <= due);
}

#[test]
fn table_of_deadlines() {
    let cal = office(&[], &[]);
    // (opened, target, expected deadline)
    let cases: &[(&str, i64, &str, &str)] = &[
        // inside a window, no gap
        (
            "2026-11-23T09:00",
            10 * MIN,
            "Mon 2026-11-23T09:10",
            "plain",
        ),
        // crosses the lunch gap
        (
            "2026-11-23T11:30",
            HOUR,
            "Mon 2026-11-23T14:30",
            "lunch gap",
        ),
        // opened during lunch: the clock starts at 14:00
        (
            "2026-11-23T12:30",
            10 * MIN,
            "Mon 2026-11-23T14:10",
            "opened at lunch",
        ),
        // opened before work: starts at 08:00
        (
            "2026-11-23T07:00",
            10 * MIN,
            "Mon 2026-11-23T08:10",
            "before hours",
        ),
        // opened at night: next morning
        (
            "2026-11-23T22:00",
            30 * MIN,
            "Tue 2026-11-24T08:30",
            "at night",
        ),
        // opened on Saturday: Monday
        (
            "2026-11-21T10:00",
            30 * MIN,
            "Mon 2026-11-23T08:30",
            "weekend",
        ),
        // a target that ends exactly at the end of a window stays on that day
        (
            "2026-11-23T17:00",
            HOUR,
            "Mon 2026-11-23T18:00",
            "window end",
        ),
        // a long target spans days: 4 h = Friday 16:00-18:00 + Monday 08:00-10:00
        (
            "2026-11-20T16:00",
            4 * HOUR,
            "Mon 2026-11-23T10:00",
            "over the weekend",
        ),
        // a whole working week is 40 h
        (
            "2026-11-23T08:00",
            40 * HOUR,
            "Fri 2026-11-27T18:00",
            "a week",
        ),
        // zero target: due at once
        ("2026-11-21T10:00", 0, "Sat 2026-11-21T10:00", "zero"),
    ];
    for (opened, target, want, what) in cases {
        let due = cal.add_business(at(&cal, opened), *target).unwrap();
        assert_eq!(local(&cal, due), *want, "{what}");
        if *target > 0 {
            assert_eq!(cal.business_ms(at(&cal, opened), due), *target, "{what}");
        }
    }
}

#[test]
fn holidays_are_off_and_adjusted_working_days_are_on() {
    // Monday a public holiday: Friday 17:00 + 2 h lands on Tuesday 09:00.
    let cal = office(&["2026-11-23"], &[]);
    let due = cal
        .add_business(at(&cal, "2026-11-20T17:00"), 2 * HOUR)
        .unwrap();
    assert_eq!(local(&cal, due), "Tue 2026-11-24T09:00");
    // Saturday worked in exchange (Chinese adjusted working day): Saturday 09:00.
    let cal = office(&[], &["2026-11-21"]);
    let due = cal
        .add_business(at(&cal, "2026-11-20T17:00"), 2 * HOUR)
        .unwrap();
    assert_eq!(local(&cal, due), "Sat 2026-11-21T09:00");
    assert!(cal.is_working(at(&cal, "2026-11-21T10:00")));
    assert!(!cal.is_working(at(&cal, "2026-11-22T10:00")));
    // National Day week: Thursday 1 October to Wednesday 7 October off, Sunday 27 September
    // and Saturday 10 October worked.
    let cal = office(
        &[
            "2026-10-01",
            "2026-10-02",
            "2026-10-05",
            "2026-10-06",
            "2026-10-07",
        ],
        &["2026-09-27", "2026-10-10"],
    );
    let due = cal
        .add_business(at(&cal, "2026-09-30T17:30"), HOUR)
        .unwrap();
    assert_eq!(local(&cal, due), "Thu 2026-10-08T08:30");
    let used = cal.business_ms(at(&cal, "2026-09-26T00:00"), at(&cal, "2026-09-28T00:00"));
    assert_eq!(used, 8 * HOUR, "the adjusted Sunday counts a full day");
}

#[test]
fn daylight_saving_days_count_real_time() {
    // Berlin, 24 h windows every day. 29 March 2026: clocks jump 02:00 → 03:00 (23 h day);
    // 25 October 2026: 03:00 → 02:00 (25 h day).
    let full = vec![w("00:00", "24:00")];
    let cal = Calendar::new(
        "berlin",
        TimeZone::get("Europe/Berlin").unwrap(),
        std::array::from_fn(|_| full.clone()),
        BTreeSet::new(),
        BTreeSet::new(),
        Weekday::Monday,
    )
    .unwrap();
    let spring = cal.business_ms(at(&cal, "2026-03-29T00:00"), at(&cal, "2026-03-30T00:00"));
    assert_eq!(spring, 23 * HOUR);
    let autumn = cal.business_ms(at(&cal, "2026-10-25T00:00"), at(&cal, "2026-10-26T00:00"));
    assert_eq!(autumn, 25 * HOUR);
    // A 2 h target from 01:30 on the spring day ends at 04:30 wall time: 01:30→02:00 is
    // 30 min, then the clock jumps to 03:00, and 03:00→04:30 is the other 90 min.
    let due = cal
        .add_business(at(&cal, "2026-03-29T01:30"), 2 * HOUR)
        .unwrap();
    assert_eq!(local(&cal, due), "Sun 2026-03-29T04:30");

    // A working window 01:00-04:00 on the spring day is 2 h long in real time.
    let night = vec![w("01:00", "04:00")];
    let cal = Calendar::new(
        "night",
        TimeZone::get("Europe/Berlin").unwrap(),
        std::array::from_fn(|_| night.clone()),
        BTreeSet::new(),
        BTreeSet::new(),
        Weekday::Monday,
    )
    .unwrap();
    let used = cal.business_ms(at(&cal, "2026-03-29T00:00"), at(&cal, "2026-03-30T00:00"));
    assert_eq!(used, 2 * HOUR);
    let used = cal.business_ms(at(&cal, "2026-10-25T00:00"), at(&cal, "2026-10-26T00:00"));
    assert_eq!(used, 4 * HOUR);
}

#[test]
fn always_calendar_is_wall_time() {
    let cal = Calendar::always("24x7");
    let t0 = 1_763_683_200_000; // 2025-11-21T00:00:00Z
    assert_eq!(cal.add_business(t0, 4 * HOUR), Some(t0 + 4 * HOUR));
    assert_eq!(cal.business_ms(t0, t0 + 30 * HOUR), 30 * HOUR);
    assert_eq!(cal.business_ms(t0, t0 - 1), 0);
    assert!(cal.is_working(t0 + 5));
}

#[test]
fn windows_that_touch_are_contiguous() {
    // 00:00-24:00 on Monday and Tuesday: a clock over midnight does not lose a millisecond.
    let full = vec![w("00:00", "24:00")];
    let mut week: [Vec<Window>; 7] = Default::default();
    week[0] = full.clone();
    week[1] = full;
    let cal = Calendar::new(
        "mt",
        TimeZone::UTC,
        week,
        BTreeSet::new(),
        BTreeSet::new(),
        Weekday::Monday,
    )
    .unwrap();
    let due = cal
        .add_business(at(&cal, "2026-11-23T23:00"), 2 * HOUR)
        .unwrap();
    assert_eq!(local(&cal, due), "Tue 2026-11-24T01:00");
    // Tuesday 23:00 + 2 h: Wednesday to Sunday have no hours, so next Monday 01:00.
    let due = cal
        .add_business(at(&cal, "2026-11-24T23:00"), 2 * HOUR)
        .unwrap();
    assert_eq!(local(&cal, due), "Mon 2026-11-30T01:00");
}

#[test]
fn bad_calendars_are_refused() {
    let mk = |windows: Vec<Window>| {
        let mut week: [Vec<Window>; 7] = Default::default();
        week[2] = windows;
        Calendar::new(
            "x",
            TimeZone::UTC,
            week,
            BTreeSet::new(),
            BTreeSet::new(),
            Weekday::Monday,
        )
    };
    let e = mk(vec![w("08:00", "12:00"), w("11:00", "13:00")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "window 11:00-13:00 overlaps window 08:00-12:00 on Wednesday"
    );
    let e = mk(vec![w("22:00", "06:00")]).unwrap_err();
    assert!(e.to_string().contains("cannot cross midnight"), "{e}");
    assert_eq!(mk(vec![]).unwrap_err(), CalendarError::Empty);
}

#[test]
fn a_calendar_without_hours_for_two_years_has_no_deadline() {
    let mut week: [Vec<Window>; 7] = Default::default();
    week[0] = vec![w("08:00", "09:00")];
    let all_mondays: BTreeSet<Date> = date("2026-11-23")
        .series(jiff::Span::new().weeks(1))
        .take(120)
        .collect();
    let cal = Calendar::new(
        "never",
        TimeZone::UTC,
        week,
        all_mondays,
        BTreeSet::new(),
        Weekday::Monday,
    )
    .unwrap();
    assert_eq!(cal.add_business(at(&cal, "2026-11-22T00:00"), MIN), None);
}

proptest! {
    /// Adding the working time between two instants lands no later than the second, and the
    /// working time up to a deadline is exactly the target.
    #[test]
    fn add_and_between_agree(
        start_min in 0i64..(60 * 24 * 21),
        target_min in 0i64..(60 * 24 * 7),
        gap_min in 0i64..(60 * 24 * 14),
    ) {
        let cal = office(&["2026-11-25"], &["2026-11-28"]);
        let from = at(&cal, "2026-11-16T00:00") + start_min * MIN;
        let due = cal.add_business(from, target_min * MIN).unwrap();
        prop_assert_eq!(cal.business_ms(from, due), target_min * MIN);
        let to = from + gap_min * MIN;
        let used = cal.business_ms(from, to);
        let back = cal.add_business(from, used).unwrap();
        prop_assert!(back <= to);
        prop_assert_eq!(cal.business_ms(from, back), used);
    }
}
