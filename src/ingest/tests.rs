use super::*;

/// `datasets.yaml` in `dir`, declaring dataset `p` with `path` and `columns` (YAML lines).
fn catalog_file(dir: &Path, path: &str, columns: &[&str]) -> PathBuf {
    let file = dir.join("datasets.yaml");
    let columns: String = columns.iter().map(|c| format!("      {c}\n")).collect();
    let yaml = format!("datasets:\n  p:\n    path: \"{path}\"\n    columns:\n{columns}");
    std::fs::write(&file, yaml).unwrap();
    file
}

/// A catalog of one dataset `p` (ID and amount) over the files `p_*` in `dir`.
fn payments_catalog(dir: &Path) -> PathBuf {
    catalog_file(
        dir,
        "p_*",
        &[
            "id_card: { type: id_card, aliases: [身份证号] }",
            "amount: { type: money, aliases: [金额] }",
        ],
    )
}

/// A dataset of several files numbers its rows across them in file order, and the cache
/// (which numbers each file's rows in its scan) gives the frame a fresh parse gives.
#[test]
fn rows_are_numbered_across_files_alike_from_the_cache_and_from_the_extracts() {
    let dir = tempfile::tempdir().unwrap();
    let path = payments_catalog(dir.path());
    std::fs::write(
        dir.path().join("p_1.csv"),
        "身份证号,金额\n11010519491231002X,10\n320102195003011238,20\n",
    )
    .unwrap();
    // The second file is Parquet: read in batches, with or without the cache.
    let mut second = df!(
        "身份证号" => [Some("320104194805122341"), None, Some("11010519491231002X")],
        "金额" => ["30", "40", "50"],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.path().join("p_2.parquet")).unwrap())
        .finish(&mut second)
        .unwrap();
    let catalog = Catalog::load(&path).unwrap();
    let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
    let wanted: std::collections::BTreeSet<String> = ["amount".to_string()].into();
    let frame = |cache: Option<&cache::Cache>| {
        let ds = load_dataset_cached(&catalog, "p", cache, Some(&wanted)).unwrap();
        let served: Vec<Option<bool>> = ds.report.files.iter().map(|f| f.cached).collect();
        (ds.frame.collect().unwrap(), served)
    };
    let (parsed, _) = frame(None);
    let (first, converted) = frame(Some(&cache));
    let (second, served) = frame(Some(&cache));
    assert_eq!(converted, [Some(false), Some(false)]);
    assert_eq!(served, [Some(true), Some(true)]);
    let ints = |df: &DataFrame, c: &str| -> Vec<i64> {
        df.column(c)
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    assert_eq!(ints(&second, ROW_ID), [0, 1, 2, 3, 4]);
    let rows = ints(&second, "__row");
    // CSV rows count from 2 (the header is row 1); Parquet rows from the reader's first.
    let parquet_first = rows[2];
    assert_eq!(
        rows,
        [2, 3, parquet_first, parquet_first + 1, parquet_first + 2]
    );
    assert_eq!(parsed, first);
    assert_eq!(parsed, second);
    // A filter on the served rows keeps their numbers.
    let cut = load_dataset_cached(&catalog, "p", Some(&cache), Some(&wanted))
        .unwrap()
        .frame
        .filter(col("amount").gt(lit(25.0)))
        .collect()
        .unwrap();
    assert_eq!(ints(&cut, ROW_ID), [2, 3, 4]);
}

/// Extracts with a header and no rows convert into the cache and are served from it as
/// empty frames of the dataset's columns, as a fresh parse gives them.
#[test]
fn extracts_without_rows_are_cached_and_served_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = payments_catalog(dir.path());
    std::fs::write(dir.path().join("p_1.csv"), "身份证号,金额\n").unwrap();
    let mut none = df!("身份证号" => Vec::<String>::new(), "金额" => Vec::<String>::new()).unwrap();
    ParquetWriter::new(std::fs::File::create(dir.path().join("p_2.parquet")).unwrap())
        .finish(&mut none)
        .unwrap();
    let catalog = Catalog::load(&path).unwrap();
    let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
    let load = |cache: Option<&cache::Cache>| {
        let ds = load_dataset_cached(&catalog, "p", cache, None).unwrap();
        let served: Vec<Option<bool>> = ds.report.files.iter().map(|f| f.cached).collect();
        (ds.frame.collect().unwrap(), served)
    };
    let (parsed, _) = load(None);
    let (first, converted) = load(Some(&cache));
    let (second, served) = load(Some(&cache));
    assert_eq!(converted, [Some(false), Some(false)]);
    assert_eq!(served, [Some(true), Some(true)]);
    assert_eq!(parsed.height(), 0);
    // Equal frames of no rows could still differ in their columns' names or types.
    assert_eq!(parsed.schema(), first.schema());
    assert_eq!(parsed.schema(), second.schema());
    assert!(parsed.schema().contains("id_card") && parsed.schema().contains("amount"));
    assert_eq!(parsed, first);
    assert_eq!(parsed, second);
}

