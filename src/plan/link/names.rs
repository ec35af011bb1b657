//! Chinese names as a person reads them: one written form (simplified, common variant
//! characters folded, full-width and spacing removed), the surname apart from the given name,
//! and the pinyin of each character (every reading, for surnames such as 单 or 曾).
//!
//! The traditional → simplified table `t2s.txt` is taken from the fast2s crate (MIT, Copyright
//! 2021 Tyr Chen), one character per line.

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::ToPinyinMulti;
use unicode_normalization::UnicodeNormalization;

/// Variant characters (异体字) seen in names that the simplification table leaves alone.
const VARIANTS: &[(char, char)] = &[
    ('峯', '峰'),
    ('羣', '群'),
    ('堃', '坤'),
    ('喆', '哲'),
    ('髙', '高'),
    ('淸', '清'),
    ('眞', '真'),
    ('敎', '教'),
    ('竝', '并'),
    ('珎', '珍'),
    ('敍', '叙'),
    ('敘', '叙'),
    ('艷', '艳'),
    ('豔', '艳'),
    ('綫', '线'),
    ('逕', '径'),
];

/// Compound surnames (复姓): the surname is their two characters, not the first.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "申屠", "南宫", "独孤", "百里", "呼延", "澹台", "公冶", "太史",
    "闻人", "赫连", "钟离", "宗政", "濮阳", "淳于", "单于", "万俟", "东郭", "西门", "第五",
];

fn table() -> &'static HashMap<char, char> {
    static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map: HashMap<char, char> = include_str!("t2s.txt")
            .lines()
            .filter_map(|l| {
                let mut chars = l.split_whitespace().map(|w| w.chars().next());
                Some((chars.next()??, chars.next()??))
            })
            .collect();
        map.extend(VARIANTS.iter().copied());
        map
    })
}

/// True for a character of the CJK ideograph blocks.
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// One written form of a name: NFKC (full-width letters and digits), spaces, middle dots and
/// punctuation removed, traditional and variant characters simplified, Latin letters lowered.
pub fn fold(name: &str) -> String {
    let t = table();
    name.nfkc()
        .filter(|c| c.is_alphanumeric() || is_han(*c))
        .map(|c| *t.get(&c).unwrap_or(&c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Surname and given name of a folded name (a compound surname when it is one of the known
/// ones); a name of one character or without Han characters has no given name.
pub fn split(folded: &str) -> (&str, &str) {
    if !folded.chars().next().is_some_and(is_han) {
        return (folded, "");
    }
    for s in COMPOUND_SURNAMES {
        if folded.starts_with(s) && folded.chars().count() > 2 {
            return folded.split_at(s.len());
        }
    }
    let first = folded.chars().next().map_or(0, char::len_utf8);
    folded.split_at(first)
}

/// Every toneless reading of each character (a non-Han character reads as itself).
pub fn readings(folded: &str) -> Vec<Vec<&'static str>> {
    folded
        .chars()
        .map(|c| readings_of(c).unwrap_or_default())
        .collect()
}

fn readings_of(c: char) -> Option<Vec<&'static str>> {
    let mut r: Vec<&'static str> = c
        .to_pinyin_multi()?
        .into_iter()
        .map(|p| p.plain())
        .collect();
    r.dedup();
    Some(r)
}

/// A folded name's toneless pinyin, each character's first (most common) reading, separated
/// by spaces; a character without a reading stands for itself.
pub fn pinyin(folded: &str) -> String {
    folded
        .chars()
        .map(|c| match c.to_pinyin_multi().and_then(|m| m.get_opt(0)) {
            Some(p) => p.plain().to_string(),
            None => c.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two folded strings sound the same: as many characters, and each pair shares a reading
/// (non-Han characters must be equal).
pub fn homophones(a: &str, b: &str) -> bool {
    let (ra, rb) = (readings(a), readings(b));
    ra.len() == rb.len()
        && a.chars()
            .zip(b.chars())
            .zip(ra.iter().zip(&rb))
            .all(|((ca, cb), (x, y))| {
                ca == cb || (!x.is_empty() && x.iter().any(|r| y.contains(r)))
            })
}

/// The tables behind `fold`, `split` and `readings`, for the Spark runner's copy of them (it
/// cannot call these functions): the folding table, the ranges of characters Rust counts as
/// alphanumeric (Python's `isalnum` differs on marks and numerals), the compound surnames and
/// every character's readings. Written into each Spark bundle as `names.json`.
pub fn tables() -> &'static str {
    static TABLES: OnceLock<String> = OnceLock::new();
    TABLES.get_or_init(|| build_tables().to_string())
}

fn build_tables() -> serde_json::Value {
    let mut fold: Vec<(char, char)> = table().iter().map(|(a, b)| (*a, *b)).collect();
    fold.sort_unstable();
    let mut alnum: Vec<[u32; 2]> = Vec::new();
    let mut readings = serde_json::Map::new();
    for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
        if c.is_alphanumeric() {
            match alnum.last_mut() {
                Some(last) if last[1] + 1 == c as u32 => last[1] = c as u32,
                _ => alnum.push([c as u32, c as u32]),
            }
        }
        if let Some(r) = readings_of(c) {
            readings.insert(c.to_string(), serde_json::json!(r));
        }
    }
    serde_json::json!({
        "fold": fold.iter().map(|(a, b)| (a.to_string(), serde_json::json!(b.to_string()))).collect::<serde_json::Map<_, _>>(),
        "alnum": alnum,
        "compound_surnames": COMPOUND_SURNAMES,
        "readings": readings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_and_variant_forms_fold_to_one() {
        assert_eq!(fold("張偉"), fold("张伟"));
        assert_eq!(fold(" 陳 志 峯 "), "陈志峰");
        assert_eq!(fold("歐陽·娜娜"), "欧阳娜娜");
        assert_eq!(fold("ＬＩ Ｍｉｎｇ"), "liming");
        assert_ne!(fold("张伟"), fold("张玮"));
    }

    #[test]
    fn surnames_are_kept_apart() {
        assert_eq!(split("张伟"), ("张", "伟"));
        assert_eq!(split("欧阳娜娜"), ("欧阳", "娜娜"));
        // 欧阳 alone is a surname-and-given name of two characters, not a compound surname.
        assert_eq!(split("欧阳"), ("欧", "阳"));
        assert_eq!(split("smith"), ("smith", ""));
    }

    #[test]
    fn homophones_by_any_reading() {
        assert!(homophones("张伟", "张玮"));
        assert!(homophones("张伟", "章炜"));
        assert!(!homophones("张伟", "张强"));
        assert!(!homophones("张伟", "张伟明"));
        // 单 reads shan as a surname and dan otherwise: either reading counts.
        assert!(homophones("单丽", "善丽"));
        assert!(homophones("单丽", "丹丽"));
        assert!(!homophones("ab", "ac"));
    }
}
