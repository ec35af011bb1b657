//! Two registers that disagree about people: the rural dibao household heads and the village
//! committees' pay roll. Some heads are paid by their village under another form of their name
//! (traditional characters, a homophone, a space), a mistyped, 15-digit or missing ID, or the
//! birth day and month swapped; near-misses are namesakes born the same year and relatives at
//! one address. Some heads also head a second household under another form of their name
//! (`twice`). Name variants come from tables of this generator's own, not the engine's.

use super::*;
use crate::people::{self, Person};

/// Traditional forms of characters the city's names use.
const TRADITIONAL: &[(char, char)] = &[
    ('张', '張'),
    ('伟', '偉'),
    ('刘', '劉'),
    ('陈', '陳'),
    ('杨', '楊'),
    ('黄', '黃'),
    ('赵', '趙'),
    ('吴', '吳'),
    ('孙', '孫'),
    ('马', '馬'),
    ('罗', '羅'),
    ('郑', '鄭'),
    ('谢', '謝'),
    ('许', '許'),
    ('韩', '韓'),
    ('冯', '馮'),
    ('邓', '鄧'),
    ('丽', '麗'),
    ('强', '強'),
    ('军', '軍'),
    ('艳', '艷'),
    ('杰', '傑'),
    ('涛', '濤'),
    ('华', '華'),
    ('国', '國'),
    ('红', '紅'),
    ('兰', '蘭'),
    ('凤', '鳳'),
    ('东', '東'),
    ('刚', '剛'),
    ('荣', '榮'),
    ('龙', '龍'),
    ('汤', '湯'),
    ('钱', '錢'),
    ('龚', '龔'),
    ('贺', '賀'),
    ('顾', '顧'),
    ('叶', '葉'),
    ('苏', '蘇'),
    ('吕', '呂'),
    ('卢', '盧'),
    ('钟', '鍾'),
    ('谭', '譚'),
    ('陆', '陸'),
    ('贾', '賈'),
    ('韦', '韋'),
    ('邹', '鄒'),
    ('闫', '閆'),
    ('庄', '莊'),
    ('晓', '曉'),
];

/// Characters read alike (toneless pinyin) that a clerk may write for one another.
const HOMOPHONES: &[(char, char)] = &[
    ('伟', '玮'),
    ('芳', '方'),
    ('娜', '纳'),
    ('英', '瑛'),
    ('静', '靖'),
    ('丽', '莉'),
    ('强', '蔷'),
    ('军', '君'),
    ('洋', '阳'),
    ('勇', '永'),
    ('艳', '燕'),
    ('杰', '洁'),
    ('娟', '鹃'),
    ('涛', '韬'),
    ('明', '铭'),
    ('霞', '侠'),
    ('平', '萍'),
    ('刚', '钢'),
    ('文', '雯'),
    ('华', '桦'),
    ('建', '健'),
    ('志', '智'),
    ('春', '纯'),
    ('梅', '玫'),
    ('玉', '钰'),
    ('兰', '岚'),
    ('德', '得'),
    ('凤', '枫'),
    ('金', '锦'),
    ('花', '桦'),
    ('淑', '舒'),
    ('珍', '真'),
    ('荣', '容'),
    ('红', '虹'),
    ('秀', '琇'),
    ('小', '晓'),
    ('永', '勇'),
    ('振', '镇'),
    ('桂', '贵'),
    ('晓', '小'),
    ('东', '冬'),
    ('国', '帼'),
    ('海', '亥'),
    ('燕', '艳'),
    ('超', '潮'),
    ('磊', '垒'),
    ('敏', '闽'),
];

const TOWNS: [&str; 6] = [
    "汤山街道",
    "淳化街道",
    "横溪街道",
    "谷里街道",
    "湖熟街道",
    "禄口街道",
];
const VILLAGES: [&str; 8] = [
    "龙泉村",
    "青龙村",
    "东山村",
    "石塘村",
    "周岗村",
    "陶吴村",
    "新塘村",
    "上峰村",
];