/// A file unchanged on disk since an earlier run hashed it is not read to be hashed again;
/// an edited file is, even at the same size, and so is a file still settling.
#[test]
fn an_unchanged_files_hash_is_recalled_and_an_edited_one_is_hashed_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = payments_catalog(dir.path());
    let csv = dir.path().join("p_1.csv");
    std::fs::write(&csv, "身份证号,金额\n11010519491231002X,10\n").unwrap();
    let mut second = df!("身份证号" => ["320104194805122341"], "金额" => ["30"]).unwrap();
    let parquet = dir.path().join("p_2.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut second)
        .unwrap();
    let catalog = Catalog::load(&path).unwrap();
    let cache_dir = dir.path().join("cache");
    let load = |cache: &cache::Cache| {
        let ds = load_dataset_cached(&catalog, "p", Some(cache), None).unwrap();
        let amounts: Vec<f64> = ds
            .frame
            .collect()
            .unwrap()
            .column("amount")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let files: Vec<(String, bool, Option<bool>)> = ds
            .report
            .files
            .into_iter()
            .map(|f| (f.sha256, f.sha256_recalled, f.cached))
            .collect();
        (files, amounts)
    };
    let sha = |p: &Path| sha256_hex(&std::fs::read(p).unwrap());
    let cache = cache::Cache::new(&cache_dir).unwrap();
    let hashed = |cached| vec![(sha(&csv), false, cached), (sha(&parquet), false, cached)];

    // Written just now: hashed (the Parquet file, never seen, while it is converted),
    // and the hash not recalled (the file may still be being written); but seen, so the
    // next load hashes it first and finds the conversion.
    assert_eq!(load(&cache), (hashed(Some(false)), vec![10.0, 30.0]));
    assert_eq!(load(&cache), (hashed(Some(true)), vec![10.0, 30.0]));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    // Settled: hashed once more and remembered; from then on recalled.
    assert_eq!(load(&cache), (hashed(Some(true)), vec![10.0, 30.0]));
    let recalled = vec![
        (sha(&csv), true, Some(true)),
        (sha(&parquet), true, Some(true)),
    ];
    assert_eq!(load(&cache), (recalled, vec![10.0, 30.0]));

    // Edited at the same size: the change time moved, so it is hashed and parsed again.
    std::fs::write(&csv, "身份证号,金额\n11010519491231002X,90\n").unwrap();
    let (files, amounts) = load(&cache);
    assert_eq!(
        files,
        [
            (sha(&csv), false, Some(false)),
            (sha(&parquet), true, Some(true))
        ]
    );
    assert_eq!(amounts, [90.0, 30.0]);

    // `run --rehash`: every file hashed again.
    let rehashing = cache::Cache::new(&cache_dir).unwrap().rehashing();
    assert_eq!(load(&rehashing), (hashed(Some(true)), vec![90.0, 30.0]));
}

