//! The PRC working-day calendar shipped with crosscheck: weekends off, public holidays off,
//! make-up working days (调休上班) on, as the State Council publishes them each year. Time
//! limits in the business environment ("decided within 20 working days") are counted on it.
//! A date outside the calendar is an error, never a guess: the holidays of an unpublished
//! year are unknown.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, Weekday};

const DATA: &str = include_str!("prc.csv");
/// The calendar covers 2015-01-01 to the end of this year (the latest notice transcribed).
pub const FIRST_YEAR: i32 = 2015;
pub const LAST_YEAR: i32 = 2026;

/// Days since 1970-01-01 of 1970-01-01 counted from the Common Era (chrono's day numbering).
const EPOCH_CE: i32 = 719_163;

struct Calendar {
    /// Days since 1970-01-01 of the first day covered.
    first: i32,
    /// `cum[i]`: working days from the first day up to and including day `first + i`.
    cum: Vec<i32>,
    workday: Vec<bool>,
}

static CALENDAR: LazyLock<Calendar> = LazyLock::new(|| {
    let start = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("valid");
    let end = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).expect("valid");
    let mut workday: Vec<bool> = start
        .iter_days()
        .take_while(|d| *d <= end)
        .map(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    for line in DATA.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let mut f = line.split(',');
        let date = f
            .next()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let (Some(date), Some(kind)) = (date, f.next()) else {
            panic!("src/calendar/prc.csv: malformed line `{line}`");
        };
        let i = (date - start).num_days();
        assert!(
            (0..workday.len() as i64).contains(&i),
            "src/calendar/prc.csv: {date} is outside {FIRST_YEAR}-{LAST_YEAR}"
        );
        workday[i as usize] = match kind {
            "holiday" => false,
            "workday" => true,
            other => panic!("src/calendar/prc.csv: unknown kind `{other}`"),
        };
    }
    let mut cum = Vec::with_capacity(workday.len());
    let mut n = 0;
    for w in &workday {
        n += *w as i32;
        cum.push(n);
    }
    Calendar {
        first: start.num_days_from_ce() - EPOCH_CE,
        cum,
        workday,
    }
});

/// Why a date cannot be counted.
pub fn out_of_range(days: i32) -> String {
    let date = NaiveDate::from_num_days_from_ce_opt(days + EPOCH_CE)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("day {days}"));
    format!(
        "{date} is outside the working-day calendar shipped with crosscheck \
         ({FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31); check the date, or add the year's \
         State Council holiday notice to src/calendar/prc.csv"
    )
}

fn index(days: i32) -> Result<usize, String> {
    let c = &*CALENDAR;
    let i = days - c.first;
    if i < 0 || i as usize >= c.cum.len() {
        return Err(out_of_range(days));
    }
    Ok(i as usize)
}

/// Whether a date (days since 1970-01-01) is a working day.
pub fn is_workday_days(days: i32) -> Result<bool, String> {
    Ok(CALENDAR.workday[index(days)?])
}

/// Working days after `from` up to and including `to` (both days since 1970-01-01): 0 for
/// the same day, the next working day counts 1. Negative when `to` is before `from`.
pub fn working_days_between(from: i32, to: i32) -> Result<i64, String> {
    let c = &*CALENDAR;
    Ok(c.cum[index(to)?] as i64 - c.cum[index(from)?] as i64)
}

/// Whether `date` is a working day.
pub fn is_workday(date: NaiveDate) -> Result<bool, String> {
    is_workday_days(date.num_days_from_ce() - EPOCH_CE)
}

/// Working days after `from` up to and including `to`.
pub fn working_days(from: NaiveDate, to: NaiveDate) -> Result<i64, String> {
    working_days_between(
        from.num_days_from_ce() - EPOCH_CE,
        to.num_days_from_ce() - EPOCH_CE,
    )
}

/// The calendar as the Spark lowering ships it: from 1 January of the first year, each day's
/// running count of working days, and whether it is one.
pub fn running_counts() -> (Vec<i32>, Vec<bool>) {
    (CALENDAR.cum.clone(), CALENDAR.workday.clone())
}
