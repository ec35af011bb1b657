//! Normalisers per semantic type: turn one source cell into a typed value, or say why not.

use std::borrow::Cow;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use unicode_normalization::UnicodeNormalization;

/// One cell as a reader saw it, before any typing.
#[derive(Debug, Clone, PartialEq)]
pub enum RawCell {
    Empty,
    Text(String),
    /// A numeric cell (xlsx, Parquet). IDs arriving like this have usually lost digits.
    Number(f64),
    Bool(bool),
    DateTime(NaiveDateTime),
}

/// A borrowed view of one cell: what the normalisers read, so that text cells of a CSV column
/// are typed straight from the column's buffer without a copy each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    Bool(bool),
    DateTime(NaiveDateTime),
}

impl RawCell {
    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            RawCell::Empty => CellRef::Empty,
            RawCell::Text(s) => CellRef::Text(s),
            RawCell::Number(v) => CellRef::Number(*v),
            RawCell::Bool(b) => CellRef::Bool(*b),
            RawCell::DateTime(dt) => CellRef::DateTime(*dt),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.as_ref().is_empty()
    }

    /// The cell as text, the way a person sees it (used for rejected rows and text columns).
    pub fn display(&self) -> String {
        self.as_ref().display().into_owned()
    }
}

impl<'a> CellRef<'a> {
    pub fn is_empty(&self) -> bool {
        match self {
            CellRef::Empty => true,
            CellRef::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text, the way a person sees it.
    pub fn display(&self) -> Cow<'a, str> {
        match *self {
            CellRef::Empty => Cow::Borrowed(""),
            CellRef::Text(s) => Cow::Borrowed(s),
            CellRef::Number(v) => Cow::Owned(format_number(v)),
            CellRef::Bool(b) => Cow::Owned(b.to_string()),
            CellRef::DateTime(dt) => Cow::Owned(if dt.time() == chrono::NaiveTime::MIN {
                dt.date().to_string()
            } else {
                dt.format("%Y-%m-%d %H:%M:%S").to_string()
            }),
        }
    }
}

/// Integers without a trailing `.0`; others in the shortest form that round-trips.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn is_trimmed(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}'
}

/// NFKC and trimmed. Most cells are already NFKC (all ASCII text is): those are only sliced.
pub fn nfkc_trim(s: &str) -> Cow<'_, str> {
    // ASCII and the common CJK ideographs (U+4E00–U+9FFF) have no decomposition and combine
    // with nothing: names and addresses pass without the table lookups of the quick check.
    if s.is_ascii()
        || s.chars()
            .all(|c| c.is_ascii() || ('\u{4E00}'..='\u{9FFF}').contains(&c))
        || unicode_normalization::is_nfkc_quick(s.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        return Cow::Borrowed(s.trim_matches(is_trimmed));
    }
    let s: String = s.nfkc().collect();
    let t = s.trim_matches(is_trimmed);
    Cow::Owned(if t.len() == s.len() { s } else { t.to_string() })
}

/// Text: NFKC (full-width letters and digits, U+3000) and trimmed; empty becomes NULL.
pub fn normalize_text(cell: CellRef<'_>) -> Option<Cow<'_, str>> {
    let s = match cell.display() {
        Cow::Borrowed(b) => nfkc_trim(b),
        Cow::Owned(o) => Cow::Owned(nfkc_trim(&o).into_owned()),
    };
    (!s.is_empty()).then_some(s)
}

/// The text loads as itself: non-empty, already NFKC, nothing to trim.
pub fn text_as_is(s: &str) -> bool {
    !s.is_empty() && matches!(nfkc_trim(s), Cow::Borrowed(b) if b.len() == s.len())
}

/// Days between 1899-12-30 and a date: Excel's serial-date epoch (with its 1900 leap bug
/// absorbed for every date after February 1900).
fn excel_serial_to_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_signed(Duration::days(serial.trunc() as i64))
}

