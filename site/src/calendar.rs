//! Service calendars and the clock arithmetic on them.
//!
//! A calendar is a time zone, weekly working windows (several per day, e.g. 08:00–12:00 and
//! 14:00–18:00), days off (public holidays) and extra working days (a weekend day worked in
//! exchange for a holiday, as the Chinese calendar's adjusted working days are). SLA clocks count
//! only time inside the windows. Everything here is a pure function of its arguments: time is
//! passed in as milliseconds since the Unix epoch, never read from the system.
//!
//! Windows are wall-clock times in the calendar's zone, so a window on a daylight-saving day is
//! as long as the clock on the wall says it is minus or plus the hour that day skips or repeats:
//! the elapsed (real) time inside it is what is counted.

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;

/// How far ahead the arithmetic looks for working time before giving up (two years): a calendar
/// whose every window is cancelled by holidays for that long has no deadline to offer.
pub(crate) const MAX_DAYS: u32 = 2 * 366;

/// Minutes in a day; a window may end at 24:00 (= 1440).
pub const DAY_MINUTES: u16 = 24 * 60;

/// One working window of a day, `[start, end)` in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// Minutes after midnight when work starts.
    pub start: u16,
    /// Minutes after midnight when it stops (up to 1440 = 24:00).
    pub end: u16,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// A service calendar. Build it with [`Calendar::new`] (checked) or [`Calendar::always`].
#[derive(Debug, Clone)]
pub struct Calendar {
    name: String,
    tz: TimeZone,
    /// Windows per weekday, Monday first, sorted and non-overlapping.
    week: [Vec<Window>; 7],
    holidays: BTreeSet<Date>,
    /// Extra working days: they use the windows of `workday_like`.
    working_days: BTreeSet<Date>,
    workday_like: Weekday,
}

/// Why a calendar was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Two windows of the same weekday overlap.
    #[error("window {second} overlaps window {first} on {day}")]
    Overlap {
        /// The weekday, e.g. `Monday`.
        day: String,
        /// The earlier window.
        first: Window,
        /// The window that overlaps it.
        second: Window,
    },
    /// A window is empty or reversed.
    #[error("window {0} ends before it starts (a window cannot cross midnight: split it in two)")]
    Reversed(Window),
    /// No window on any weekday: no clock could ever run.
    #[error("the calendar has no working hours on any day")]
    Empty,
}