fn traditional(name: &str) -> String {
    name.chars()
        .map(|c| {
            TRADITIONAL
                .iter()
                .find(|(s, _)| *s == c)
                .map_or(c, |(_, t)| *t)
        })
        .collect()
}

/// The name with its first given-name character that has a homophone replaced by it.
fn homophone(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    for c in chars.iter_mut().skip(1) {
        if let Some((_, h)) = HOMOPHONES.iter().find(|(s, _)| s == c) {
            *c = *h;
            return chars.into_iter().collect();
        }
    }
    chars.into_iter().collect()
}

/// The ID with two neighbouring digits of the sequence swapped (they differ).
fn transposed(id: &str) -> String {
    let mut b = id.as_bytes().to_vec();
    let i = (14..16).find(|&i| b[i] != b[i + 1]).unwrap_or(12);
    b.swap(i, i + 1);
    String::from_utf8(b).expect("ascii")
}

/// One row of either register: its number (`prefix` and the row), name, ID (empty when
/// missing), birth date, address and the month's money.
fn register_row(
    t: &mut Table,
    prefix: &str,
    name: &str,
    id: Option<String>,
    birth: Cell,
    addr: &str,
    money: Cell,
) -> String {
    let no = format!("{prefix}{:05}", t.len() + 1);
    t.push(vec![
        Cell::text(&no),
        Cell::text(name),
        Cell::text(id.unwrap_or_default()),
        birth,
        Cell::text(addr),
        money,
    ]);
    no
}

/// Someone born the same year as `p` in another district (a namesake once given p's name).
fn namesake_of(pool: &mut Pool, p: &Person) -> Person {
    use chrono::Datelike;
    pool.next_where(|q| {
        q.birth.year() == p.birth.year() && q.birth != p.birth && q.district != p.district
    })
}

/// A relative's name: p's surname and another person's given name (`fallback` when that
/// would be p's own name).
fn relative_named(p: &Person, other: &Person, fallback: &str) -> String {
    let surname: String = p.name.chars().take(1).collect();
    let given: String = other.name.chars().skip(1).collect();
    if given.is_empty() || format!("{surname}{given}") == p.name {
        format!("{surname}{fallback}")
    } else {
        format!("{surname}{given}")
    }
}

/// A dibao household's monthly benefit.
fn head_benefit(rng: &mut Rng) -> Cell {
    money(f64::from(450 + 10 * rng.below(30) as u32) + 0.5 * rng.below(2) as f64)
}

fn address(rng: &mut Rng) -> String {
    format!(
        "江宁区{}{}{}组{}号",
        TOWNS[rng.below(TOWNS.len() as u64) as usize],
        VILLAGES[rng.below(VILLAGES.len() as u64) as usize],
        1 + rng.below(9),
        1 + rng.below(60)
    )
}

/// How a planted person is written on the village pay roll.
struct Variant {
    name: fn(&str) -> String,
    id: fn(&str) -> Option<String>,
    swap_birth: bool,
    address: fn(&str) -> String,
}

fn same(s: &str) -> String {
    s.to_string()
}
fn spaced(name: &str) -> String {
    let mut chars = name.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    format!("{first} {}", chars.collect::<String>())
}
fn id_same(id: &str) -> Option<String> {
    Some(id.to_string())
}
fn id_missing(_: &str) -> Option<String> {
    None
}
fn id_typo(id: &str) -> Option<String> {
    Some(people::typo_in_sequence(id, 1))
}
fn id_15(id: &str) -> Option<String> {
    people::legacy15(id)
}
fn id_transposed(id: &str) -> Option<String> {
    Some(transposed(id))
}
fn address_traditional(a: &str) -> String {
    a.replace('东', "東")
        .replace('号', "號")
        .replace('龙', "龍")
}

