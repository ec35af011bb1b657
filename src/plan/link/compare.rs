//! Comparing one field of two records at a few levels of agreement. Each record's value is
//! prepared once (folded, split, tokenised); a pair's level is then a cheap function of the
//! two prepared values. Level 0 is disagreement, the highest level the closest agreement;
//! `None` is a NULL on either side, which weighs nothing.

use super::{names, similar};
use crate::ingest::id_card::check_character;
use crate::job::rule::CompareMethod;

/// The label of each level, lowest first: what an inspector reads beside a pair.
pub fn labels(method: CompareMethod) -> &'static [&'static str] {
    match method {
        CompareMethod::ChineseName => &[
            "不同 / different",
            "名同姓不同 / same given name, other surname",
            "同姓，名差一字 / same surname, one given-name character differs",
            "同音 / same pronunciation",
            "同名（繁简、异体归一） / same name",
        ],
        CompareMethod::Text => &[
            "不同 / different",
            "相近 / similar (Jaro-Winkler ≥ 0.80)",
            "很相近 / close (Jaro-Winkler ≥ 0.92)",
            "相同 / same",
        ],
        CompareMethod::Date => &[
            "不同 / different",
            "同年 / same year",
            "差一位数字 / one digit off",
            "日月颠倒 / day and month swapped",
            "相同 / same",
        ],
        CompareMethod::Id => &[
            "不同 / different",
            "相差两位 / two characters apart",
            "相差一位或相邻两位颠倒 / one character apart, or two adjacent swapped",
            "相同 / same",
        ],
        CompareMethod::Address => &[
            "不同 / different",
            "部分相同 / some in common",
            "大部分相同 / mostly the same",
            "相同 / same",
        ],
        CompareMethod::Exact => &["不同 / different", "相同 / same"],
    }
}

/// The methods whose partial levels are similarities a rule may set (`thresholds`).
pub fn takes_thresholds(method: CompareMethod) -> bool {
    matches!(method, CompareMethod::Text | CompareMethod::Address)
}

/// The levels' labels, lowest first, with a rule's own `thresholds` (highest first) in place
/// of the method's partial levels.
pub fn level_labels(method: CompareMethod, thresholds: Option<&[f64]>) -> Vec<String> {
    let own = labels(method);
    let Some(t) = thresholds.filter(|_| takes_thresholds(method)) else {
        return own.iter().map(|l| l.to_string()).collect();
    };
    let partial = |x: f64| match method {
        CompareMethod::Address => format!("共有 ≥ {x} / in common ≥ {x}"),
        _ => format!("相近 ≥ {x} / Jaro-Winkler ≥ {x}"),
    };
    let mut out = vec![own[0].to_string()];
    out.extend(t.iter().rev().map(|x| partial(*x)));
    out.push(own[own.len() - 1].to_string());
    out
}

/// The default u for `levels` levels: the method's own when it has that many, else its
/// disagreement and full agreement kept and its partial levels' share spread evenly.
pub fn u_default_for(method: CompareMethod, levels: usize) -> Vec<f64> {
    let own = u_default(method);
    if own.len() == levels || levels < 2 {
        return own.to_vec();
    }
    let (top, partial) = (
        own[own.len() - 1],
        own[1..own.len() - 1].iter().sum::<f64>(),
    );
    let each = partial / (levels - 2) as f64;
    let mut out = vec![1.0 - top - partial];
    out.extend(std::iter::repeat_n(each, levels - 2));
    out.push(top);
    out
}

/// What a random pair of records shows at each level, before any data is seen (lowest level
/// first): the prior that a handful of records (a fixture, a small register) leans on, and
/// a million sampled pairs outweigh.
pub fn u_default(method: CompareMethod) -> &'static [f64] {
    match method {
        CompareMethod::ChineseName => &[0.988, 0.005, 0.005, 0.001, 0.001],
        CompareMethod::Text => &[0.97, 0.02, 0.005, 0.005],
        CompareMethod::Date => &[0.982_69, 0.015, 0.002, 0.000_01, 0.000_3],
        CompareMethod::Id => &[0.999_988, 0.000_01, 0.000_001, 0.000_001],
        CompareMethod::Address => &[0.948, 0.05, 0.001, 0.001],
        CompareMethod::Exact => &[0.95, 0.05],
    }
}