/// Dates in the forms extracts use: 2024-03-01, 2024/3/1, 2024.3.1, 20240301, 2024年3月1日,
/// year-months (2024-03, 202403, 2024年3月 → the first of the month), Excel serials, and
/// date-times (the time is dropped).
pub fn parse_date(cell: CellRef<'_>) -> Result<Option<NaiveDate>, String> {
    match cell {
        CellRef::Empty => Ok(None),
        CellRef::DateTime(dt) => in_calendar_range(dt).map(|dt| Some(dt.date())),
        CellRef::Number(v) => {
            // 20240301 or 202403 stored as a number, else an Excel serial.
            if v.fract() == 0.0 && (190_001.0..=210_012.0).contains(&v)
                || (19_000_101.0..=21_001_231.0).contains(&v)
            {
                return parse_date_text(&format_number(v)).map(Some);
            }
            excel_serial_to_date(v)
                .map(Some)
                .ok_or_else(|| format!("{} is not a date", format_number(v)))
        }
        CellRef::Bool(b) => Err(format!("{b} is not a date")),
        CellRef::Text(s) => {
            let t = nfkc_trim(s);
            if t.is_empty() {
                return Ok(None);
            }
            parse_date_text(&t).map(Some)
        }
    }
}

/// A date of the years a register can mean and a workbook (or Spark) can hold: 1 to 9999.
/// Year 0 (`00000101`) is not one, though chrono has it.
fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    (1..=9999)
        .contains(&y)
        .then(|| NaiveDate::from_ymd_opt(y, m, d))?
}

fn parse_date_text(t: &str) -> Result<NaiveDate, String> {
    let err = || {
        format!("'{t}' is not a date (expected e.g. 2024-03-01, 2024/3/1, 20240301, 2024年3月1日)")
    };
    // The common form, 2024-03-01, without the allocations of the general path.
    let b = t.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().try_fold(0u32, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10))
            && let Some(date) = ymd(y as i32, m, d)
        {
            return Ok(date);
        }
    }
    // 20240301 and 202403 (a month: its first day).
    if (b.len() == 8 || b.len() == 6) && b.iter().all(u8::is_ascii_digit) {
        let num =
            |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let day = if b.len() == 8 { num(6..8) } else { 1 };
        return ymd(num(0..4) as i32, num(4..6), day).ok_or_else(err);
    }
    // Drop a time part: "2024-03-01 14:05:00", "2024-03-01T14:05".
    let date_part = t.split([' ', 'T']).next().unwrap_or(t);
    let unified: String = date_part
        .replace(['年', '月'], "-")
        .replace('日', "")
        .replace(['/', '.'], "-");
    let unified = unified.trim_end_matches('-');
    // Everything below slices bytes: only ASCII digits and separators are a date here.
    if !unified.is_ascii() {
        return Err(err());
    }
    let parts: Vec<&str> = unified.split('-').collect();
    let num = |s: &str| -> Result<u32, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            Err(err())
        } else {
            s.parse().map_err(|_| err())
        }
    };
    let (y, m, d) = match parts.as_slice() {
        [ymd] if ymd.len() == 8 => (num(&ymd[..4])?, num(&ymd[4..6])?, num(&ymd[6..])?),
        [ym] if ym.len() == 6 => (num(&ym[..4])?, num(&ym[4..])?, 1),
        [ym] if ym.len() <= 5 && ym.len() >= 4 && !ym.is_empty() => {
            // A bare serial written as text, e.g. an xlsx exported to CSV unformatted.
            let serial = num(ym)?;
            return excel_serial_to_date(f64::from(serial)).ok_or_else(err);
        }
        [y, m] if y.len() == 4 => (num(y)?, num(m)?, 1),
        [y, m, d] if y.len() == 4 => (num(y)?, num(m)?, num(d)?),
        _ => return Err(err()),
    };
    ymd(y as i32, m, d).ok_or_else(err)
}

/// A date cell's value, if its year is one a register can mean and a workbook can show
/// (1 to 9999; 9999-12-31 is a common "no end date").
fn in_calendar_range(dt: NaiveDateTime) -> Result<NaiveDateTime, String> {
    use chrono::Datelike;
    if (1..=9999).contains(&dt.year()) {
        Ok(dt)
    } else {
        Err(format!(
            "日期超出范围 / date out of range: year {} (1 to 9999)",
            dt.year()
        ))
    }
}

