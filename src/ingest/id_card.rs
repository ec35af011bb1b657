//! PRC resident ID numbers (GB 11643-1999): normalisation of what clerks export, the check
//! character, legacy 15-digit upgrade, and the reason an ID cannot be trusted.

use std::borrow::Cow;

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

/// Weights of the first 17 digits in the check-character sum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by the weighted sum mod 11.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Why an ID is not usable as a matching key. Codes are stable: rules compare against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdIssue {
    Missing,
    Length,
    Characters,
    BirthDate,
    CheckCharacter,
    SpreadsheetDamage,
}

impl IdIssue {
    /// The code stored in `<column>_issue`.
    pub fn code(self) -> &'static str {
        match self {
            IdIssue::Missing => "missing",
            IdIssue::Length => "length",
            IdIssue::Characters => "characters",
            IdIssue::BirthDate => "birth_date",
            IdIssue::CheckCharacter => "check_character",
            IdIssue::SpreadsheetDamage => "spreadsheet_damage",
        }
    }
}

/// The outcome of normalising one ID cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCard {
    /// The cleaned text before validation (NFKC, trimmed, invisible characters removed, x → X).
    pub cleaned: String,
    /// The 18-character ID when valid.
    pub valid: Option<String>,
    pub issue: Option<IdIssue>,
    /// A 15-digit legacy ID was upgraded to 18.
    pub upgraded_legacy: bool,
    /// The cleaned text differs from the source text (full-width, spaces, apostrophe, case).
    pub was_cleaned: bool,
}

/// Computes the check character of 17 digits. Panics only if given non-digits (callers check).
pub fn check_character(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// Removes what spreadsheets and clerks add around an ID: NFKC (full-width digits, Ｘ, U+3000),
/// leading apostrophe, whitespace, tabs, zero-width spaces and BOMs; upper-cases x.
pub fn clean_id_text(raw: &str) -> String {
    clean_id_cow(raw).into_owned()
}

fn clean_id_cow(raw: &str) -> Cow<'_, str> {
    // Most IDs arrive clean: digits and an upper-case X, nothing to remove.
    if raw.bytes().all(|b| b.is_ascii_digit() || b == b'X') {
        return Cow::Borrowed(raw);
    }
    // NFKC leaves ASCII as it is: most IDs that need cleaning are ASCII (an apostrophe, a
    // tab), and normalising them was most of typing a month's new IDs.
    let nfkc: Cow<str> = match raw.is_ascii() {
        true => Cow::Borrowed(raw),
        false => Cow::Owned(raw.nfkc().collect()),
    };
    let stripped: String = nfkc
        .chars()
        .filter(|c| {
            !c.is_whitespace()
                && !matches!(
                    c,
                    '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{2060}'
                )
        })
        .collect();
    let stripped = stripped.trim_start_matches(['\'', '`', '‘', '’']);
    Cow::Owned(stripped.to_uppercase())
}

/// `IdCard` borrowing from the source text where nothing had to change (most IDs): what
/// ingest uses, without three allocations per ID.
pub struct IdCardRef<'a> {
    pub cleaned: Cow<'a, str>,
    pub valid: Option<Cow<'a, str>>,
    pub issue: Option<IdIssue>,
    pub upgraded_legacy: bool,
    pub was_cleaned: bool,
}

impl From<IdCard> for IdCardRef<'static> {
    fn from(id: IdCard) -> Self {
        IdCardRef {
            cleaned: Cow::Owned(id.cleaned),
            valid: id.valid.map(Cow::Owned),
            issue: id.issue,
            upgraded_legacy: id.upgraded_legacy,
            was_cleaned: id.was_cleaned,
        }
    }
}

pub fn normalize_id_ref(raw: &str) -> IdCardRef<'_> {
    if valid_as_is(raw) {
        return IdCardRef {
            cleaned: Cow::Borrowed(raw),
            valid: Some(Cow::Borrowed(raw)),
            issue: None,
            upgraded_legacy: false,
            was_cleaned: false,
        };
    }
    let cleaned = clean_id_cow(raw);
    let was_cleaned = cleaned != raw;
    let (valid, issue, upgraded_legacy) = match validate(&cleaned) {
        Ok((None, upgraded)) => (Some(cleaned.clone()), None, upgraded),
        Ok((Some(id), upgraded)) => (Some(Cow::Owned(id)), None, upgraded),
        Err(issue) => (None, Some(issue), false),
    };
    IdCardRef {
        cleaned,
        valid,
        issue,
        upgraded_legacy,
        was_cleaned,
    }
}