/// A Parquet string column that loads as written is shared, and gives exactly what the
/// cell-by-cell path gives: the same columns (`_raw`, `_issue` included) and ID quality.
#[test]
fn a_shared_parquet_column_loads_as_the_cell_by_cell_path_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = catalog_file(
        dir.path(),
        "p.parquet",
        &[
            "id_card: { type: id_card, aliases: [身份证号] }",
            "name: { type: name, aliases: [姓名] }",
        ],
    );
    let catalog = Catalog::load(&path).unwrap();
    let ids = ["11010519491231002X", "320102195003011238"];
    let names = ["张伟", "Li Na"];
    let table = |shared: bool| {
        let column = |v: &[&str]| {
            if shared {
                read::SourceColumn::Strings(StringChunked::from_slice("c".into(), v))
            } else {
                read::SourceColumn::Cells(v.iter().map(|s| RawCell::Text(s.to_string())).collect())
            }
        };
        read::SourceTable {
            sheet: None,
            headers: vec!["身份证号".into(), "姓名".into()],
            columns: vec![column(&ids), column(&names)],
            rows: vec![2, 3],
            malformed: Vec::new(),
            encoding: None,
        }
    };
    let (a, b) = (table(true), table(false));
    assert!(matches!(
        reuse_strings(
            "id_card",
            &catalog.datasets["p"].columns["id_card"],
            match &a.columns[0] {
                read::SourceColumn::Strings(ca) => ca,
                _ => unreachable!(),
            }
        ),
        Some(Buffer::IdSame(_))
    ));
    let shared = type_table(&catalog, "p", &path, "p.parquet", &a, None, true).unwrap();
    let by_cell = type_table(&catalog, "p", &path, "p.parquet", &b, None, true).unwrap();
    assert_eq!(shared.frame, by_cell.frame);
    assert_eq!(shared.quality["id_card"].valid, 2);
    assert_eq!(
        format!("{:?}", shared.quality),
        format!("{:?}", by_cell.quality)
    );
}