/// Date-times: a date in any form above, then an optional time 14:05 or 14:05:30.
pub fn parse_datetime(cell: CellRef<'_>) -> Result<Option<NaiveDateTime>, String> {
    match cell {
        CellRef::DateTime(dt) => in_calendar_range(dt).map(Some),
        CellRef::Number(v) => {
            let date = parse_date(cell)?;
            let secs = (v.fract() * 86_400.0).round() as i64;
            Ok(date.map(|d| d.and_hms_opt(0, 0, 0).expect("midnight") + Duration::seconds(secs)))
        }
        CellRef::Text(s) => {
            let t = nfkc_trim(s);
            if t.is_empty() {
                return Ok(None);
            }
            let date = parse_date_text(&t)?;
            let time = t.split_once([' ', 'T']).map(|(_, time)| time.trim());
            let time = match time {
                None | Some("") => chrono::NaiveTime::MIN,
                Some(tm) => parse_time(tm)
                    .ok_or_else(|| format!("'{t}' has a time that is not HH:MM[:SS[.fff]]"))?,
            };
            Ok(Some(date.and_time(time)))
        }
        other => parse_date(other).map(|d| d.map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))),
    }
}

/// 14:05, 14:05:30, or 14:05:30.123 (up to nine digits of fraction, as databases export).
fn parse_time(tm: &str) -> Option<chrono::NaiveTime> {
    use chrono::Timelike;
    let (hms, fraction) = match tm.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (tm, None),
    };
    let whole = chrono::NaiveTime::parse_from_str(hms, "%H:%M:%S").ok();
    let Some(f) = fraction else {
        return whole.or_else(|| chrono::NaiveTime::parse_from_str(hms, "%H:%M").ok());
    };
    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{f:0<9}").parse().ok()?;
    let whole = whole?;
    // A leap second (:60) already holds a second of nanoseconds.
    whole.with_nanosecond(whole.nanosecond() + nanos)
}

/// Amounts: thousands separators (, ，), a trailing 元 or leading ¥, full-width digits.
pub fn parse_decimal(cell: CellRef<'_>) -> Result<Option<f64>, String> {
    match cell {
        CellRef::Empty => Ok(None),
        CellRef::Number(v) => Ok(Some(v)),
        CellRef::Bool(b) => Err(format!("{b} is not a number")),
        CellRef::DateTime(dt) => Err(format!("{dt} is not a number")),
        CellRef::Text(s) => {
            let t = nfkc_trim(s);
            if t.is_empty() {
                return Ok(None);
            }
            // Plain numbers (1234.50) parse as they are.
            if let Ok(v) = t.parse::<f64>()
                && v.is_finite()
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            {
                return Ok(Some(v));
            }
            let cleaned: String = t
                .trim_end_matches("万元")
                .trim_end_matches('元')
                .trim_start_matches(['¥', '￥'])
                .chars()
                .filter(|c| !matches!(c, ',' | '，' | ' ' | '_'))
                .collect();
            let scale = if t.ends_with("万元") { 10_000.0 } else { 1.0 };
            cleaned
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| Some(v * scale))
                .ok_or_else(|| format!("'{t}' is not a number"))
        }
    }
}