const VARIANTS: [Variant; 12] = [
    Variant {
        name: traditional,
        id: id_same,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: homophone,
        id: id_missing,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: same,
        id: id_typo,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: traditional,
        id: id_15,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: same,
        id: id_missing,
        swap_birth: true,
        address: same,
    },
    Variant {
        name: homophone,
        id: id_transposed,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: same,
        id: id_missing,
        swap_birth: false,
        address: address_traditional,
    },
    Variant {
        name: traditional,
        id: id_typo,
        swap_birth: true,
        address: same,
    },
    Variant {
        name: spaced,
        id: id_same,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: same,
        id: id_same,
        swap_birth: false,
        address: same,
    },
    Variant {
        name: homophone,
        id: id_15,
        swap_birth: true,
        address: same,
    },
    Variant {
        name: traditional,
        id: id_missing,
        swap_birth: false,
        address: address_traditional,
    },
];

pub(super) fn linkage(
    rng: &mut Rng,
    pool: &mut Pool,
    scale: usize,
    truth: &mut GroundTruth,
    out: &mut Vec<Extract>,
) {
    let mut heads = Table::new(
        "rural_dibao_heads",
        &[
            "户号",
            "户主姓名",
            "身份证号",
            "出生日期",
            "家庭住址",
            "月保障金额",
        ],
    );
    let mut pay = Table::new(
        "village_cadre_pay",
        &["人员编号", "姓名", "身份证号", "出生日期", "住址", "月报酬"],
    );
    let head = |t: &mut Table, rng: &mut Rng, p: &Person, addr: &str| -> String {
        let benefit = head_benefit(rng);
        let id = Some(p.id.clone());
        register_row(t, "NB", &p.name, id, Cell::Date(p.birth), addr, benefit)
    };
    let cadre = |t: &mut Table,
                 rng: &mut Rng,
                 name: &str,
                 id: Option<String>,
                 birth: Option<NaiveDate>,
                 addr: &str|
     -> String {
        let pay = money(f64::from(1800 + 100 * rng.below(20) as u32) + 0.25 * rng.below(4) as f64);
        let birth = birth.map_or(Cell::text(""), ymd);
        register_row(t, "CG", name, id, birth, addr, pay)
    };
    let mut planted = Vec::new();
    // Born on a day that can also be read as a month, so the swapped date is a real date.
    let swappable = |p: &Person| {
        use chrono::Datelike;
        p.birth.day() <= 12 && p.birth.day() != p.birth.month() && p.birth.year() < 2000
    };
    for v in &VARIANTS {
        let p = pool.next_where(swappable);
        let addr = address(rng);
        let no = head(&mut heads, rng, &p, &addr);
        planted.push((p, addr, no, v));
    }
    // Background: heads and village cadres who are nobody else.
    for _ in 0..150 * scale {
        let p = pool.next();
        let addr = address(rng);
        head(&mut heads, rng, &p, &addr);
    }
    for _ in 0..100 * scale {
        let p = pool.next();
        let addr = address(rng);
        cadre(
            &mut pay,
            rng,
            &p.name,
            Some(p.id.clone()),
            Some(p.birth),
            &addr,
        );
    }
    for (p, addr, no, v) in &planted {
        use chrono::Datelike;
        let birth = if v.swap_birth {
            NaiveDate::from_ymd_opt(p.birth.year(), p.birth.day(), p.birth.month())
        } else {
            Some(p.birth)
        };
        let staff = cadre(
            &mut pay,
            rng,
            &(v.name)(&p.name),
            (v.id)(&p.id),
            birth,
            &(v.address)(addr),
        );
        truth.lead("dibao_head_on_village_payroll", format!("{no}~{staff}"));
    }
    // Near-misses: a namesake born the same year elsewhere; a relative at the head's address
    // (same surname, another given name, another ID and birth date).
    for i in 0..3 {
        let p = pool.next_where(|q| {
            use chrono::Datelike;
            q.birth.year() < 1990
        });
        let addr = address(rng);
        head(&mut heads, rng, &p, &addr);
        let namesake = namesake_of(pool, &p);
        let elsewhere = address(rng);
        cadre(
            &mut pay,
            rng,
            &p.name,
            Some(namesake.id.clone()),
            Some(namesake.birth),
            &elsewhere,
        );
        let relative = pool
            .next_where(|q| q.name.chars().next() != p.name.chars().next() && q.birth != p.birth);
        let relative_name = relative_named(&p, &relative, ["志强", "秀英", "建国"][i]);
        cadre(
            &mut pay,
            rng,
            &relative_name,
            Some(relative.id.clone()),
            Some(relative.birth),
            &addr,
        );
    }
    twice(rng, pool, &mut heads, truth);
    out.push(Extract {
        file: "rural_dibao_heads.csv",
        format: Format::Csv(encoding_rs::GBK, false),
        table: heads,
    });
    out.push(Extract {
        file: "village_cadre_pay.xlsx",
        format: Format::Xlsx("报酬发放"),
        table: pay,
    });
}