/// Typing each distinct value once (for the cache) gives exactly what typing every cell
/// gives: the same frame, the same rejected rows for the same reasons, the same ID
/// quality; and each coded text column's numbers name every row's value. Text cells (CSV)
/// and Parquet strings with NULLs, IDs to clean, upgrade or reject, names to normalise,
/// plates, dates, required cells left empty, ragged records; twice through the same
/// tables.
#[test]
fn typing_each_distinct_value_once_gives_what_typing_each_cell_gives() {
    let dir = tempfile::tempdir().unwrap();
    let path = catalog_file(
        dir.path(),
        "p.csv",
        &[
            "id_card: { type: id_card, aliases: [身份证号] }",
            "name: { type: name, aliases: [姓名], required: true }",
            "plate: { type: plate, aliases: [号牌], optional: true }",
            "day: { type: date, aliases: [日期] }",
            "amount: { type: money, aliases: [金额] }",
            "note: { type: text, aliases: [备注] }",
        ],
    );
    let catalog = Catalog::load(&path).unwrap();
    // Every row's note differs within a batch.
    let notes: Vec<String> = (0..600).map(|i| format!("第{i}笔")).collect();
    let ids = [
        "11010519491231002X",
        " 11010519491231002x",
        "１１０１０５１９４９１２３１００２Ｘ",
        "110105491231002",
        "320102195003011238",
        "12345",
        "",
    ];
    let plates = ["京A·12345", "京a12345", "", "沪B-67890"];
    let n = 600;
    // Clean: only the values that load (the first four IDs, names, days; no ragged
    // record), so no row is rejected.
    let cell = |values: &[&'static str], i: usize, step: usize, clean: bool| {
        let values = if clean { &values[..4] } else { values };
        values[(i / step) % values.len()]
    };
    let columns = |clean: bool| -> Vec<Vec<&str>> {
        vec![
            (0..n).map(|i| cell(&ids, i, 1, clean)).collect(),
            (0..n)
                .map(|i| cell(&["张伟", " 张伟 ", "Ｌｉ　Ｎａ", "王·芳", ""], i, 3, clean))
                .collect(),
            (0..n).map(|i| cell(&plates, i, 2, false)).collect(),
            (0..n)
                .map(|i| {
                    cell(
                        &["2025-03-01", "2025/3/1", "202503", "2025年3月15日", "x", ""],
                        i,
                        50,
                        clean,
                    )
                })
                .collect(),
            (0..n)
                .map(|i| cell(&["1.5", "2", "3", "4", "x"], i, 1, clean))
                .collect(),
            notes.iter().map(String::as_str).collect(),
        ]
    };
    let malformed_at = [7, 300];
    let table = |parquet: bool, clean: bool| read::SourceTable {
        sheet: None,
        headers: ["身份证号", "姓名", "号牌", "日期", "金额", "备注"]
            .map(String::from)
            .into(),
        columns: columns(clean)
            .iter()
            .map(|c| {
                if parquet {
                    let cells: Vec<Option<&str>> =
                        c.iter().map(|v| (!v.is_empty()).then_some(*v)).collect();
                    read::SourceColumn::Strings(StringChunked::new("c".into(), cells))
                } else {
                    let mut ends = Vec::new();
                    let mut data = String::new();
                    for v in c {
                        data.push_str(v);
                        ends.push(data.len());
                    }
                    read::SourceColumn::Text { data, ends }
                }
            })
            .collect(),
        rows: (2..n as u64 + 2).collect(),
        malformed: if parquet || clean {
            Vec::new()
        } else {
            malformed_at
                .iter()
                .map(|&index| read::Malformed {
                    index,
                    reason: "字段数不符 / ragged".into(),
                    fields: vec!["a".into(), "b".into()],
                })
                .collect()
        },
        encoding: None,
    };
    // Rejected rows, ID quality and coded texts compare as they print.
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    let mut tables = Vec::new();
    for (parquet, clean) in [(false, false), (true, false), (false, false), (true, true)] {
        let source = table(parquet, clean);
        let by_cell = type_table(&catalog, "p", &path, "p.csv", &source, None, true).unwrap();
        let by_value = type_table(
            &catalog,
            "p",
            &path,
            "p.csv",
            &source,
            Some(&mut tables),
            true,
        )
        .unwrap();
        assert_eq!(by_value.frame, by_cell.frame, "parquet: {parquet}");
        assert!(same(&by_value.rejected, &by_cell.rejected));
        assert!(same(&by_value.quality, &by_cell.quality));
        if clean {
            assert!(by_cell.rejected.is_empty());
            assert_eq!(by_cell.frame.height(), n);
            continue;
        }
        // Every kind of failure is there to compare.
        let reasons: Vec<&str> = by_cell.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("required column 姓名")));
        assert!(reasons.iter().any(|r| r.starts_with("列 日期")));
        assert!(reasons.iter().any(|r| r.starts_with("列 金额")));
        assert_eq!(reasons.contains(&"字段数不符 / ragged"), !parquet);
        assert!(by_cell.quality["id_card"].cleaned > 0);
        assert!(by_cell.quality["id_card"].legacy_upgraded > 0);
        assert!(!by_cell.quality["id_card"].invalid.is_empty());
        assert!(by_cell.frame.height() > 100);

        let mut coded: Vec<&String> = by_value.coded.keys().collect();
        coded.sort();
        let id = ["id_card", "id_card_issue", "id_card_raw"];
        assert_eq!(coded, [&id[..], &["name", "note", "plate"]].concat());
        assert!(by_cell.coded.is_empty());
        // Every note distinct within the batch, but the same notes batch after batch: numbered
        // (a month of payments longer than a batch is the same).
        assert!(by_value.coded["note"].is_some());
        // Each row's number names its value (the writer makes each row group's dictionary
        // of the values its rows hold: `cache::pages` tests).
        for (column, coded) in &by_value.coded {
            let Some(coded) = coded else { continue };
            let rows: Vec<Option<&str>> = (coded.keys.values().iter())
                .map(|&g| coded.values.get(g as usize))
                .collect();
            let text = |c: &str| by_value.frame.column(c).unwrap().str().unwrap().clone();
            // The cache stores an ID's raw text where it differs from the ID.
            let frame = match column.as_str() {
                "id_card_raw" => cache::elide_raw(&text(column), &text("id_card")).unwrap(),
                _ => text(column),
            };
            assert_eq!(rows, frame.iter().collect::<Vec<_>>(), "{column}");
        }

        // For the cache's writer alone: the same, but the texts it has in `coded`
        // are not gathered into the frame.
        let written = type_table(
            &catalog,
            "p",
            &path,
            "p.csv",
            &source,
            Some(&mut tables),
            false,
        )
        .unwrap();
        assert!(same(&written.rejected, &by_value.rejected));
        assert!(same(&written.quality, &by_value.quality));
        assert_eq!(written.coded.len(), by_value.coded.len());
        for (column, dict) in &by_value.coded {
            assert!(same(&written.coded[column], dict), "{column}");
        }
        for c in by_value.frame.columns() {
            let w = written.frame.column(c.name()).unwrap();
            match by_value.coded.get(c.name().as_str()) {
                Some(Some(_)) => assert_eq!(w.null_count(), w.len(), "{}", c.name()),
                _ => assert_eq!(w, c),
            }
        }
    }
}