/// A decimal of at most `scale` places, as the double nearest its exact value (what the
/// plan's rounding keeps every result at, so values compare as decimals). Text is read
/// exactly: a value with more places is an error, never rounded away — but for binary noise
/// past `scale` places (0.30000000000000004, from a double printed or stored as such), which
/// is the value at `scale` places, in text and number cells (xlsx, Parquet) alike.
pub fn parse_decimal_at(cell: CellRef<'_>, scale: u8) -> Result<Option<f64>, String> {
    let too_many = |places: usize| {
        format!(
            "有 {places} 位小数，该列保留 {scale} 位 / {places} decimal places, the column keeps \
             {scale}: declare `scale: {places}` for it in datasets.yaml"
        )
    };
    let too_large = |v: f64| {
        format!(
            "{} is too large to hold exactly with {scale} decimal places",
            format_number(v)
        )
    };
    let factor = 10f64.powi(i32::from(scale));
    let exact_limit = 9_007_199_254_740_992.0; // 2^53
    let value = match cell {
        CellRef::Text(s) => {
            let t = nfkc_trim(s);
            match exact_decimal(&t) {
                // Text with binary noise past the places (31115.000000000004, as a program
                // printing a double writes it) is that value; a real extra place is refused.
                Some((v, places)) if places > usize::from(scale) => {
                    at_scale(v, scale).ok_or_else(|| too_many(places))?
                }
                Some((v, _)) => v,
                None => match parse_decimal(cell)? {
                    None => return Ok(None),
                    Some(v) => at_scale(v, scale).ok_or_else(|| too_many(places_of(v)))?,
                },
            }
        }
        other => match parse_decimal(other)? {
            None => return Ok(None),
            Some(v) => at_scale(v, scale).ok_or_else(|| too_many(places_of(v)))?,
        },
    };
    if (value * factor).abs() >= exact_limit {
        return Err(too_large(value));
    }
    Ok(Some(value))
}

/// `v` at `scale` places if it is that value but for binary noise.
fn at_scale(v: f64, scale: u8) -> Option<f64> {
    let factor = 10f64.powi(i32::from(scale));
    let r = (v * factor).round() / factor;
    ((v - r).abs() <= 1e-9 * v.abs().max(1.0)).then_some(r)
}

/// The places of a double's shortest exact form.
fn places_of(v: f64) -> usize {
    let t = format!("{v}");
    t.split_once('.').map_or(0, |(_, f)| f.len())
}

/// Plain decimal text (sign, digits, a point, thousands separators, 元 / 万元 / ¥), read
/// exactly: the double nearest the value, and its decimal places (trailing zeros not counted).
/// `None` for anything else (exponents, words), which `parse_decimal` judges.
fn exact_decimal(t: &str) -> Option<(f64, usize)> {
    let wan = t.ends_with("万元");
    let body = t
        .trim_end_matches("万元")
        .trim_end_matches('元')
        .trim_start_matches(['¥', '￥'])
        .trim();
    let (sign, body) = match body.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", body.strip_prefix('+').unwrap_or(body)),
    };
    let digits: String = body
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '_'))
        .collect();
    let (whole, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    // 万元: the point moves four places right.
    let (whole, frac) = if wan {
        let padded = format!("{frac:0<4}");
        let (moved, rest) = padded.split_at(4);
        (
            format!("{whole}{moved}"),
            rest.trim_end_matches('0').to_string(),
        )
    } else {
        (whole.to_string(), frac.to_string())
    };
    let whole = if whole.is_empty() { "0" } else { &whole };
    let v: f64 = format!("{sign}{whole}.{frac}0").parse().ok()?;
    v.is_finite().then_some((v, frac.len()))
}

pub fn parse_int(cell: CellRef<'_>) -> Result<Option<i64>, String> {
    match parse_decimal(cell)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(v as i64)),
        Some(v) => Err(format!("'{}' is not a whole number", format_number(v))),
    }
}

