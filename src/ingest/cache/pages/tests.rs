use super::*;

fn texts(values: &[Option<&str>]) -> Utf8ViewArray {
    let mut m = MutableBinaryViewArray::<str>::new();
    for v in values {
        m.push(*v);
    }
    m.freeze()
}

/// `keys` of a fresh table, as a dictionary of the values the table then holds (none
/// when it holds none).
fn keyed(text: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let mut open = Open::default();
    let keys = keys(text, &mut open.table).unwrap()?;
    let values = open.values().unwrap();
    (!values.is_empty()).then(|| dictionary(keys, values.boxed()).unwrap())
}

/// The dictionary's values at each row, as `text` holds them.
fn rows(d: &DictionaryArray<u32>) -> Vec<Option<String>> {
    let values = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
    expand(values, d.keys())
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

#[test]
fn each_row_keeps_its_value_and_each_value_is_stored_once() {
    // Runs, repeats far apart, nulls, an empty text, long and short values, and enough
    // distinct values (300) that the table grows twice.
    let mut all: Vec<Option<String>> = Vec::new();
    for round in 0..3 {
        for i in 0..300 {
            let v = if i % 7 == 0 {
                format!("62170000{i:011}")
            } else {
                format!("张{i}")
            };
            all.push(Some(v.clone()));
            if i % 3 == round {
                all.push(Some(v));
                all.push(None);
            }
        }
        all.push(Some(String::new()));
    }
    let refs: Vec<Option<&str>> = all.iter().map(|r| r.as_deref()).collect();
    let text = texts(&refs);
    let d = keyed(&text).expect("a dictionary: each value recurs");
    assert_eq!(rows(&d), all);
    assert_eq!(d.values().len(), 301);
    assert_eq!(d.null_count(), text.null_count());
}

/// The row groups of the file at `path`: each one's rows, and column `name`'s dictionary
/// page in it (its values' count and bytes, decompressed), `None` for plain pages.
type Dictionaries = Vec<(usize, Option<(usize, Vec<u8>)>)>;

fn dictionary_pages(path: &std::path::Path, name: &str) -> Dictionaries {
    use polars_parquet::parquet::compression::DecompressionContext;
    use polars_parquet::parquet::page::Page;
    use polars_parquet::parquet::read::{decompress, get_page_iterator, read_metadata};
    let data = std::fs::read(path).unwrap();
    let meta = read_metadata(&mut std::io::Cursor::new(&data[..])).unwrap();
    let data = polars_buffer::Buffer::from(data);
    meta.row_groups
        .iter()
        .map(|rg| {
            let chunk = rg.columns_under_root_iter(name).unwrap().next().unwrap();
            let mut pages =
                get_page_iterator(chunk, std::io::Cursor::new(data.clone()), vec![], 1 << 30)
                    .unwrap();
            let dict = pages.read_dict().unwrap().map(|page| {
                let page = CompressedPage::Dict(page);
                match decompress(page, &mut vec![], &mut DecompressionContext::Unset) {
                    Ok(Page::Dict(d)) => (d.num_values, d.buffer.to_vec()),
                    _ => panic!("not a dictionary page"),
                }
            });
            (rg.num_rows(), dict)
        })
        .collect()
}

/// The row groups of the file at `path`: each one's rows, and how many values column
/// `name`'s dictionary page holds in it (`None`: no dictionary, plain pages).
fn groups(path: &std::path::Path, name: &str) -> Vec<(usize, Option<usize>)> {
    dictionary_pages(path, name)
        .into_iter()
        .map(|(rows, dict)| (rows, dict.map(|(n, _)| n)))
        .collect()
}

/// A frame written through `PageWriter` in batches reads back as it was: constant texts
/// (a value, NULL), text columns as dictionaries and plain, numbers (amounts that repeat
/// as a dictionary, bit for bit; distinct ones plain), dates, a text NULL in whole groups
/// (plain NULLs there). A row group
/// gathers batches until it is full, one dictionary page for all of them, holding the
/// values its rows hold (and the group before's, all of them held here again); a typed
/// column's numbers become the group's, also
/// when the typing numbers its values afresh half way through a group; a mostly distinct
/// batch makes its group's column plain.
#[test]
fn row_groups_gather_batches_and_read_back_as_written() {
    let n = 3000;
    let ids: Vec<String> = (0..n).map(|i| format!("62170000{:011}", i % 40)).collect();
    // Distinct from row 2600 on (only in the last group), otherwise ten values.
    let sometimes: Vec<String> = (0..n)
        .map(|i| match i < 2600 {
            true => format!("王{}", i % 10),
            false => format!("王{i}"),
        })
        .collect();
    let distinct: Vec<Option<String>> = (0..n)
        .map(|i| (i % 5 != 0).then(|| format!("李{i}")))
        .collect();
    let typed: Vec<Option<String>> = (0..n)
        .map(|i| (i % 9 != 0).then(|| format!("1101011990{:08}", i % 30)))
        .collect();
    // An ID issue column: NULL in every row of the first two groups.
    let issue: Vec<Option<&str>> = (0..n)
        .map(|i| (i >= 2400).then_some(["长度不符", "校验位不符", "日期无效"][i % 3]))
        .collect();
    // Forty amounts a person each, NULL now and then; 0 and -0 (equal, but not the same
    // bits) and NaN (unequal to itself) among them.
    let pension: Vec<Option<f64>> = (0..n)
        .map(|i| {
            (i % 11 != 0).then_some(match i % 40 {
                0 => 0.0,
                1 => -0.0,
                2 => f64::NAN,
                k => 1000.0 + k as f64 * 1.25,
            })
        })
        .collect();
    let mut frame = DataFrame::new(
        n,
        vec![
            Column::new("id".into(), ids),
            Column::new("sometimes".into(), sometimes),
            Column::new("distinct".into(), distinct),
            Column::new("typed".into(), typed.clone()),
            Column::new("issue".into(), issue),
            Column::new(
                "amount".into(),
                (0..n).map(|i| i as f64 / 4.0).collect::<Vec<_>>(),
            ),
            Column::new("pension".into(), pension.clone()),
            Column::new("row".into(), (0..n as i64).collect::<Vec<_>>()),
            Column::new_scalar(
                "__file".into(),
                Scalar::new(DataType::String, AnyValue::StringOwned("低保.xlsx".into())),
                n,
            ),
            Column::new_scalar("__sheet".into(), Scalar::null(DataType::String), n),
        ],
    )
    .unwrap();
    frame
        .with_column(
            Column::new("day".into(), (0..n as i32).collect::<Vec<_>>())
                .cast(&DataType::Date)
                .unwrap(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let mut writer =
        PageWriter::new(std::fs::File::create(&path).unwrap(), frame.schema(), 1200).unwrap();
    // As the typing numbers the values: in order of first appearance, an invalid one as
    // NULL (`i % 9 == 0`), and afresh from row 2100 on (in the second group), its
    // numbering then starting with a value no row holds.
    let mut values: Vec<Option<String>> = Vec::new();
    let mut epoch = 0;
    for start in (0..n).step_by(700) {
        let batch = frame.slice(start as i64, 700);
        if start == 2100 {
            epoch += 1;
            values = vec![Some("unheld".into())];
        }
        let keys: Vec<u32> = (start..start + batch.height())
            .map(|i| {
                let v = typed[i].clone();
                match values.iter().position(|s| *s == v) {
                    Some(g) => g as u32,
                    None => {
                        values.push(v);
                        values.len() as u32 - 1
                    }
                }
            })
            .collect();
        let coded = Coded::from([(
            "typed".to_string(),
            Some(CodedText {
                values: StringChunked::with_chunk(
                    "typed".into(),
                    Utf8ViewArray::from_slice(&values),
                ),
                epoch,
                keys: PrimitiveArray::from_vec(keys),
            }),
        )]);
        let mut stand_in = batch.clone();
        stand_in
            .with_column(Column::full_null(
                "typed".into(),
                batch.height(),
                &DataType::String,
            ))
            .unwrap();
        writer.write(&stand_in, &coded).unwrap();
    }
    writer.finish().unwrap();
    let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    assert_eq!(back, frame);
    let bits = |frame: &DataFrame| -> Vec<Option<u64>> {
        let pension = frame.column("pension").unwrap().f64().unwrap();
        pension.iter().map(|v| v.map(f64::to_bits)).collect()
    };
    assert_eq!(bits(&back), bits(&frame));
    let dictionaries = |size| [(1200, Some(size)), (1200, Some(size)), (600, Some(size))];
    assert_eq!(groups(&path, "id"), dictionaries(40));
    assert_eq!(groups(&path, "typed"), dictionaries(30));
    assert_eq!(groups(&path, "__file"), dictionaries(1));
    assert_eq!(
        groups(&path, "sometimes"),
        [(1200, Some(10)), (1200, Some(10)), (600, None)]
    );
    assert_eq!(groups(&path, "pension"), dictionaries(40));
    assert_eq!(
        groups(&path, "issue"),
        [(1200, None), (1200, None), (600, Some(3))]
    );
    let plain = [(1200, None), (1200, None), (600, None)];
    assert_eq!(groups(&path, "amount"), plain);
    assert_eq!(groups(&path, "distinct"), plain);
    assert_eq!(groups(&path, "__sheet"), plain);
}

/// A text column the typing found mostly distinct (`None` in `Coded`) is stored plain,
/// even where a dictionary would have been tried; a given dictionary is stored as given,
/// unless the group's rows hold mostly distinct values;
/// a date column found so is stored as a date.
#[test]
fn coded_columns_are_stored_as_the_typing_decided() {
    let n = 1000;
    let repeated: Vec<String> = (0..n).map(|i| format!("62170000{:011}", i % 10)).collect();
    let each: Vec<String> = (0..n).map(|i| format!("62170000{i:011}")).collect();
    let frame = DataFrame::new(
        n,
        vec![
            Column::new("plain".into(), repeated.clone()),
            Column::new("tried".into(), repeated.clone()),
            Column::new("given".into(), repeated),
            Column::new("each".into(), each.clone()),
            Column::new("day".into(), (0..n as i32).collect::<Vec<_>>())
                .cast(&DataType::Date)
                .unwrap(),
        ],
    )
    .unwrap();
    let values: Vec<String> = (0..10).map(|i| format!("62170000{i:011}")).collect();
    let given = CodedText {
        values: StringChunked::with_chunk("v".into(), Utf8ViewArray::from_slice_values(&values)),
        epoch: 0,
        keys: PrimitiveArray::from_vec((0..n as u32).map(|i| i % 10).collect()),
    };
    // Typed by value, but each row a value of its own (as a month's first batches are).
    let each = CodedText {
        values: StringChunked::with_chunk("v".into(), Utf8ViewArray::from_slice_values(&each)),
        epoch: 0,
        keys: PrimitiveArray::from_vec((0..n as u32).collect()),
    };
    let coded = Coded::from([
        ("plain".to_string(), None),
        ("day".to_string(), None),
        ("given".to_string(), Some(given)),
        ("each".to_string(), Some(each)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let mut writer =
        PageWriter::new(std::fs::File::create(&path).unwrap(), frame.schema(), n).unwrap();
    writer.write(&frame, &coded).unwrap();
    writer.finish().unwrap();
    let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    assert_eq!(back, frame);
    assert_eq!(groups(&path, "plain"), [(n, None)]);
    assert_eq!(groups(&path, "tried"), [(n, Some(10))]);
    assert_eq!(groups(&path, "given"), [(n, Some(10))]);
    assert_eq!(groups(&path, "each"), [(n, None)]);
}

#[test]
fn mostly_distinct_or_empty_columns_are_left_plain() {
    let distinct: Vec<String> = (0..1000).map(|i| format!("1101011990{i:08}")).collect();
    let refs: Vec<Option<&str>> = distinct.iter().map(|s| Some(s.as_str())).collect();
    assert!(keyed(&texts(&refs)).is_none());
    assert!(keyed(&texts(&[None; 200])).is_none());
    // A quarter repeated: kept as a dictionary.
    let mut some = refs.clone();
    some.truncate(700);
    some.extend(refs[..300].iter().copied());
    assert_eq!(keyed(&texts(&some)).unwrap().values().len(), 700);
    // Values a table holds already are not new: after those 700, 800 distinct values
    // (100 of them new) are numbered, not found mostly distinct as they are alone.
    let mut open = Open::default();
    assert!(keys(&texts(&some), &mut open.table).unwrap().is_some());
    assert!(
        keys(&texts(&refs[..800]), &mut open.table)
            .unwrap()
            .is_some()
    );
    assert_eq!(open.table.table.len(), 800);
    assert!(
        keys(&texts(&refs[..800]), &mut Numbering::default())
            .unwrap()
            .is_none()
    );
}

/// Each row group's dictionary page of column `name`, its values in order (`None`: plain).
fn dictionary_values(path: &std::path::Path, name: &str) -> Vec<Option<Vec<String>>> {
    dictionary_pages(path, name)
        .into_iter()
        .map(|(_, dict)| {
            let (n, buffer) = dict?;
            let (mut bytes, mut values) = (&buffer[..], Vec::new());
            for _ in 0..n {
                let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
                values.push(String::from_utf8(bytes[4..4 + len].to_vec()).unwrap());
                bytes = &bytes[4 + len..];
            }
            Some(values)
        })
        .collect()
}

/// `values` in chunks of seven, as the typing keeps them (a chunk per batch that adds any).
fn in_chunks(values: &[String]) -> StringChunked {
    let mut chunks = values
        .chunks(7)
        .map(|c| StringChunked::with_chunk("v".into(), Utf8ViewArray::from_slice_values(c)));
    let mut all = chunks.next().unwrap();
    for c in chunks {
        all.append(&c).unwrap();
    }
    all
}

/// A register written month after month (the same people, a few leaving and joining):
/// each row group's dictionary holds the one before's values in the same order, then the
/// newcomers', so a reader finds what it looked up already; once most of the values kept
/// are no longer held, a group stores only its own and the next starts afresh. A column
/// typed by value gets the same dictionaries. Every row reads back as written.
#[test]
fn dictionaries_are_kept_from_group_to_group_while_their_values_recur() {
    let person = |i: usize| format!("1101011990{i:08}");
    let newcomer = |i: usize| format!("3201021985{i:08}");
    // Four groups of 1,000 rows: 200 people five times; people 1..=200 five times; then
    // 50 newcomers twenty times, twice.
    let group = |g: usize, i: usize| match g {
        0 => person(i % 200),
        1 => person(1 + i % 200),
        _ => newcomer(i % 50),
    };
    let rows: Vec<String> = (0..4000).map(|r| group(r / 1000, r % 1000)).collect();
    let frame = DataFrame::new(
        rows.len(),
        vec![
            Column::new("id".into(), rows.clone()),
            Column::full_null("typed".into(), rows.len(), &DataType::String),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let mut writer =
        PageWriter::new(std::fs::File::create(&path).unwrap(), frame.schema(), 1000).unwrap();
    // The typing's numbering: in order of first appearance, kept over the whole file.
    let mut values: Vec<String> = Vec::new();
    for start in (0..rows.len()).step_by(500) {
        let keys: Vec<u32> = rows[start..start + 500]
            .iter()
            .map(|v| match values.iter().position(|s| s == v) {
                Some(g) => g as u32,
                None => {
                    values.push(v.clone());
                    values.len() as u32 - 1
                }
            })
            .collect();
        let coded = Coded::from([(
            "typed".to_string(),
            Some(CodedText {
                values: in_chunks(&values),
                epoch: 0,
                keys: PrimitiveArray::from_vec(keys),
            }),
        )]);
        writer
            .write(&frame.slice(start as i64, 500), &coded)
            .unwrap();
    }
    writer.finish().unwrap();

    let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    let ids: Vec<Option<String>> = rows.iter().cloned().map(Some).collect();
    for name in ["id", "typed"] {
        let read: Vec<Option<String>> = back
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect();
        assert_eq!(read, ids, "{name}");
        let first: Vec<String> = (0..200).map(person).collect();
        let second: Vec<String> = first.iter().cloned().chain([person(200)]).collect();
        let own: Vec<String> = (0..50).map(newcomer).collect();
        assert_eq!(
            dictionary_values(&path, name),
            [Some(first), Some(second), Some(own.clone()), Some(own)],
            "{name}"
        );
    }
}

/// A float column's rows looked up by a guide column's numbers first (`with_guide`) are
/// written exactly as without one, whether the guide tells the amounts apart (a person's
/// number) or misleads (one number for many amounts): the guide decides only how often a
/// lookup is skipped.
#[test]
fn a_guide_changes_nothing_written() {
    let n = 4000;
    let who = |i: usize| (i % 50) as u32;
    let mix = |i: usize| (i * 7 % 13) as u32;
    // Fifty people, each paid one amount a month, raised from row 2500 on; NULL now and
    // then; 0 and -0 (equal, other bits) and NaN among them.
    let amount: Vec<Option<f64>> = (0..n)
        .map(|i| {
            (i % 13 != 0).then_some(match who(i) {
                0 => 0.0,
                1 => -0.0,
                2 => f64::NAN,
                p if i >= 2500 => 2000.0 + f64::from(p) * 0.01,
                p => 1500.0 + f64::from(p) * 0.01,
            })
        })
        .collect();
    let text = |name: &str, key: &dyn Fn(usize) -> u32| {
        Column::new(
            name.into(),
            (0..n)
                .map(|i| format!("{name}{}", key(i)))
                .collect::<Vec<_>>(),
        )
    };
    let frame = DataFrame::new(
        n,
        vec![
            text("who", &who),
            text("mix", &mix),
            Column::new("amount".into(), amount),
        ],
    )
    .unwrap();
    type Written = (Vec<u8>, DataFrame, Vec<(usize, Option<usize>)>);
    let written = |guide: Option<&str>| -> Written {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut writer =
            PageWriter::new(std::fs::File::create(&path).unwrap(), frame.schema(), 1500)
                .unwrap()
                .with_guide(guide);
        for start in (0..n).step_by(700) {
            let batch = frame.slice(start as i64, 700);
            let coded = |name: &str, key: &dyn Fn(usize) -> u32, values: u32| {
                let values: Vec<String> = (0..values).map(|k| format!("{name}{k}")).collect();
                let keys = (start..start + batch.height()).map(key).collect();
                let values = Utf8ViewArray::from_slice_values(&values);
                (
                    name.to_string(),
                    Some(CodedText {
                        values: StringChunked::with_chunk(name.into(), values),
                        epoch: 0,
                        keys: PrimitiveArray::from_vec(keys),
                    }),
                )
            };
            let coded = Coded::from([coded("who", &who, 50), coded("mix", &mix, 13)]);
            writer.write(&batch, &coded).unwrap();
        }
        writer.finish().unwrap();
        let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        (std::fs::read(&path).unwrap(), back, groups(&path, "amount"))
    };
    let bits = |frame: &DataFrame| -> Vec<Option<u64>> {
        let amount = frame.column("amount").unwrap().f64().unwrap();
        amount.iter().map(|v| v.map(f64::to_bits)).collect()
    };
    let (unguided, back, amounts) = written(None);
    assert_eq!(bits(&back), bits(&frame));
    // Fifty amounts a group (NaN's bits are one value), 47 raised in the second.
    assert_eq!(
        amounts,
        [(1500, Some(50)), (1500, Some(97)), (1000, Some(50))]
    );
    for guide in ["who", "mix"] {
        let (file, back, _) = written(Some(guide));
        let same = bits(&back) == bits(&frame);
        assert!(same, "guided by {guide}, the amounts read back differ");
        assert!(file == unguided, "guided by {guide}, the file differs");
    }
}