/// The text is a valid 18-character ID needing no cleaning: what `normalize_id_ref` would
/// give back unchanged, decided in one pass over the bytes: most IDs in an extract are like
/// this, and the general checks showed in converting payments.
#[inline]
pub fn valid_as_is(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut sum = 0u32;
    let mut digits = [0u32; 17];
    for ((d, &c), w) in digits.iter_mut().zip(&b[..17]).zip(WEIGHTS) {
        *d = u32::from(c.wrapping_sub(b'0'));
        if *d > 9 {
            return false;
        }
        sum += *d * w;
    }
    if CHECK[(sum % 11) as usize] as u8 != b[17] {
        return false;
    }
    let number = |from: usize, to: usize| digits[from..to].iter().fold(0, |n, d| n * 10 + d);
    let (y, m, d) = (number(6, 10), number(10, 12), number(12, 14));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1800..=2100).contains(&y) && (1..=days).contains(&d)
}

/// `valid_as_is` by the general checks: what the one-pass version must agree with.
#[cfg(test)]
fn valid_as_is_slowly(s: &str) -> bool {
    s.len() == 18 && matches!(clean_id_cow(s), Cow::Borrowed(_)) && validate(s) == Ok((None, false))
}

/// Normalises one ID as read from a text cell.
pub fn normalize_id_card(raw: &str) -> IdCard {
    let r = normalize_id_ref(raw);
    IdCard {
        cleaned: r.cleaned.into_owned(),
        valid: r.valid.map(Cow::into_owned),
        issue: r.issue,
        upgraded_legacy: r.upgraded_legacy,
        was_cleaned: r.was_cleaned,
    }
}

/// Normalises an ID that a spreadsheet stored as a number: at most 15 significant digits
/// survive, so an 18-digit ID stored this way has already lost digits.
pub fn normalize_id_number(value: f64) -> IdCard {
    let text = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:e}")
    };
    let mut out = normalize_id_card(&text);
    if out.valid.is_none() || value.abs() >= 1e15 {
        out.valid = None;
        out.upgraded_legacy = false;
        out.issue = Some(IdIssue::SpreadsheetDamage);
    }
    out
}

/// The valid ID (`None`: `s` itself) and whether a legacy ID was upgraded, or the issue.
fn validate(s: &str) -> Result<(Option<String>, bool), IdIssue> {
    if s.is_empty() {
        return Err(IdIssue::Missing);
    }
    // 3.20102E+17: the cell went through a number format somewhere.
    if s.contains('E')
        && s.contains('.')
        && s.chars().all(|c| c.is_ascii_digit() || "E+-.".contains(c))
    {
        return Err(IdIssue::SpreadsheetDamage);
    }
    let b = s.as_bytes();
    match b.len() {
        18 => {
            if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X')
            {
                return Err(IdIssue::Characters);
            }
            birth_date(&s[6..14]).ok_or(IdIssue::BirthDate)?;
            if check_character(&b[..17]) != b[17] as char {
                // Excel keeps 15 significant digits: an 18-digit ID typed as a number ends in
                // 000 and its check character no longer fits. A right check character after
                // 000 is a real ID (sequence x00 with check character 0: 1 in about 1,100).
                return Err(if s.ends_with("000") {
                    IdIssue::SpreadsheetDamage
                } else {
                    IdIssue::CheckCharacter
                });
            }
            Ok((None, false))
        }
        15 => {
            if !b.iter().all(u8::is_ascii_digit) {
                return Err(IdIssue::Characters);
            }
            // Always 19: the 1989 standard's centenarian sequences 996-999 would give birth
            // years in the 1800s, nobody in today's registers, and the same person appears in
            // the other registers with 19xx.
            let first17 = format!("{}19{}", &s[..6], &s[6..15]);
            birth_date(&first17[6..14]).ok_or(IdIssue::BirthDate)?;
            let check = check_character(first17.as_bytes());
            Ok((Some(format!("{first17}{check}")), true))
        }
        _ => {
            if s.chars().all(|c| c.is_ascii_digit() || c == 'X') {
                Err(IdIssue::Length)
            } else {
                Err(IdIssue::Characters)
            }
        }
    }
}