/// A Parquet extract converted into the cache (its typed texts written from their values
/// and numbers, never gathered row by row) reads back as the extract typed without the cache: an ID
/// column of few values (typed by value) and one of distinct values (typed cell by cell,
/// its raw text elided by the writer row by row).
#[test]
fn a_parquet_extract_reads_back_from_the_cache_as_typed_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = catalog_file(
        dir.path(),
        "p.parquet",
        &[
            "id_card: { type: id_card, aliases: [身份证号] }",
            "name: { type: name, aliases: [姓名] }",
            "month: { type: date, aliases: [月份] }",
            "amount: { type: money, aliases: [金额] }",
            "payee: { type: id_card, aliases: [收款人身份证号] }",
        ],
    );
    // Distinct payees: valid IDs, some written with a lower-case x or padded, some invalid.
    let payee = |i: usize| {
        let first17 = format!("320102195003{:02}{:03}", 1 + i / 1000, i % 1000);
        let id = format!("{first17}{}", id_card::check_character(first17.as_bytes()));
        let id = id.replace('X', ["X", "x"][i % 2]);
        match i % 10 {
            0 => Some(format!(" {id} ")),
            1 => Some(format!("{}9", &id[..17])),
            2 => None,
            _ => Some(id),
        }
    };
    let ids = [
        Some("11010519491231002X"),
        Some(" 11010519491231002x"),
        Some("110105491231002"),
        Some("12345"),
        None,
        Some("320102195003011238"),
    ];
    let n = 3000;
    let mut source = df!(
        "身份证号" => (0..n).map(|i| ids[i % ids.len()]).collect::<Vec<_>>(),
        "姓名" => (0..n).map(|i| format!("张{}", i % 7)).collect::<Vec<_>>(),
        "月份" => (0..n).map(|i| ["202401", "2024-02", "x"][i / 1000]).collect::<Vec<_>>(),
        "金额" => (0..n).map(|i| i as f64 / 4.0).collect::<Vec<_>>(),
        "收款人身份证号" => (0..n).map(payee).collect::<Vec<_>>(),
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.path().join("p.parquet")).unwrap())
        .finish(&mut source)
        .unwrap();
    let catalog = Catalog::load(&path).unwrap();
    let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
    let load = |cache: Option<&cache::Cache>| {
        let ds = load_dataset_cached(&catalog, "p", cache, None).unwrap();
        let report = format!("{:?}", (&ds.rejected, &ds.report.id_quality));
        (ds.frame.collect().unwrap(), report)
    };
    let typed = load(None);
    assert_eq!(typed.0.height(), 2000);
    // Both kinds of raw text are there: equal to the ID, and not.
    let payees = typed.0.column("payee").unwrap().str().unwrap().clone();
    let raw = typed.0.column("payee_raw").unwrap().str().unwrap().clone();
    let differ = raw.not_equal_missing(&payees).sum().unwrap();
    assert!(differ > 100 && differ < 1000, "{differ}");
    assert_eq!(load(Some(&cache)), typed);
    // Served from the cache the second time.
    assert_eq!(load(Some(&cache)), typed);
}