/// Whether a method weighs agreement on a common value less by default.
pub fn term_frequency_default(method: CompareMethod) -> bool {
    matches!(
        method,
        CompareMethod::ChineseName | CompareMethod::Text | CompareMethod::Exact
    )
}

/// The characters of a value that similarity reads (more than any name, ID or address has).
const MAX_COMPARED: usize = 256;

/// One record's value, ready to compare.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The folded value: what "the same" means, and the term-frequency key.
    pub folded: String,
    /// chinese_name: characters of the surname; the rest is the given name.
    surname_len: usize,
    /// chinese_name: toneless readings per character.
    readings: Vec<Vec<&'static str>>,
    /// address: hashed tokens, sorted and deduplicated.
    tokens: Vec<u64>,
    /// chinese_name, text, id: the folded value's characters, split once per record.
    chars: Vec<char>,
    /// id: an 18-character resident ID as written whose check character is right.
    vouched: bool,
}

/// Prepares a value; `None` (NULL, or nothing left after folding) weighs nothing.
pub fn prepare(method: CompareMethod, raw: Option<&str>) -> Option<Prepared> {
    let raw = raw?;
    let mut p = Prepared {
        folded: String::new(),
        surname_len: 0,
        readings: Vec::new(),
        tokens: Vec::new(),
        chars: Vec::new(),
        vouched: false,
    };
    match method {
        CompareMethod::ChineseName => {
            p.folded = names::fold(raw);
            let (surname, _) = names::split(&p.folded);
            p.surname_len = surname.chars().count();
            p.readings = names::readings(&p.folded);
        }
        CompareMethod::Text => p.folded = raw.trim().to_lowercase(),
        CompareMethod::Exact => p.folded = raw.trim().to_string(),
        CompareMethod::Date => p.folded = date_digits(raw)?,
        CompareMethod::Id => (p.folded, p.vouched) = id_form(raw),
        CompareMethod::Address => {
            p.folded = names::fold(raw);
            p.tokens = tokens(raw, &p.folded);
        }
    }
    if matches!(
        method,
        CompareMethod::ChineseName | CompareMethod::Text | CompareMethod::Id
    ) {
        // Bounded: Jaro-Winkler and edit distances take time in the product of the lengths,
        // and a cell of a hundred thousand characters must not stall the run. Equality still
        // reads the whole value.
        p.chars = p.folded.chars().take(MAX_COMPARED).collect();
    }
    (!p.folded.is_empty()).then_some(p)
}

/// The level a similarity reaches among thresholds, highest first: one above the number of
/// thresholds it does not reach.
fn graded(score: f64, thresholds: &[f64]) -> u8 {
    thresholds
        .iter()
        .position(|t| score >= *t)
        .map_or(0, |i| (thresholds.len() - i) as u8)
}

/// The level two prepared values agree at; `thresholds` (highest first) are a rule's own for
/// `text` and `address`.
pub fn level(method: CompareMethod, thresholds: Option<&[f64]>, a: &Prepared, b: &Prepared) -> u8 {
    if a.folded == b.folded {
        let partial = thresholds.map_or(labels(method).len() - 2, <[f64]>::len);
        return (partial + 1) as u8;
    }
    match method {
        CompareMethod::ChineseName => name_level(a, b),
        CompareMethod::Text => graded(
            similar::jaro_winkler(&a.chars, &b.chars),
            thresholds.unwrap_or(&[0.92, 0.8]),
        ),
        CompareMethod::Exact => 0,
        CompareMethod::Date => date_level(&a.folded, &b.folded),
        // Two different IDs that both pass their check character are two people's: GB 11643's
        // MOD 11-2 check catches every single wrong digit and every swap of two adjacent
        // ones, so a mistyped ID almost never passes. Counted as near, they would link
        // people born on one day in one county, whose IDs differ in the last few digits.
        CompareMethod::Id if a.vouched && b.vouched => 0,
        CompareMethod::Id => match similar::osa(&a.chars, &b.chars) {
            1 => 2,
            2 => 1,
            _ => 0,
        },
        CompareMethod::Address => graded(
            jaccard(&a.tokens, &b.tokens),
            thresholds.unwrap_or(&[0.7, 0.4]),
        ),
    }
}

