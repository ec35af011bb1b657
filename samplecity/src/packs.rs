//! The sample city's extracts for the debt, development-zone, business-environment and
//! public-funds packs. Drawn from their own random stream, after everything else, so the
//! pension, dibao, land and grain extracts stay the same row for row. Planted leads go to the
//! ground truth; each pack also plants near-misses its rules must not flag.

use chrono::{Duration, NaiveDate};

use super::GroundTruth;
use super::people::{Pool, Rng};
use super::write::{Cell, Table};

mod business;
mod debt;
mod funds;
mod linkage;
mod zones;

use business::*;
use debt::*;
use funds::*;
use linkage::*;
use zones::*;

/// How a table is written: the encodings and formats real extracts arrive in.
pub enum Format {
    Csv(&'static encoding_rs::Encoding, bool),
    Xlsx(&'static str),
    Parquet,
}

pub struct Extract {
    pub file: &'static str,
    pub format: Format,
    pub table: Table,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid generator date")
}

fn ymd(x: NaiveDate) -> Cell {
    Cell::text(x.format("%Y-%m-%d").to_string())
}

fn money(v: f64) -> Cell {
    Cell::text(format!("{v:.2}"))
}

/// A unified social credit code (统一社会信用代码) of the sample city's enterprises.
fn uscc(n: u64) -> String {
    const CHECK: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    format!("91320115MA{n:07X}{}", CHECK[(n % 31) as usize] as char)
}

/// The PRC working-day calendar crosscheck ships (`src/calendar/prc.csv`): weekends off, its
/// holidays off, its make-up days on.
fn is_workday(day: NaiveDate) -> bool {
    use chrono::Datelike;
    const CALENDAR: &str = include_str!("../../src/calendar/prc.csv");
    let date = day.format("%Y-%m-%d").to_string();
    let listed = CALENDAR
        .lines()
        .find(|l| l.starts_with(&date))
        .and_then(|l| l.split(',').nth(1));
    match listed {
        Some(kind) => kind == "workday",
        None => !matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun),
    }
}

/// The day `n` working days after `from` on the shipped calendar.
fn add_working_days(from: NaiveDate, n: i64) -> NaiveDate {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if is_workday(day) {
            left -= 1;
        }
    }
    day
}

pub fn generate(seed: u64, scale: usize, truth: &mut GroundTruth) -> Vec<Extract> {
    let mut rng = Rng::new(seed ^ 0x5041_434B);
    let mut out = Vec::new();
    debt(&mut rng, scale, truth, &mut out);
    zones(&mut rng, scale, truth, &mut out);
    business(&mut rng, scale, truth, &mut out);
    let mut pool = Pool::new(&mut rng, 1000 * scale);
    funds(&mut rng, &mut pool, scale, truth, &mut out);
    // Its own stream, so the packs above stay the same row for row.
    let mut link_rng = Rng::new(seed ^ 0x4C49_4E4B);
    let mut link_pool = Pool::new(&mut link_rng, 300 * scale);
    linkage(&mut link_rng, &mut link_pool, scale, truth, &mut out);
    out
}

// --- Local-government debt ---------------------------------------------------------------

// --- Development-zone projects -----------------------------------------------------------

// --- Business environment ----------------------------------------------------------------

// --- Public funds reaching people --------------------------------------------------------