/// A GBK CSV file larger than a chunk is read in batches: every row comes through once,
/// numbered by the line it starts on (some records span two lines), the rejected rows
/// (an amount in words) of every batch named by their lines, the IDs typed alike in each
/// batch; without the cache, converted into it, and served by it. A byte invalid in its
/// last line stops the conversion and leaves nothing half written.
#[test]
fn a_csv_file_larger_than_a_chunk_loads_every_row_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "datasets:\n  p:\n    path: p.csv\n    encoding: gbk\n    columns:\n      \
                    id_card: { type: id_card, aliases: [身份证号] }\n      \
                    name: { type: name, aliases: [姓名] }\n      \
                    amount: { type: money, aliases: [金额] }\n      \
                    note: { type: text, aliases: [备注] }\n";
    std::fs::write(dir.path().join("datasets.yaml"), yaml).unwrap();
    // 3,000 valid IDs (none ending in 0: a number ending 000 reads as spreadsheet damage).
    let valid: Vec<String> = (0..)
        .map(|i| {
            let first17 = format!("320102195003{:02}{:03}", 1 + i / 1000 % 12, i % 1000);
            format!("{first17}{}", id_card::check_character(first17.as_bytes()))
        })
        .filter(|id| !id.ends_with('0'))
        .take(3000)
        .collect();
    let id = |i: usize| valid[i].clone();
    let mut text = String::from("身份证号,姓名,金额,备注\n");
    let (mut line, mut ids, mut rejected) = (2u64, Vec::new(), Vec::new());
    let n = 70_000;
    for i in 0..n {
        let (value, spans) = match i % 10_000 {
            7 => ("\"第一行,\n第二行\"".to_string(), 2),
            _ => (
                format!(
                    "养老金发放记录，经办机构：某区社会保险事业管理中心第{}窗口，复核：某区人力资源和社会保障局基金监督科",
                    i % 97
                ),
                1,
            ),
        };
        let amount = if i % 1000 == 999 {
            rejected.push(line);
            "一百".to_string()
        } else {
            ids.push(id(i % 3000));
            format!("{}.50", i % 2000)
        };
        text.push_str(&format!("{},张{},{amount},{value}\n", id(i % 3000), i % 50));
        line += spans;
    }
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    assert!(
        gbk.len() > read::CSV_CHUNK_BYTES,
        "{} bytes: one chunk",
        gbk.len()
    );
    std::fs::write(dir.path().join("p.csv"), &gbk).unwrap();
    let catalog = Catalog::load(&dir.path().join("datasets.yaml")).unwrap();
    let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
    let load = |cache: Option<&cache::Cache>| {
        let ds = load_dataset_cached(&catalog, "p", cache, None).unwrap();
        let file = &ds.report.files[0];
        assert_eq!(file.encoding.as_deref(), Some("GBK"));
        assert_eq!(file.rows_read, n as u64);
        let lines: Vec<u64> = ds.rejected.iter().map(|r| r.row).collect();
        assert_eq!(lines, rejected);
        let frame = ds.frame.collect().unwrap();
        let column = frame.column("id_card").unwrap().str().unwrap().clone();
        let typed: Vec<String> = column.iter().map(|v| v.unwrap().to_string()).collect();
        assert_eq!(typed, ids);
        (frame, format!("{:?}", ds.rejected))
    };
    let typed = load(None);
    assert_eq!(load(Some(&cache)), typed);
    assert_eq!(load(Some(&cache)), typed);
    // A byte that is not GBK on the last line: that row alone is rejected, its byte shown.
    let mut bad = gbk.into_owned();
    bad.extend_from_slice(b"\x81 ,x,1,x\n");
    std::fs::write(dir.path().join("p.csv"), &bad).unwrap();
    let ds = load_dataset_cached(&catalog, "p", Some(&cache), None).unwrap();
    assert_eq!(ds.report.files[0].rows_read, n as u64 + 1);
    let last = ds.rejected.last().unwrap();
    assert_eq!(last.row, line);
    assert!(last.reason.contains("not valid GBK"), "{}", last.reason);
    assert_eq!(last.content[0], "\\x81 ");
    // Most rows not GBK: the file is in another encoding, refused whole with the first such
    // line named, after the first batches were written, and no partial file left.
    for _ in 0..n {
        bad.extend_from_slice(b"\x81 ,x,1,x\n");
    }
    std::fs::write(dir.path().join("p.csv"), &bad).unwrap();
    let err = load_dataset_cached(&catalog, "p", Some(&cache), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("not valid GBK") && err.contains(&format!("the first on line {line}")),
        "{err}"
    );
    let mut left: Vec<String> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.contains("partial"))
        .collect();
    left.sort();
    assert_eq!(left, Vec::<String>::new());
}

/// The ID quality counts each row once by what its value's typing found: valid (cleaned,
/// upgraded from 15 digits, both, neither) or invalid by reason.
#[test]
fn id_quality_counts_every_row_by_what_typing_found() {
    let mut flags = IdFlags::default();
    flags.push(None, false, false);
    flags.push(None, true, false);
    flags.push(None, false, true);
    flags.push(None, true, true);
    flags.push(Some(IdIssue::CheckCharacter), false, false);
    flags.push(Some(IdIssue::Missing), false, false);
    flags.push(Some(IdIssue::CheckCharacter), true, false);
    // Rows: value 0 twice, 1 once, 2 not at all, 3 three times, 4 and 6 once each.
    let rows = [0, 3, 1, 3, 4, 0, 3, 6];
    let expected = IdQuality {
        valid: 6,
        cleaned: 4,
        legacy_upgraded: 3,
        invalid: BTreeMap::from([("check_character".to_string(), 2)]),
    };
    assert_eq!(flags.quality(rows), expected);
    let issues: Vec<Option<IdIssue>> = (0..7).map(|i| flags.issue(i)).collect();
    assert_eq!(
        issues[4..],
        [
            Some(IdIssue::CheckCharacter),
            Some(IdIssue::Missing),
            Some(IdIssue::CheckCharacter)
        ]
    );
    assert!(issues[..4].iter().all(Option::is_none));
}

