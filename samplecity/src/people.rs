//! People of the sample city: a seeded generator of names and valid resident IDs, and the
//! ways clerks spell an ID in an export.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};

/// GB 11643-1999: the weights of the first 17 digits, and the check character by the weighted
/// sum mod 11. The generator computes IDs from the standard itself, not from the engine it
/// tests.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character of 17 digits.
pub fn check_character(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] as char
}

/// Whether an 18-character ID's check character fits its first 17 digits.
pub fn check_fits(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && check_character(&b[..17]) == b[17] as char
}

/// The ID a clerk's spelling (`decorate`) stands for: full-width digits and Ｘ back to ASCII,
/// spaces, tabs and a leading apostrophe removed, x upper-cased, a 15-digit ID upgraded with
/// the century 19.
pub fn undecorate(text: &str) -> String {
    let plain: String = text
        .chars()
        .filter_map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + '0' as u32),
            'Ｘ' | 'x' => Some('X'),
            c if c.is_whitespace() || c == '\'' => None,
            c => Some(c),
        })
        .collect();
    if plain.len() == 15 {
        let first17 = format!("{}19{}", &plain[..6], &plain[6..]);
        let check = check_character(first17.as_bytes());
        format!("{first17}{check}")
    } else {
        plain
    }
}

/// SplitMix64: small, seeded, identical on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The districts of the sample city: code and name.
pub const DISTRICTS: [(&str, &str); 8] = [
    ("320102", "玄武区"),
    ("320104", "秦淮区"),
    ("320105", "建邺区"),
    ("320106", "鼓楼区"),
    ("320111", "浦口区"),
    ("320113", "栖霞区"),
    ("320114", "雨花台区"),
    ("320115", "江宁区"),
];

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";
const GIVEN: &str = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英文华建国建华志强海燕春梅玉兰德明凤英金花淑珍荣国红梅秀珍小红永刚振华国强桂芳丽娟晓东";

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub id: String,
    pub birth: NaiveDate,
    pub district: usize,
}

impl Person {
    pub fn district_name(&self) -> &'static str {
        DISTRICTS[self.district].1
    }
    pub fn age_in_2025(&self) -> i32 {
        2025 - self.birth.year()
    }
}

/// Hands out distinct people.
pub struct Pool {
    rng: Rng,
    used: HashSet<String>,
}

impl Pool {
    pub fn new(rng: &mut Rng, _capacity: usize) -> Pool {
        Pool {
            rng: Rng::new(rng.next_u64()),
            used: HashSet::new(),
        }
    }

    fn make(&mut self) -> Person {
        let rng = &mut self.rng;
        let surnames: Vec<char> = SURNAMES.chars().collect();
        let given: Vec<char> = GIVEN.chars().collect();
        let mut name = String::new();
        name.push(surnames[rng.below(surnames.len() as u64) as usize]);
        for _ in 0..1 + rng.below(2) {
            name.push(given[rng.below(given.len() as u64) as usize]);
        }
        let district = rng.below(DISTRICTS.len() as u64) as usize;
        let birth = NaiveDate::from_ymd_opt(1935, 1, 1).expect("date")
            + chrono::Duration::days(rng.below(70 * 365) as i64);
        let seq = 1 + rng.below(995);
        let first17 = format!(
            "{}{}{seq:03}",
            DISTRICTS[district].0,
            birth.format("%Y%m%d")
        );
        let id = format!("{first17}{}", check_character(first17.as_bytes()));
        Person {
            name,
            id,
            birth,
            district,
        }
    }

    /// The next person meeting `want`, never one handed out before.
    pub fn next_where(&mut self, want: impl Fn(&Person) -> bool) -> Person {
        loop {
            let p = self.make();
            // Valid IDs ending in 000 are planted on purpose (`next_ending_000`); keeping them
            // out of the background keeps those cases countable.
            if p.id.ends_with("000") || !want(&p) || !self.used.insert(p.id.clone()) {
                continue;
            }
            return p;
        }
    }
    pub fn next(&mut self) -> Person {
        self.next_where(|_| true)
    }
    pub fn next_retiree(&mut self) -> Person {
        self.next_where(|p| p.age_in_2025() >= 62)
    }
    pub fn next_born_1900s(&mut self) -> Person {
        self.next_where(|p| p.birth.year() < 2000)
    }