fn name_level(a: &Prepared, b: &Prepared) -> u8 {
    let han = |p: &Prepared| p.folded.chars().next().is_some_and(names::is_han);
    if !han(a) || !han(b) {
        // Names in Latin letters: how close the spellings are.
        return if similar::jaro_winkler(&a.chars, &b.chars) >= 0.92 {
            2
        } else {
            0
        };
    }
    let sounds = |x: &[Vec<&str>], y: &[Vec<&str>]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(p, q)| !p.is_empty() && p.iter().any(|r| q.contains(r)))
    };
    let (ca, cb) = (&a.chars, &b.chars);
    let same = |i: &[char], j: &[char], x: &[Vec<&str>], y: &[Vec<&str>]| i == j || sounds(x, y);
    if sounds(&a.readings, &b.readings) {
        return 3;
    }
    let (sa, sb) = (a.surname_len, b.surname_len);
    let surname_same = same(&ca[..sa], &cb[..sb], &a.readings[..sa], &b.readings[..sb]);
    let (ga, gb) = (&ca[sa..], &cb[sb..]);
    if surname_same && !ga.is_empty() && !gb.is_empty() {
        let differing = ga.iter().zip(gb).filter(|(x, y)| x != y).count();
        let one_off = if ga.len() == gb.len() {
            differing == 1
        } else {
            // One character added or dropped: 张伟 / 张伟伟.
            let (short, long) = if ga.len() < gb.len() {
                (ga, gb)
            } else {
                (gb, ga)
            };
            long.len() == short.len() + 1 && (long.starts_with(short) || long.ends_with(short))
        };
        if one_off {
            return 2;
        }
    }
    if !ga.is_empty() && same(ga, gb, &a.readings[sa..], &b.readings[sb..]) {
        return 1;
    }
    0
}

/// The digits of a date as YYYYMMDD (`1956-09-09`, `1956/9/9`, `19560909`), or None.
fn date_digits(raw: &str) -> Option<String> {
    let parts: Vec<&str> = raw
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    let digits = match parts.as_slice() {
        [all] if all.len() == 8 => (*all).to_string(),
        [y, m, d, ..] if y.len() == 4 && m.len() <= 2 && d.len() <= 2 => {
            format!("{y}{m:0>2}{d:0>2}")
        }
        _ => return None,
    };
    Some(digits)
}

fn date_level(a: &str, b: &str) -> u8 {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    // Day and month swapped: 1956-09-03 / 1956-03-09.
    if ab[..4] == bb[..4] && ab[4..6] == bb[6..8] && ab[6..8] == bb[4..6] {
        return 3;
    }
    let differing = ab.iter().zip(bb).filter(|(x, y)| x != y).count();
    let adjacent_swap = differing == 2
        && (0..7).any(|i| ab[i] == bb[i + 1] && ab[i + 1] == bb[i] && ab[i] != ab[i + 1]);
    if differing == 1 || adjacent_swap {
        return 2;
    }
    if ab[..4] == bb[..4] {
        return 1;
    }
    0
}

/// An identifier as compared: NFKC, letters and digits only, upper case; a 15-digit resident
/// ID in its 18-character form (so one person's old and new IDs are the same).
/// Also whether it was written as 18 characters with the right check character (a 15-digit
/// ID has none to vouch for it).
fn id_form(raw: &str) -> (String, bool) {
    use unicode_normalization::UnicodeNormalization;
    let s: String = raw
        .nfkc()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        let mut body = format!("{}19{}", &s[..6], &s[6..]);
        let check = check_character(body.as_bytes());
        body.push(check);
        return (body, false);
    }
    let b = s.as_bytes();
    let vouched = b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && check_character(&b[..17]) as u8 == b[17];
    (s, vouched)
}

