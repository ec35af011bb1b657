//! The PRC working-day calendar shipped with crosscheck: weekends off, public holidays off,
//! make-up working days (调休上班) on, as the State Council publishes them each year. Time
//! limits in the business environment ("decided within 20 working days") are counted on it.
//! A date outside the calendar is an error, never a guess: the holidays of an unpublished
//! year are unknown.

use std::path::Path;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};

const DATA: &str = include_str!("prc.csv");
/// The shipped calendar covers 2015-01-01 to the end of this year (the latest notice
/// transcribed); a job's `calendar:` file may add later years.
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
    last_year: i32,
    /// The job's calendar file, when one extends the shipped table.
    extension: Option<String>,
}

/// The calendar in use: the shipped one, or the shipped one with the job's file applied
/// (`use_job_calendar`, before any rule is compiled).
static CALENDAR: OnceLock<Calendar> = OnceLock::new();

fn calendar() -> &'static Calendar {
    CALENDAR.get_or_init(|| build(&[]).expect("the shipped calendar is valid (tests/calendar.rs)"))
}

/// One day of a calendar file: its date, whether it is worked, and its line.
struct Day {
    date: NaiveDate,
    workday: bool,
    line: usize,
}

/// The days a calendar file lists (`date,kind,occasion`, `#` comments, a header line), or the
/// line of the first problem and what it is.
fn parse(text: &str) -> Result<Vec<Day>, (usize, String)> {
    let mut days: Vec<Day> = Vec::new();
    let mut header = false;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header {
            header = true;
            if line.starts_with("date,") {
                continue;
            }
            return Err((
                line_no,
                "the first line is the header `date,kind,occasion`".into(),
            ));
        }
        let mut f = line.split(',');
        let date = f.next().unwrap_or_default().trim();
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| (line_no, format!("`{date}` is not a date (YYYY-MM-DD)")))?;
        let workday = match f.next().map(str::trim) {
            Some("holiday") => false,
            Some("workday") => true,
            other => {
                return Err((
                    line_no,
                    format!(
                        "kind `{}` is neither `holiday` nor `workday`",
                        other.unwrap_or_default()
                    ),
                ));
            }
        };
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        if workday && !weekend {
            return Err((
                line_no,
                format!(
                    "{date} is a {}: a make-up working day (调休上班) falls on a weekend",
                    date.weekday()
                ),
            ));
        }
        if let Some(first) = days.iter().find(|d| d.date == date) {
            return Err((
                line_no,
                format!("{date} is listed twice (also on line {})", first.line),
            ));
        }
        if date.year() < FIRST_YEAR {
            return Err((
                line_no,
                format!("{date} is before {FIRST_YEAR}, where the calendar starts"),
            ));
        }
        days.push(Day {
            date,
            workday,
            line: line_no,
        });
    }
    Ok(days)
}

/// The shipped calendar with `extra` days applied (they replace a shipped day's kind, and
/// extend the calendar to the end of the last year they name).
fn build(extra: &[Day]) -> Result<Calendar, String> {
    let shipped =
        parse(DATA).map_err(|(line, why)| format!("src/calendar/prc.csv:{line}: {why}"))?;
    let last_year = extra
        .iter()
        .map(|d| d.date.year())
        .max()
        .unwrap_or(LAST_YEAR)
        .max(LAST_YEAR);
    let start = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("valid");
    let end = NaiveDate::from_ymd_opt(last_year, 12, 31).expect("valid");
    let mut workday: Vec<bool> = start
        .iter_days()
        .take_while(|d| *d <= end)
        .map(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    for d in shipped.iter().chain(extra) {
        workday[(d.date - start).num_days() as usize] = d.workday;
    }
    let mut cum = Vec::with_capacity(workday.len());
    let mut n = 0;
    for w in &workday {
        n += *w as i32;
        cum.push(n);
    }
    Ok(Calendar {
        first: start.num_days_from_ce() - EPOCH_CE,
        cum,
        workday,
        last_year,
        extension: None,
    })
}

/// Checks a job's calendar file: the line and what is wrong, or `Ok`.
pub fn check_file(text: &str) -> Result<(), (usize, String)> {
    parse(text).map(|_| ())
}

/// Uses the shipped calendar extended by the job's file for the rest of the process. Called
/// once, before any rule is compiled; a second, different file is refused.
pub fn use_job_calendar(path: &Path, text: &str) -> Result<(), String> {
    let days = parse(text).map_err(|(line, why)| format!("{}:{line}: {why}", path.display()))?;
    let mut c = build(&days)?;
    c.extension = Some(path.display().to_string());
    if CALENDAR.set(c).is_err()
        && calendar().extension.as_deref() != Some(&path.display().to_string())
    {
        return Err(format!(
            "{}: a working-day calendar is already in use in this process",
            path.display()
        ));
    }
    Ok(())
}

/// The last year the calendar in use covers.
pub fn last_year() -> i32 {
    calendar().last_year
}

/// Why a date cannot be counted.
pub fn out_of_range(days: i32) -> String {
    let date = NaiveDate::from_num_days_from_ce_opt(days + EPOCH_CE)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("day {days}"));
    format!(
        "{date} is outside the working-day calendar ({FIRST_YEAR}-01-01 to {}-12-31); check the \
         date, or add the year's State Council holiday notice (国务院办公厅关于部分节假日安排的通知) \
         to a calendar file named by `calendar:` in the job: lines `date,kind,occasion` as in \
         src/calendar/prc.csv, kind `holiday` or `workday`",
        last_year()
    )
}

fn index(days: i32) -> Result<usize, String> {
    let c = calendar();
    let i = days - c.first;
    if i < 0 || i as usize >= c.cum.len() {
        return Err(out_of_range(days));
    }
    Ok(i as usize)
}

/// Whether a date (days since 1970-01-01) is a working day.
pub fn is_workday_days(days: i32) -> Result<bool, String> {
    Ok(calendar().workday[index(days)?])
}

/// Working days after `from` up to and including `to` (both days since 1970-01-01): 0 for
/// the same day, the next working day counts 1. Negative when `to` is before `from`.
pub fn working_days_between(from: i32, to: i32) -> Result<i64, String> {
    let c = calendar();
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
    (calendar().cum.clone(), calendar().workday.clone())
}