/// A column found mostly distinct is typed cell by cell for the next `SKIP_WHEN_DISTINCT`
/// batches, even where its values repeat, and numbered again after them; values typed in
/// one batch serve the next, and a batch found distinct leaves none half kept.
#[test]
fn numbering_is_tried_again_after_the_batches_it_skips() {
    let dir = tempfile::tempdir().unwrap();
    let path = catalog_file(dir.path(), "p.csv", &["note: { type: text }"]);
    let catalog = Catalog::load(&path).unwrap();
    let cspec = &catalog.datasets["p"].columns["note"];
    let notes = |of: &dyn Fn(usize) -> usize| -> Vec<String> {
        (0..400).map(|i| format!("备注{}", of(i))).collect()
    };
    let cells = |notes: &[String]| {
        let (mut data, mut ends) = (String::new(), Vec::new());
        for n in notes {
            data.push_str(n);
            ends.push(data.len());
        }
        read::SourceColumn::Text { data, ends }
    };
    let malformed = vec![None; 400];
    let mut state = ByValueState::default();
    // "typed" (with the rows' values as typed), "distinct" or "no".
    let mut typed = |notes: &[String]| match type_by_value(
        "note",
        cspec,
        "备注",
        &cells(notes),
        &malformed,
        &mut state,
    )
    .unwrap()
    {
        ByValue::Typed((buf, _)) => {
            let mut out = Vec::new();
            finish("note", buf, None, true, &mut out, &mut cache::Coded::new()).unwrap();
            let rows: Vec<String> = out[0]
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect();
            assert_eq!(rows, notes);
            "typed"
        }
        ByValue::Distinct => "distinct",
        ByValue::No => "no",
    };
    let distinct = notes(&|i| i);
    let (three, five) = (notes(&|i| i % 3), notes(&|i| i % 5));
    assert_eq!(typed(&three), "typed");
    assert_eq!(typed(&distinct), "distinct");
    for _ in 0..SKIP_WHEN_DISTINCT {
        assert_eq!(typed(&three), "distinct");
    }
    // Two values the distinct batch saw, and three typed before it.
    assert_eq!(typed(&five), "typed");
    assert_eq!(typed(&three), "typed");
    assert_eq!(typed(&distinct), "distinct");
}

/// A column whose values never come back (ticket numbers) is numbered in its first batch,
/// which cannot tell, then found distinct in the next and typed cell by cell for
/// `SKIP_WHEN_DISTINCT` batches; one whose values come back in the next batch (a month of
/// payments longer than a batch) stays numbered.
#[test]
fn values_that_never_come_back_are_typed_cell_by_cell_after_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = catalog_file(
        dir.path(),
        "p.csv",
        &["note: { type: text, aliases: [备注] }"],
    );
    let catalog = Catalog::load(&path).unwrap();
    let spec = &catalog.datasets["p"].columns["note"];
    let batch = |from: usize| {
        let mut data = String::new();
        let mut ends = Vec::new();
        for i in from..from + 600 {
            data.push_str(&format!("票{i}"));
            ends.push(data.len());
        }
        read::SourceColumn::Text { data, ends }
    };
    let malformed = vec![None; 600];
    let kind = |v: &ByValue| match v {
        ByValue::Typed(_) => "numbered",
        ByValue::Distinct => "distinct",
        ByValue::No => "no",
    };
    let mut never = ByValueState::default();
    let mut back = ByValueState::default();
    let mut seen = (Vec::new(), Vec::new());
    for b in 0..3 {
        let fresh = batch(b * 600);
        let v = type_by_value("note", spec, "备注", &fresh, &malformed, &mut never).unwrap();
        seen.0.push(kind(&v));
        // The same 600 values each batch, as people come back month after month.
        let again = batch(0);
        let v = type_by_value("note", spec, "备注", &again, &malformed, &mut back).unwrap();
        seen.1.push(kind(&v));
    }
    assert_eq!(seen.0, ["numbered", "distinct", "distinct"]);
    assert_eq!(seen.1, ["numbered", "numbered", "numbered"]);
}