fn birth_date(yyyymmdd: &str) -> Option<NaiveDate> {
    let y: i32 = yyyymmdd[..4].parse().ok()?;
    let m: u32 = yyyymmdd[4..6].parse().ok()?;
    let d: u32 = yyyymmdd[6..8].parse().ok()?;
    if !(1800..=2100).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass check agrees with the general one on every kind of ID: valid ones across
    /// the calendar's edges (29 February, 31st of short months, years 1799-2101), each with
    /// every check character, and with a digit changed, an x, a space, a full-width digit.
    #[test]
    fn the_one_pass_check_agrees_with_the_general_checks() {
        let mut checked = 0;
        let mut valid = 0;
        for y in [1799, 1800, 1900, 1949, 2000, 2023, 2024, 2100, 2101] {
            for m in 0..=13 {
                for d in [0, 1, 28, 29, 30, 31, 32] {
                    let first17 = format!("110105{y:04}{m:02}{d:02}002");
                    for last in "0123456789Xx ".chars() {
                        let id = format!("{first17}{last}");
                        let mut variants = vec![id.clone(), format!("{}000", &id[..15])];
                        variants.push(id.replacen('1', "１", 1));
                        variants.push(format!("{}9{}", &id[..8], &id[9..]));
                        for v in variants {
                            assert_eq!(valid_as_is(&v), valid_as_is_slowly(&v), "{v}");
                            checked += 1;
                            valid += usize::from(valid_as_is(&v));
                        }
                    }
                }
            }
        }
        assert!(
            valid > 100,
            "{valid} of {checked} valid: the edges were not reached"
        );
        assert!(!valid_as_is("11010519491231002X "));
        assert!(valid_as_is("11010519491231002X"));
    }

    #[test]
    fn valid_id_with_x_check_character() {
        // 11010519491231002X is the standard's own example.
        let id = normalize_id_card("11010519491231002x");
        assert_eq!(id.valid.as_deref(), Some("11010519491231002X"));
        assert_eq!(id.issue, None);
        assert!(id.was_cleaned);
    }

    #[test]
    fn clerk_damage_is_cleaned() {
        for raw in [
            "'11010519491231002X",
            " 11010519491231002X\t",
            "１１０１０５１９４９１２３１００２Ｘ",
            "\u{feff}110105194912310\u{200b}02X",
            "\u{3000}11010519491231002X",
        ] {
            let id = normalize_id_card(raw);
            assert_eq!(id.valid.as_deref(), Some("11010519491231002X"), "{raw:?}");
        }
    }

    #[test]
    fn legacy_15_digit_is_upgraded() {
        let id = normalize_id_card("110105491231002");
        assert_eq!(id.valid.as_deref(), Some("11010519491231002X"));
        assert!(id.upgraded_legacy);
        // Sequences 996-999 get the century 19 too: nobody in today's registers was born in
        // the 1800s, and the same person is 19xx in the other registers.
        for seq in ["996", "997", "998", "999"] {
            let id = normalize_id_card(&format!("110105491231{seq}"));
            let first17 = format!("11010519491231{seq}");
            let want = format!("{first17}{}", check_character(first17.as_bytes()));
            assert_eq!(id.valid.as_deref(), Some(want.as_str()), "sequence {seq}");
            assert!(id.upgraded_legacy);
        }
    }

    #[test]
    fn invalid_ids_say_why() {
        let cases = [
            ("", IdIssue::Missing),
            ("11010519491231002", IdIssue::Length),
            ("11010519491231002Y", IdIssue::Characters),
            ("110105194902300021", IdIssue::BirthDate),
            ("110105194912310021", IdIssue::CheckCharacter),
            ("3.20102E+17", IdIssue::SpreadsheetDamage),
            // 000 and a check character that does not fit: digits were lost to a number format.
            ("110105194912310000", IdIssue::SpreadsheetDamage),
            ("320102198001021000", IdIssue::SpreadsheetDamage),
        ];
        for (raw, issue) in cases {
            assert_eq!(normalize_id_card(raw).issue, Some(issue), "{raw:?}");
            assert_eq!(normalize_id_card(raw).valid, None);
        }
    }

    /// GB 11643-1999 makes no exception for a sequence ending in 00 with the check character 0:
    /// such an ID is as valid as any other, and must match its other records.
    #[test]
    fn valid_id_ending_in_000_is_valid() {
        // Weighted sum of 32010219800101100 is 133 = 11 × 12 + 1, check character 0
        // (worked by hand from the standard's weights, not by this module).
        for id in ["320102198001011000", "320102198001038000"] {
            let n = normalize_id_card(id);
            assert_eq!(n.valid.as_deref(), Some(id));
            assert_eq!(n.issue, None);
            assert!(valid_as_is(id));
        }
        // Decorated the way clerks export it, still valid.
        let n = normalize_id_card("'３２０１０２１９８００１０１１０００ ");
        assert_eq!(n.valid.as_deref(), Some("320102198001011000"));
    }

    #[test]
    fn ids_stored_as_numbers_are_damaged() {
        assert_eq!(
            normalize_id_number(110105194912310020.0).issue,
            Some(IdIssue::SpreadsheetDamage)
        );
    }

    #[test]
    fn every_check_character_round_trips() {
        // Property: for any 17 digits, appending the computed check character validates.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..5000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let day = 1 + (state >> 33) % 28;
            let month = 1 + (state >> 40) % 12;
            let year = 1930 + (state >> 45) % 80;
            let seq = 1 + (state >> 20) % 995;
            let first17 = format!("320102{year:04}{month:02}{day:02}{seq:03}");
            let id = format!("{first17}{}", check_character(first17.as_bytes()));
            let n = normalize_id_card(&id);
            assert_eq!(n.valid.as_deref(), Some(id.as_str()));
            // A changed check character is always caught.
            let wrong = if id.ends_with('1') { '2' } else { '1' };
            let bad = format!("{first17}{wrong}");
            let want = if bad.ends_with("000") {
                IdIssue::SpreadsheetDamage
            } else {
                IdIssue::CheckCharacter
            };
            assert_eq!(normalize_id_card(&bad).issue, Some(want));
        }
    }
}