    /// The next person meeting `want` whose valid ID ends in 000: sequence x00 with the check
    /// character 0, as about 1 real ID in 1,100 has.
    pub fn next_ending_000(&mut self, want: impl Fn(&Person) -> bool) -> Person {
        loop {
            let p = self.make();
            if !want(&p) {
                continue;
            }
            for hundreds in 1..=9 {
                let first17 = format!("{}{hundreds}00", &p.id[..14]);
                if check_character(first17.as_bytes()) != '0' {
                    continue;
                }
                let id = format!("{first17}0");
                if self.used.insert(id.clone()) {
                    return Person { id, ..p };
                }
            }
        }
    }

    /// The next person born in the 1900s with one of the 1989 standard's sequences 996-999,
    /// whose 15-digit ID the standard would have dated to the 1800s.
    pub fn next_sequence_996_to_999(&mut self) -> Person {
        loop {
            let p = self.make();
            let seq = 996 + self.rng.below(4);
            let first17 = format!("{}{seq}", &p.id[..14]);
            let id = format!("{first17}{}", check_character(first17.as_bytes()));
            if p.birth.year() < 2000 && self.used.insert(id.clone()) {
                return Person { id, ..p };
            }
        }
    }
}

pub fn fullwidth(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '0'..='9' => {
                char::from_u32(0xFF10 + (c as u32 - '0' as u32)).expect("full-width digit")
            }
            'X' => 'Ｘ',
            c => c,
        })
        .collect()
}

/// The 15-digit form of an ID born in the 1900s, whatever its sequence.
pub fn fifteen_digits(id: &str) -> String {
    format!("{}{}", &id[..6], &id[8..17])
}

/// The 15-digit legacy form of an 18-digit ID, when one exists.
pub fn legacy15(id: &str) -> Option<String> {
    let seq: u32 = id[14..17].parse().ok()?;
    (id[6..8] == *"19" && !(996..=999).contains(&seq))
        .then(|| format!("{}{}", &id[..6], &id[8..17]))
}

/// An ID as a clerk might have exported it; `p` is the chance of any decoration.
pub fn decorate(rng: &mut Rng, id: &str, p: f64) -> String {
    if (rng.below(10_000) as f64) >= p * 10_000.0 {
        return id.to_string();
    }
    match rng.below(6) {
        0 => fullwidth(id),
        1 => format!(" {id} "),
        2 => format!("{id}\t"),
        3 => format!("'{id}"),
        4 => legacy15(id).unwrap_or_else(|| id.to_lowercase()),
        _ => id.to_lowercase(),
    }
}

/// The ID with one digit of the sequence changed and the check character left as it was —
/// a typo (`which` picks the digit).
pub fn typo_in_sequence(id: &str, which: usize) -> String {
    let mut b = id.as_bytes().to_vec();
    let i = 14 + which % 3;
    b[i] = if b[i] == b'9' { b'0' } else { b[i] + 1 };
    let s = String::from_utf8(b).expect("ascii");
    if s.ends_with("000") {
        typo_in_sequence(id, which + 1)
    } else {
        s
    }
}

/// The ID with one digit of the sequence changed and a valid check character computed for it.
pub fn typo_recomputed(id: &str) -> String {
    let mut b = id.as_bytes()[..17].to_vec();
    b[16] = if b[16] == b'9' { b'1' } else { b[16] + 1 };
    let first17 = String::from_utf8(b).expect("ascii");
    format!("{first17}{}", check_character(first17.as_bytes()))
}

/// The same ID with a wrong check character.
pub fn wrong_check(id: &str) -> String {
    let right = id.as_bytes()[17] as char;
    let wrong = ['1', '2', '3', '4', '5', '6', '7', '8', '9']
        .into_iter()
        .find(|c| *c != right)
        .expect("a different digit");
    format!("{}{wrong}", &id[..17])
}

/// An ID whose birth date is 30 February, with a check character that is otherwise right.
pub fn impossible_birth(id: &str) -> String {
    let first17 = format!("{}{}0230{}", &id[..6], &id[6..10], &id[14..17]);
    format!("{first17}{}", check_character(first17.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard's own example, and every way `decorate` spells an ID read back.
    #[test]
    fn ids_follow_the_standard_and_decorations_read_back() {
        assert_eq!(check_character(b"11010519491231002"), 'X');
        assert!(check_fits("11010519491231002X"));
        assert!(!check_fits("110105194912310021"));
        let mut rng = Rng::new(1);
        let id = "11010519491231002X";
        for _ in 0..200 {
            assert_eq!(undecorate(&decorate(&mut rng, id, 1.0)), id);
        }
    }
}