/// How a head's second household writes him: name, ID, birth date swapped, address.
type Second = (
    fn(&str) -> String,
    fn(&str) -> Option<String>,
    bool,
    fn(&str) -> String,
);

fn moved(a: &str) -> String {
    // Another town and village: the second household is registered elsewhere.
    let town = TOWNS.iter().position(|t| a.contains(t)).unwrap_or(0);
    let village = VILLAGES.iter().position(|v| a.contains(v)).unwrap_or(0);
    a.replace(TOWNS[town], TOWNS[(town + 1) % TOWNS.len()])
        .replace(VILLAGES[village], VILLAGES[(village + 3) % VILLAGES.len()])
}

const SECOND: [Second; 5] = [
    (traditional, id_15, false, moved),
    (homophone, id_same, false, same),
    (same, id_typo, true, moved),
    (spaced, id_missing, false, same),
    (same, id_transposed, false, address_traditional),
];

/// One person heading two rural dibao households (the second under another form of his name,
/// ID or address): lead `dibao_head_twice`, the two household numbers. Near-misses: a
/// namesake born the same year elsewhere, and a relative heading a household at the same
/// address (a split household), neither the same person.
fn twice(rng: &mut Rng, pool: &mut Pool, heads: &mut Table, truth: &mut GroundTruth) {
    use chrono::Datelike;
    let push = |t: &mut Table,
                rng: &mut Rng,
                name: &str,
                id: Option<String>,
                birth: Option<NaiveDate>,
                addr: &str|
     -> String {
        let benefit = head_benefit(rng);
        let birth = birth.map_or(Cell::text(""), Cell::Date);
        register_row(t, "NB", name, id, birth, addr, benefit)
    };
    let swappable = |p: &Person| {
        p.birth.day() <= 12 && p.birth.day() != p.birth.month() && p.birth.year() < 2000
    };
    for (name, id, swap, addr) in SECOND {
        let p = pool.next_where(swappable);
        let home = address(rng);
        let first = push(
            heads,
            rng,
            &p.name,
            Some(p.id.clone()),
            Some(p.birth),
            &home,
        );
        let birth = if swap {
            NaiveDate::from_ymd_opt(p.birth.year(), p.birth.day(), p.birth.month())
        } else {
            Some(p.birth)
        };
        let second = push(heads, rng, &name(&p.name), id(&p.id), birth, &addr(&home));
        truth.lead("dibao_head_twice", format!("{first}~{second}"));
    }
    for i in 0..2 {
        let p = pool.next_where(|q| q.birth.year() < 1990);
        let home = address(rng);
        push(
            heads,
            rng,
            &p.name,
            Some(p.id.clone()),
            Some(p.birth),
            &home,
        );
        let namesake = namesake_of(pool, &p);
        let elsewhere = address(rng);
        push(
            heads,
            rng,
            &p.name,
            Some(namesake.id.clone()),
            Some(namesake.birth),
            &elsewhere,
        );
        let relative = pool.next_where(|q| q.birth != p.birth && q.name != p.name);
        let relative_name = relative_named(&p, &relative, ["桂兰", "建华"][i]);
        push(
            heads,
            rng,
            &relative_name,
            Some(relative.id.clone()),
            Some(relative.birth),
            &home,
        );
    }
}