impl Calendar {
    /// The 7×24 calendar named `name` (UTC: the zone does not matter when every hour counts).
    pub fn always(name: &str) -> Self {
        let full = vec![Window {
            start: 0,
            end: DAY_MINUTES,
        }];
        Self {
            name: name.to_owned(),
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| full.clone()),
            holidays: BTreeSet::new(),
            working_days: BTreeSet::new(),
            workday_like: Weekday::Monday,
        }
    }

    /// A checked calendar. `week[0]` is Monday. Extra working days use the windows of
    /// `workday_like` (Monday in the site file).
    pub fn new(
        name: &str,
        tz: TimeZone,
        mut week: [Vec<Window>; 7],
        holidays: BTreeSet<Date>,
        working_days: BTreeSet<Date>,
        workday_like: Weekday,
    ) -> Result<Self, CalendarError> {
        for (i, windows) in week.iter_mut().enumerate() {
            windows.sort();
            for w in windows.iter() {
                if w.end <= w.start || w.end > DAY_MINUTES {
                    return Err(CalendarError::Reversed(*w));
                }
            }
            for pair in windows.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(CalendarError::Overlap {
                        day: weekday_name(i).to_owned(),
                        first: pair[0],
                        second: pair[1],
                    });
                }
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(CalendarError::Empty);
        }
        Ok(Self {
            name: name.to_owned(),
            tz,
            week,
            holidays,
            working_days,
            workday_like,
        })
    }

    /// The calendar's name in the site file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Working time, in ms, between `from_ms` and `to_ms` (0 when `to_ms <= from_ms`).
    pub fn business_ms(&self, from_ms: i64, to_ms: i64) -> i64 {
        if to_ms <= from_ms {
            return 0;
        }
        let mut total = 0;
        for (s, e) in self.intervals_from(from_ms) {
            if s >= to_ms {
                break;
            }
            total += e.min(to_ms) - s;
        }
        total
    }

    /// The instant at which `duration_ms` of working time has passed since `from_ms`: the
    /// deadline of a clock started at `from_ms` with that target. `None` when the calendar has
    /// no working time in the next two years. A zero target is due at `from_ms` itself.
    pub fn add_business(&self, from_ms: i64, duration_ms: i64) -> Option<i64> {
        if duration_ms <= 0 {
            return Some(from_ms);
        }
        let mut left = duration_ms;
        for (s, e) in self.intervals_from(from_ms) {
            let len = e - s;
            if len >= left {
                return Some(s + left);
            }
            left -= len;
        }
        None
    }

    /// The working interval containing `t_ms` as `(t_ms, end)`, if `t_ms` is working time.
    pub fn interval_at(&self, t_ms: i64) -> Option<(i64, i64)> {
        self.intervals_from(t_ms).next().filter(|(s, _)| *s <= t_ms)
    }

    /// Whether `t_ms` falls inside a working window.
    pub fn is_working(&self, t_ms: i64) -> bool {
        self.intervals_from(t_ms)
            .next()
            .is_some_and(|(s, _)| s <= t_ms)
    }

    /// Whether `date` (in the calendar's zone) is a working day: not a holiday, and a weekday
    /// with working windows or an adjusted working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        !self.windows_on(date).is_empty()
    }

    /// The local date of `t_ms` in the calendar's zone.
    pub fn date_of(&self, t_ms: i64) -> Option<Date> {
        Timestamp::from_millisecond(t_ms)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()).date())
    }

    /// `minutes` after local midnight of `date` in the calendar's zone, as ms since the epoch
    /// (a wall time a daylight-saving jump skips maps to the instant after the jump).
    pub fn instant_at(&self, date: Date, minutes: u16) -> Option<i64> {
        self.local_ms(date, minutes)
    }

    /// The working intervals `[start, end)` in ms that end after `from_ms`, in order, the first
    /// clipped to start no earlier than `from_ms`; covers at most [`MAX_DAYS`] days.
    fn intervals_from(&self, from_ms: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let start_date = Timestamp::from_millisecond(from_ms)
            .map(|t| t.to_zoned(self.tz.clone()).date())
            .ok();
        // A window that ends at 24:00 of the previous local day never reaches past local
        // midnight, so starting at from's own local date misses nothing.
        let days = start_date
            .into_iter()
            .flat_map(|d| d.series(jiff::Span::new().days(1)).take(MAX_DAYS as usize));
        days.flat_map(move |date| {
            self.windows_on(date)
                .iter()
                .filter_map(move |w| {
                    let s = self.local_ms(date, w.start)?;
                    let e = self.local_ms(date, w.end)?;
                    (e > s).then_some((s, e))
                })
                .collect::<Vec<_>>()
        })
        .filter(move |&(_, e)| e > from_ms)
        .map(move |(s, e)| (s.max(from_ms), e))
    }

    fn windows_on(&self, date: Date) -> &[Window] {
        if self.holidays.contains(&date) {
            return &[];
        }
        let day = if self.working_days.contains(&date) {
            self.workday_like
        } else {
            date.weekday()
        };
        &self.week[day.to_monday_zero_offset() as usize]
    }

    /// `minutes` after local midnight of `date` as ms since the epoch. A wall time skipped by a
    /// daylight-saving jump maps to the instant after the jump, a repeated one to its first
    /// occurrence (jiff's "compatible" disambiguation, as RFC 5545 and Temporal do).
    fn local_ms(&self, date: Date, minutes: u16) -> Option<i64> {
        let dt: DateTime = if minutes >= DAY_MINUTES {
            date.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            date.to_datetime(Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).ok()?)
        };
        let ts = self.tz.to_timestamp(dt).ok()?;
        Some(ts.as_millisecond())
    }
}

/// `Monday`... for index 0..7.
pub fn weekday_name(i: usize) -> &'static str {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    .get(i)
    .copied()
    .unwrap_or("?")
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
