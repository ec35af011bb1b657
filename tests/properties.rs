//! Properties over inputs nobody designed: random bytes and random valid-looking records fed to
//! the CSV reader in every encoding, random text to the ID normaliser, the rule loader and the
//! expression parser. A panic, a row lost or a row changed is a failure.

use std::path::Path;

use crosscheck::ingest::id_card::{check_character, normalize_id_card, valid_as_is};
use crosscheck::ingest::read::{ReadOptions, csv_batches};
use crosscheck::job::catalog::{Encoding, Format};
use proptest::prelude::*;

/// What a CSV reader gave: header, rows (line, cells), rejected rows (line, reason, fields).
type Read = (
    Vec<String>,
    Vec<(u64, Vec<String>)>,
    Vec<(u64, String, Vec<String>)>,
);

fn read_csv(path: &Path, encoding: Encoding, chunk: usize) -> Result<Read, String> {
    let o = ReadOptions {
        format: Format::Csv,
        encoding,
        sheet: None,
        delimiter: ',',
        header_row: 1,
    };
    let (mut headers, mut rows, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
    for table in csv_batches(path, &o, chunk, None).map_err(|e| e.to_string())? {
        let table = table.map_err(|e| e.to_string())?;
        headers = table.headers.clone();
        for m in &table.malformed {
            rejected.push((table.rows[m.index], m.reason.clone(), m.fields.clone()));
        }
        for (i, row) in table.rows.iter().enumerate() {
            if table.malformed.iter().any(|m| m.index == i) {
                continue;
            }
            let cells = table
                .columns
                .iter()
                .map(|c| c.get(i).display().into_owned());
            rows.push((*row, cells.collect()));
        }
    }
    Ok((headers, rows, rejected))
}

/// Characters every encoding crosscheck reads can hold: ASCII, CSV's own specials, common
/// ideographs, full-width forms and the ideographic space.
const CHARS: &[char] = &[
    'a', 'Z', '0', '9', ' ', ',', '"', '\n', '\r', '\t', '\'', '=', '+', '-', '@', '张', '伟',
    '李', '娜', '薛', '镕', '１', 'Ｘ', '　', '，', '。', '元', '·',
];

fn field() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(CHARS), 0..12)
        .prop_map(|cs| cs.into_iter().collect())
}

fn encode(text: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Gbk => encoding_rs::GBK.encode(text).0.into_owned(),
        Encoding::Gb18030 => encoding_rs::GB18030.encode(text).0.into_owned(),
        _ => text.as_bytes().to_vec(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Records written by a standard CSV writer, in UTF-8, GBK or GB18030, read back in chunks
    /// of any size: every record comes back, unchanged, on its own line, none rejected.
    #[test]
    fn valid_looking_records_come_back_whole(
        rows in proptest::collection::vec(proptest::collection::vec(field(), 3), 0..30),
        encoding in proptest::sample::select(vec![Encoding::Utf8, Encoding::Gbk, Encoding::Gb18030]),
        chunk in 1usize..200,
    ) {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(["身份证号", "姓名", "备注"]).unwrap();
        for r in &rows {
            w.write_record(r).unwrap();
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, encode(&text, encoding)).unwrap();
        let (headers, read, rejected) = read_csv(&path, encoding, chunk).unwrap();
        prop_assert_eq!(headers, vec!["身份证号", "姓名", "备注"]);
        prop_assert!(rejected.is_empty(), "{:?}", rejected);
        let cells: Vec<Vec<String>> = read.iter().map(|(_, c)| c.clone()).collect();
        prop_assert_eq!(&cells, &rows);
        // Each record on the line it starts on: after the one before, as many lines on as that
        // one spans.
        let mut line = 2;
        for ((at, _), row) in read.iter().zip(&rows) {
            prop_assert_eq!(*at, line);
            line += 1 + row.iter().map(|f| f.matches('\n').count() as u64).sum::<u64>();
        }
    }

    /// Any bytes, in any encoding: no panic, and the outcome does not depend on the chunk size
    /// (no record lost, doubled or changed at a chunk's edge); every row is loaded or rejected.
    #[test]
    fn random_bytes_read_the_same_in_any_chunks(
        bytes in proptest::collection::vec(proptest::sample::select(
            b"ab1,,\"\"\n\r\x81\xfe\x40\x00\xe4\xb8\xad\xd1\xa6 ".to_vec()), 0..300),
        encoding in proptest::sample::select(vec![Encoding::Auto, Encoding::Utf8, Encoding::Gbk, Encoding::Gb18030]),
        chunk in 1usize..64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        let mut file = b"id,name\n".to_vec();
        file.extend_from_slice(&bytes);
        std::fs::write(&path, &file).unwrap();
        let whole = read_csv(&path, encoding, 1 << 20);
        let pieces = read_csv(&path, encoding, chunk);
        match (&whole, &pieces) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a, b);
                // No NUL and no invalid byte reaches a loaded row.
                for (_, cells) in &a.1 {
                    for c in cells {
                        prop_assert!(!c.contains('\0') && !c.contains('\u{FDD0}'), "{:?}", c);
                    }
                }
            }
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "{:?} in one piece, {:?} in chunks of {}", whole, pieces, chunk),
        }
    }

    /// Any text as an ID: no panic; a valid ID is 18 characters whose check character is right
    /// by the standard's weights, normalises to itself, and passes the one-pass check.
    #[test]
    fn any_text_as_an_id(text in "\\PC{0,24}|[0-9Xx ]{14,20}|[0-9]{17}[0-9X]") {
        let id = normalize_id_card(&text);
        if let Some(valid) = &id.valid {
            prop_assert_eq!(valid.len(), 18);
            let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let sum: u32 = valid.bytes().zip(weights).map(|(d, w)| u32::from(d - b'0') * w).sum();
            prop_assert_eq!(valid.as_bytes()[17] as char, b"10X98765432"[(sum % 11) as usize] as char);
            let again = normalize_id_card(valid).valid;
            prop_assert_eq!(again.as_deref(), Some(valid.as_str()));
            prop_assert!(valid_as_is(valid));
            prop_assert!(id.issue.is_none());
        } else {
            prop_assert!(id.issue.is_some());
        }
    }

    /// Any 17 digits with a birth date between 1900 and 2099: with the right check character
    /// the ID is valid whatever it ends in, with any other it is not.
    #[test]
    fn every_check_character_decides(
        region in 110000u32..660000, y in 1900u32..2100, m in 1u32..13, d in 1u32..29, seq in 0u32..1000,
        other in 0usize..11,
    ) {
        let first17 = format!("{region}{y:04}{m:02}{d:02}{seq:03}");
        let right = check_character(first17.as_bytes());
        let id = format!("{first17}{right}");
        prop_assert_eq!(normalize_id_card(&id).valid, Some(id.clone()));
        let wrong = "10X98765432".chars().nth(other).unwrap();
        if wrong != right {
            let bad = format!("{first17}{wrong}");
            prop_assert!(normalize_id_card(&bad).valid.is_none());
        }
    }
}