pub fn parse_bool(cell: CellRef<'_>) -> Result<Option<bool>, String> {
    match cell {
        CellRef::Bool(b) => Ok(Some(b)),
        CellRef::Empty => Ok(None),
        other => {
            let t = nfkc_trim(&other.display()).to_lowercase();
            match t.as_str() {
                "" => Ok(None),
                "1" | "true" | "yes" | "y" | "是" | "有" => Ok(Some(true)),
                "0" | "false" | "no" | "n" | "否" | "无" => Ok(Some(false)),
                _ => Err(format!("'{t}' is not yes/no (是/否, true/false, 1/0)")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> CellRef<'_> {
        CellRef::Text(s)
    }

    #[test]
    fn decimals_are_read_exactly_at_their_scale() {
        let text = |s: &'static str| CellRef::Text(s);
        assert_eq!(parse_decimal_at(text("1,200.50元"), 2), Ok(Some(1200.5)));
        assert_eq!(parse_decimal_at(text("30.30"), 2), Ok(Some(30.3)));
        assert_eq!(
            parse_decimal_at(text("12.3456万元"), 2),
            Ok(Some(123_456.0))
        );
        assert_eq!(parse_decimal_at(text("0.125万元"), 2), Ok(Some(1250.0)));
        assert_eq!(parse_decimal_at(text("-0.57"), 2), Ok(Some(-0.57)));
        assert_eq!(parse_decimal_at(text("1.500000"), 1), Ok(Some(1.5)));
        assert_eq!(parse_decimal_at(text(""), 2), Ok(None));
        assert_eq!(
            parse_decimal_at(text("31115.000000000004"), 6),
            Ok(Some(31115.0))
        );
        // More places than the column keeps: refused, not rounded.
        let err = parse_decimal_at(text("0.125"), 2).unwrap_err();
        assert!(
            err.contains("3 decimal places") && err.contains("scale: 3"),
            "{err}"
        );
        // A number cell's binary noise is the value at the scale; more is refused.
        assert_eq!(
            parse_decimal_at(CellRef::Number(0.1 + 0.2), 2),
            Ok(Some(0.3))
        );
        assert!(parse_decimal_at(CellRef::Number(1.23456789), 4).is_err());
        // Too large to stay exact.
        assert!(parse_decimal_at(text("90000000000000.5"), 4).is_err());
        assert!(parse_decimal_at(text("待核定"), 2).is_err());
    }

    #[test]
    fn dates_in_every_clerk_format() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1);
        for s in [
            "2024-03-01",
            "2024/3/1",
            "20240301",
            "2024年3月1日",
            "2024.03.01",
            " 2024-03-01 00:00:00",
            "２０２４-03-01",
        ] {
            assert_eq!(parse_date(text(s)), Ok(d), "{s}");
        }
        assert_eq!(parse_date(CellRef::Number(45352.0)), Ok(d));
        assert_eq!(parse_date(text("202403")), Ok(d));
        assert_eq!(parse_date(text("2024年3月")), Ok(d));
        assert_eq!(parse_date(text("")), Ok(None));
        assert!(parse_date(text("2024-02-30")).is_err());
        assert!(parse_date(text("待定")).is_err());
    }

    #[test]
    fn datetimes_keep_minutes() {
        let dt = parse_datetime(text("2025-09-01 14:05")).unwrap().unwrap();
        assert_eq!(dt.to_string(), "2025-09-01 14:05:00");
        // What databases export: a fraction of a second, kept.
        let dt = parse_datetime(text("2025-09-01 14:05:30.0"))
            .unwrap()
            .unwrap();
        assert_eq!(dt.to_string(), "2025-09-01 14:05:30");
        let dt = parse_datetime(text("2025-09-01T14:05:30.123456789"))
            .unwrap()
            .unwrap();
        assert_eq!(dt.to_string(), "2025-09-01 14:05:30.123456789");
        for bad in [
            "2025-09-01 14:05.5",
            "2025-09-01 14:05:30.",
            "2025-09-01 14:05:30.1234567890",
        ] {
            assert!(parse_datetime(text(bad)).is_err(), "{bad}");
        }
        // Year 0 is no register's year (chrono has one; Spark and Excel do not).
        assert!(parse_date(text("00000101")).is_err());
        assert!(parse_date(text("0000-01-01")).is_err());
    }

    #[test]
    fn amounts_as_clerks_write_them() {
        assert_eq!(parse_decimal(text("1,234.50元")), Ok(Some(1234.5)));
        assert_eq!(parse_decimal(text("１２３４")), Ok(Some(1234.0)));
        assert_eq!(parse_decimal(text("¥ 88")), Ok(Some(88.0)));
        assert_eq!(parse_decimal(text("12.5万元")), Ok(Some(125_000.0)));
        assert!(parse_decimal(text("待核定")).is_err());
        assert_eq!(parse_int(text("3")), Ok(Some(3)));
        assert!(parse_int(text("3.5")).is_err());
    }
}