/// Address tokens: pairs of neighbouring characters where the text is Chinese (no spaces to
/// split on), words otherwise; hashed, sorted, deduplicated.
fn tokens(raw: &str, folded: &str) -> Vec<u64> {
    let hash = |s: &str| xxhash_rust::xxh3::xxh3_64(s.as_bytes());
    let mut out: Vec<u64> = if folded.chars().any(names::is_han) {
        let chars: Vec<char> = folded.chars().collect();
        if chars.len() < 2 {
            vec![hash(folded)]
        } else {
            chars
                .windows(2)
                .map(|w| hash(&w.iter().collect::<String>()))
                .collect()
        }
    } else {
        raw.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| hash(&w.to_lowercase()))
            .collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    // Both sorted and deduplicated: count the common ones in one merge.
    let (mut i, mut j, mut both) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / (a.len() + b.len() - both) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(method: CompareMethod, a: &str, b: &str) -> Option<u8> {
        let (x, y) = (prepare(method, Some(a))?, prepare(method, Some(b))?);
        Some(level(method, None, &x, &y))
    }

    #[test]
    fn default_u_has_a_probability_per_level() {
        use CompareMethod::*;
        for m in [ChineseName, Text, Date, Id, Address, Exact] {
            assert_eq!(u_default(m).len(), labels(m).len(), "{m:?}");
            assert!(
                (u_default(m).iter().sum::<f64>() - 1.0).abs() < 1e-9,
                "{m:?}"
            );
        }
    }

    #[test]
    fn chinese_names_at_each_level() {
        use CompareMethod::ChineseName as N;
        assert_eq!(lvl(N, "張偉", "张伟"), Some(4));
        assert_eq!(lvl(N, "张 伟", "张伟"), Some(4));
        assert_eq!(lvl(N, "张伟", "张玮"), Some(3));
        assert_eq!(lvl(N, "张伟", "张强"), Some(2));
        assert_eq!(lvl(N, "张伟", "张伟伟"), Some(2));
        assert_eq!(lvl(N, "欧阳明华", "欧阳明辉"), Some(2));
        assert_eq!(lvl(N, "李伟", "张伟"), Some(1));
        assert_eq!(lvl(N, "李强", "张伟"), Some(0));
        assert_eq!(lvl(N, "王建国", "李红"), Some(0));
        assert_eq!(lvl(N, "", "张伟"), None);
        assert_eq!(lvl(N, "john smith", "jon smith"), Some(2));
    }

    #[test]
    fn dates_at_each_level() {
        use CompareMethod::Date as D;
        assert_eq!(lvl(D, "1956-09-03", "19560903"), Some(4));
        assert_eq!(lvl(D, "1956-09-03", "1956-03-09"), Some(3));
        assert_eq!(lvl(D, "1956-09-03", "1956-09-08"), Some(2));
        assert_eq!(lvl(D, "1956-09-03", "1965-09-03"), Some(2));
        assert_eq!(lvl(D, "1956-09-03", "1956-12-25"), Some(1));
        assert_eq!(lvl(D, "1956-09-03", "1971-02-14"), Some(0));
        assert_eq!(lvl(D, "1956/9/3", "1956-09-03"), Some(4));
        assert_eq!(lvl(D, "unknown", "1956-09-03"), None);
    }

    #[test]
    fn ids_at_each_level() {
        use CompareMethod::Id as I;
        // A 15-digit ID and its 18-character form are the same person's.
        assert_eq!(lvl(I, "110105491231002", "11010519491231002X"), Some(3));
        assert_eq!(lvl(I, "11010519491231002X", "11010519491231002x"), Some(3));
        assert_eq!(lvl(I, "11010519491231002X", "11010519491231003X"), Some(2));
        assert_eq!(lvl(I, "11010519491231002X", "11010519491213002X"), Some(2));
        assert_eq!(lvl(I, "11010519491231002X", "11010519491231013X"), Some(1));
        assert_eq!(lvl(I, "11010519491231002X", "32010219800101123X"), Some(0));
        // Both pass their check character: two people born on one day in one county, however
        // few digits apart (a mistyped ID fails it, as 003X above does).
        assert_eq!(lvl(I, "11010519491231002X", "110105194912310038"), Some(0));
        assert_eq!(lvl(I, "11010519491231002X", "110105194912310134"), Some(0));
        // A 15-digit ID has no check character to vouch for it: still compared by distance.
        assert_eq!(lvl(I, "110105491231003", "11010519491231002X"), Some(1));
    }

    #[test]
    fn a_rules_own_thresholds_make_the_partial_levels() {
        use CompareMethod::{Address as A, Text as T};
        let at = |m, t: &[f64], a: &str, b: &str| {
            level(
                m,
                Some(t),
                &prepare(m, Some(a)).unwrap(),
                &prepare(m, Some(b)).unwrap(),
            )
        };
        // Jaro-Winkler of martha / marhta is 0.961, of dixon / dicksonx 0.813.
        assert_eq!(at(T, &[0.97, 0.9, 0.7], "martha", "marhta"), 2);
        assert_eq!(at(T, &[0.97, 0.9, 0.7], "dixon", "dicksonx"), 1);
        assert_eq!(at(T, &[0.97, 0.9, 0.7], "abc", "xyz"), 0);
        assert_eq!(at(T, &[0.97, 0.9, 0.7], "Smith", "smith"), 4);
        assert_eq!(at(T, &[0.5], "martha", "marhta"), 1);
        assert_eq!(at(T, &[0.5], "martha", "martha"), 2);
        assert_eq!(at(A, &[0.9], "城关镇东街12号", "城关镇东街12号3单元"), 0);
        assert_eq!(
            level_labels(T, Some(&[0.97, 0.9])),
            [
                "不同 / different",
                "相近 ≥ 0.9 / Jaro-Winkler ≥ 0.9",
                "相近 ≥ 0.97 / Jaro-Winkler ≥ 0.97",
                "相同 / same"
            ]
        );
        let u = u_default_for(T, 5);
        assert_eq!(u.len(), 5);
        assert!((u.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(u_default_for(T, 4), u_default(T));
    }

    #[test]
    fn a_huge_cell_is_compared_on_its_first_characters() {
        use CompareMethod::{Id as I, Text as T};
        let a = "x".repeat(100_000);
        let b = format!("{}y", "x".repeat(99_999));
        // Not the same value, alike on what similarity reads: the closest partial level.
        assert_eq!(lvl(T, &a, &b), Some(2));
        assert_eq!(lvl(T, &a, &a), Some(3));
        assert_eq!(lvl(I, &"1".repeat(50_000), &"2".repeat(50_000)), Some(0));
    }

    #[test]
    fn addresses_and_text() {
        use CompareMethod::{Address as A, Text as T};
        assert_eq!(lvl(A, "城关镇东街12号", "城关镇東街12號"), Some(3));
        assert_eq!(lvl(A, "城关镇东街12号", "城关镇东街12号3单元"), Some(2));
        assert_eq!(lvl(A, "城关镇东街12号", "城关镇东街40号"), Some(1));
        assert_eq!(lvl(A, "城关镇东街12号", "新华路8号"), Some(0));
        assert_eq!(lvl(A, "12 main street", "12 Main St"), Some(1));
        assert_eq!(lvl(T, "Smith", "smith "), Some(3));
        assert_eq!(lvl(T, "martha", "marhta"), Some(2));
        assert_eq!(lvl(T, "dixon", "dicksonx"), Some(1));
        assert_eq!(lvl(T, "abc", "xyz"), Some(0));
    }
}