/// A real rule file's text.
const RULE: &str = include_str!("../rules/dibao/owns_car.yaml");

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// A rule file cut, spliced and sprinkled with YAML's specials: loaded or refused with a
    /// diagnostic, never a panic.
    #[test]
    fn any_rule_text_loads_or_is_refused(
        cut in 0usize..4000, len in 0usize..200,
        insert in "[-:{}\\[\\]|>&*!%@`'\"#\\n\\t ,a-z0-9张]{0,40}",
    ) {
        let chars: Vec<char> = RULE.chars().collect();
        let at = cut % (chars.len() + 1);
        let end = (at + len).min(chars.len());
        let text: String = chars[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter()).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        std::fs::write(&path, &text).unwrap();
        let _ = crosscheck::job::rule::RuleFile::load(&path);
    }

    /// Any expression text against a schema: compiled or refused with a position, never a
    /// panic (nesting included).
    #[test]
    fn any_expression_compiles_or_is_refused(
        text in "(\\(|\\)|l\\.|r\\.|name|amount|paid_on|'[a-z]*'|[0-9]{1,4}(\\.[0-9]{1,3})?|:p| |AND|OR|NOT|=|<>|<=|>|\\+|-|\\*|/|\\|\\||IS NULL|IN|BETWEEN|LIKE|CASE|WHEN|THEN|ELSE|END|,|substr|round|year|count|sum|abs|coalesce|\\*){0,40}",
    ) {
        use crosscheck::job::catalog::ValueType;
        use crosscheck::plan::expr::{Lit, Scope, compile};
        let columns = vec![
            ("name".to_string(), ValueType::Text),
            ("amount".to_string(), ValueType::Float),
            ("paid_on".to_string(), ValueType::Date),
        ];
        let scope = Scope {
            columns: columns.clone(),
            left: Some(&columns),
            right: Some(&columns),
            left_name: "a",
            right_name: "b",
            params: std::rc::Rc::new(vec![("p".to_string(), ValueType::Float, Lit::Int(1))]),
            allow_aggregates: true,
        };
        if let Err(e) = compile(&text, &scope) {
            prop_assert!(e.line >= 1 && e.column >= 1);
        }
    }
}

/// Deep nesting: refused with a message, not a stack overflow.
#[test]
fn deeply_nested_expressions_are_refused() {
    use crosscheck::job::catalog::ValueType;
    use crosscheck::plan::expr::{Scope, compile};
    let columns = vec![("amount".to_string(), ValueType::Float)];
    let scope = Scope {
        columns,
        left: None,
        right: None,
        left_name: "a",
        right_name: "b",
        params: std::rc::Rc::new(Vec::new()),
        allow_aggregates: false,
    };
    for depth in [10, 100, 10_000] {
        let text = format!("{}amount{} > 1", "(".repeat(depth), ")".repeat(depth));
        let _ = compile(&text, &scope);
    }
}
