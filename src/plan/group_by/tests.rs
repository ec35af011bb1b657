use super::super::expr::{BinOp, Lit};
use super::super::lower::expr;
use super::*;

fn c(n: &str) -> Option<Box<E>> {
    Some(Box::new(E::Col(n.into())))
}

/// Measures as the rules name them.
fn named<const N: usize>(measures: [(&str, E); N]) -> Vec<(String, E)> {
    measures
        .into_iter()
        .map(|(n, e)| (n.to_string(), e))
        .collect()
}

/// Every aggregate the group-by computes, alone and inside an expression.
fn measures() -> Vec<(String, E)> {
    let agg = E::Agg;
    let span = E::Bin(
        BinOp::Sub,
        Box::new(E::Bin(
            BinOp::Add,
            Box::new(E::Bin(
                BinOp::Sub,
                Box::new(agg(AggFunc::Max, c("x"))),
                Box::new(agg(AggFunc::Min, c("x"))),
            )),
            Box::new(E::Lit(Lit::Int(1))),
        )),
        Box::new(agg(AggFunc::CountDistinct, c("x"))),
    );
    named([
        ("rows", agg(AggFunc::Count, None)),
        ("with_s", agg(AggFunc::Count, c("s"))),
        ("people", agg(AggFunc::CountDistinct, c("s"))),
        ("xs", agg(AggFunc::CountDistinct, c("x"))),
        ("days", agg(AggFunc::CountDistinct, c("d"))),
        ("total", agg(AggFunc::Sum, c("x"))),
        ("money", agg(AggFunc::Sum, c("f"))),
        ("first", agg(AggFunc::Min, c("d"))),
        ("last", agg(AggFunc::Max, c("d"))),
        ("span", span),
    ])
}

/// 3,000 rows over 37 accounts (both partitions) and a NULL account, with NULLs in every
/// column, repeated values (the fast path) and new ones (the sets).
fn payments() -> DataFrame {
    let n: usize = 3000;
    let g: Vec<Option<String>> = (0..n)
        .map(|i| (i % 11 != 0).then(|| format!("62170000{:04}", i % 37)))
        .collect();
    let s: Vec<Option<String>> = (0..n)
        .map(|i| (i % 7 != 0).then(|| format!("320102195003{:06}", (i * 5) % 23)))
        .collect();
    let x: Vec<Option<i64>> = (0..n)
        .map(|i| (i % 5 != 0).then_some((i * 7 % 13) as i64 - 4))
        .collect();
    let f: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 3 != 0).then_some((i % 9) as f64 * 0.5))
        .collect();
    let d: Vec<Option<i32>> = (0..n)
        .map(|i| (i % 13 != 0).then_some(19_000 + (i % 100) as i32))
        .collect();
    df![
        "g" => g, "s" => s, "x" => x, "f" => f,
        "d" => Series::new("d".into(), d).cast(&DataType::Date).unwrap(),
    ]
    .unwrap()
}

fn by_key(lf: LazyFrame) -> DataFrame {
    lf.sort(["g"], SortMultipleOptions::default().with_nulls_last(true))
        .collect()
        .unwrap()
}

/// `df` grouped by `g` with `measures`: (Polars' group_by, this group-by), by key.
fn polars_and_ours(df: DataFrame, measures: &[(String, E)]) -> (DataFrame, DataFrame) {
    let lowered: Vec<Expr> = measures
        .iter()
        .map(|(n, e)| expr(e).alias(n.as_str()))
        .collect();
    let want = by_key(df.clone().lazy().group_by([col("g")]).agg(lowered));
    let keys = [("g".to_string(), col("g"))];
    let got = text_key_aggregate(df.lazy(), &keys, measures, expr)
        .unwrap()
        .expect("a text key with these aggregates is handled here")
        .run()
        .unwrap();
    (want, by_key(got))
}

#[test]
fn the_text_key_group_by_gives_what_polars_gives() {
    let (want, got) = polars_and_ours(payments(), &measures());
    assert_eq!(got, want);
    assert_eq!(want.height(), 38);
}

/// Thousands of groups (the table grows several times while a batch is added), keys
/// longer than the inline 24 bytes (addresses in Chinese), an empty key, and a NULL key.
#[test]
fn many_and_long_keys_give_what_polars_gives() {
    let n: usize = 20_000;
    let g: Vec<Option<String>> = (0..n)
        .map(|i| match i % 5000 {
            0 => None,
            1 => Some(String::new()),
            k if k % 2 == 0 => Some(format!("南京市玄武区长江路{k}号")),
            k => Some(format!("{k}")),
        })
        .collect();
    let s: Vec<String> = (0..n).map(|i| format!("{}", i % 7)).collect();
    let x: Vec<i64> = (0..n as i64).collect();
    let df = df!["g" => g, "s" => s, "x" => x].unwrap();
    let measures = named([
        ("rows", E::Agg(AggFunc::Count, None)),
        ("people", E::Agg(AggFunc::CountDistinct, c("s"))),
        ("total", E::Agg(AggFunc::Sum, c("x"))),
    ]);
    let (want, got) = polars_and_ours(df, &measures);
    assert_eq!(got, want);
    assert_eq!(want.height(), 5000);
}

/// Batches cut at uneven places (one row, an empty one, both partitions) give what Polars
/// gives for the whole.
#[test]
fn batches_add_up_to_the_whole() {
    let measures = measures();
    let (want, _) = polars_and_ours(payments(), &measures);
    let keys = [("g".to_string(), col("g"))];
    // One partition (one core) to 16 (a data centre's machine): the same groups.
    for bits in [0, 1, 2, 4] {
        let agg = text_key_aggregate(payments().lazy(), &keys, &measures, expr)
            .unwrap()
            .unwrap();
        let inputs = agg.narrowed.collect().unwrap();
        let mut groups = Groups::with_bits(agg.states, bits);
        let mut from = 0;
        for to in [1, 2, 2, 700, 701, 2999, 3000] {
            groups.add(&inputs.slice(from as i64, to - from)).unwrap();
            from = to;
        }
        let frame = groups.finish(&agg.key, &agg.dtypes).unwrap();
        assert_eq!(by_key(frame.lazy().select(agg.out)), want, "{bits} bits");
    }
}

/// Writes `df` as the cache writes its files (LZ4, row groups), in row groups of `rows`
/// and small pages, so a column chunk has several pages.
fn cached(dir: &std::path::Path, name: &str, df: &mut DataFrame, rows: usize) -> PathBuf {
    let path = dir.join(name);
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_compression(ParquetCompression::Lz4Raw)
        .with_row_group_size(Some(rows))
        .with_data_page_size(Some(2048))
        .finish(df)
        .unwrap();
    path
}

/// The aggregate of `files` by `g`, read directly from the files: (Polars' group_by of
/// their rows, this group-by), by key.
fn polars_and_from_files(files: &[PathBuf], measures: &[(String, E)]) -> (DataFrame, DataFrame) {
    let scan = |f: &PathBuf| {
        LazyFrame::scan_parquet(f.to_str().unwrap().into(), Default::default()).unwrap()
    };
    let all = concat(
        files.iter().map(scan).collect::<Vec<_>>(),
        UnionArgs::default(),
    )
    .unwrap();
    let lowered: Vec<Expr> = measures
        .iter()
        .map(|(n, e)| expr(e).alias(n.as_str()))
        .collect();
    let want = by_key(all.clone().group_by([col("g")]).agg(lowered));
    let keys = [("g".to_string(), col("g"))];
    let own = text_key_aggregate(all, &keys, measures, expr)
        .unwrap()
        .unwrap()
        .reading_cache(files, Some("g".into()), stored, &[])
        .unwrap();
    assert!(own.reads_cache());
    (want, by_key(own.run().unwrap()))
}

/// A plain column's name: how lowering maps an argument to a stored column.
fn stored(e: &E) -> Option<String> {
    match e {
        E::Col(c) => Some(c.clone()),
        _ => None,
    }
}

/// The cache's files read directly give what Polars gives: NULLs in every column (a NULL
/// key's group), dictionary pages, several pages and row groups per file, two files.
#[test]
fn reading_the_cache_files_gives_what_polars_gives() {
    let dir = tempfile::tempdir().unwrap();
    let mut df = payments();
    let mut tail = df.split_at(2000).1;
    let mut head = df.slice(0, 2000);
    let files = [
        cached(dir.path(), "a.parquet", &mut head, 700),
        cached(dir.path(), "b.parquet", &mut tail, 300),
    ];
    // The keys and texts repeat: the files hold them as dictionaries.
    let file = parquet::File::open(&files[1]).unwrap();
    assert!((0..file.row_groups()).all(|rg| file.dictionary_encoded(rg, "g")));
    assert!(file.row_groups() > 1 && file.dictionary_encoded(0, "s"));
    let (want, got) = polars_and_from_files(&files, &measures());
    assert_eq!(got, want);
    assert_eq!(want.height(), 38);
    // One file alone too, and the whole in one row group.
    let whole = cached(dir.path(), "c.parquet", &mut df, 1 << 20);
    for f in [&files[0], &whole] {
        let (want, got) = polars_and_from_files(std::slice::from_ref(f), &measures());
        assert_eq!(got, want);
    }
    // No NULL key in the file: its rows are added as they come, without a row list (the
    // values summed and counted still have NULLs).
    let mut keyed = df.lazy().filter(col("g").is_not_null()).collect().unwrap();
    let f = cached(dir.path(), "d.parquet", &mut keyed, 700);
    let (want, got) = polars_and_from_files(std::slice::from_ref(&f), &measures());
    assert_eq!(got, want);
    assert_eq!(want.height(), 37);
}

/// A file the cache itself wrote, from an extract with rows it rejected and IDs it could
/// not read (NULL), gives what Polars gives: no group for a value only a rejected row
/// held, none for an empty text.
#[test]
fn a_cache_file_of_typed_values_gives_what_polars_gives() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("身份证号,姓名,金额\n");
    for i in 0..400 {
        let id = match i % 5 {
            0 => "12345".to_string(),
            1 => format!(" 11010519491231002{} ", ["X", "x"][i % 2]),
            _ => format!("3201021950030112{:02}", (i % 7) * 3 + 8),
        };
        let name = ["张伟", "", "李娜", " 王芳 "][i % 4];
        csv.push_str(&format!("{id},{name},{i}\n"));
    }
    // Only rejected rows (no name) hold this ID.
    csv.push_str("530102199001011234,,1\n");
    std::fs::write(dir.path().join("p.csv"), csv).unwrap();
    let catalog = dir.path().join("datasets.yaml");
    std::fs::write(
            &catalog,
            "datasets:\n  p:\n    path: p.csv\n    columns:\n      g: { type: id_card, aliases: [身份证号] }\n      s: { type: name, aliases: [姓名], required: true }\n      x: { type: int, aliases: [金额] }\n",
        )
        .unwrap();
    let catalog = crate::job::catalog::Catalog::load(&catalog).unwrap();
    let cache = crate::ingest::cache::Cache::new(&dir.path().join("cache")).unwrap();
    let load = || crate::ingest::load_dataset_cached(&catalog, "p", Some(&cache), None);
    // The first load converts the extract into the cache; the second reads the cache.
    assert!(load().unwrap().report.rows_rejected > 0);
    let files = load().unwrap().stored.unwrap().files;
    let measures = named([
        ("rows", E::Agg(AggFunc::Count, None)),
        ("named", E::Agg(AggFunc::Count, c("s"))),
        ("names", E::Agg(AggFunc::CountDistinct, c("s"))),
        ("total", E::Agg(AggFunc::Sum, c("x"))),
    ]);
    let (want, got) = polars_and_from_files(&files, &measures);
    assert_eq!(got, want);
    let keys: Vec<Option<&str>> = want.column("g").unwrap().str().unwrap().iter().collect();
    assert!(!keys.contains(&Some("530102199001011234")) && !keys.contains(&Some("")));
    assert!(keys.contains(&None) && keys.contains(&Some("11010519491231002X")));

    // The rows' numbers are stored as deltas, which the reader does not decode: an
    // aggregate of them reads through Polars, and gives what Polars gives.
    let stored = load().unwrap().stored.unwrap();
    assert!(stored.unreadable.contains(&"__row".to_string()));
    let all = concat(
        files
            .iter()
            .map(|f| LazyFrame::scan_parquet(f.to_str().unwrap().into(), Default::default()))
            .collect::<PolarsResult<Vec<_>>>()
            .unwrap(),
        UnionArgs::default(),
    )
    .unwrap();
    let measures = named([("last", E::Agg(AggFunc::Max, c("__row")))]);
    let want = by_key(
        all.clone()
            .group_by([col("g")])
            .agg([col("__row").max().alias("last")]),
    );
    let own = text_key_aggregate(all, &[("g".to_string(), col("g"))], &measures, expr)
        .unwrap()
        .unwrap()
        .reading_cache(
            &stored.files,
            Some("g".into()),
            self::stored,
            &stored.unreadable,
        )
        .unwrap();
    assert!(!own.reads_cache());
    assert_eq!(by_key(own.run().unwrap()), want);
}

/// Keys and texts all different (the writer stores them PLAIN, not as a dictionary),
/// keys longer than the inline 24 bytes, and an empty key.
#[test]
fn plain_pages_and_long_keys_in_the_cache_files_give_what_polars_gives() {
    let n: usize = 6_000;
    let g: Vec<Option<String>> = (0..n)
        .map(|i| match i {
            0 => None,
            1 => Some(String::new()),
            _ if i % 2 == 0 => Some(format!("南京市玄武区长江路{i}号")),
            _ => Some(format!("{}", i / 3)),
        })
        .collect();
    let s: Vec<Option<String>> = (0..n)
        .map(|i| (i % 17 != 0).then(|| format!("320102{i:012}")))
        .collect();
    let x: Vec<i64> = (0..n as i64).collect();
    let mut df = df!["g" => g, "s" => s, "x" => x].unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = cached(dir.path(), "p.parquet", &mut df, 2_500);
    let stored = parquet::File::open(&file).unwrap();
    assert!(!stored.dictionary_encoded(0, "s") && !stored.dictionary_encoded(1, "s"));
    let measures = named([
        ("rows", E::Agg(AggFunc::Count, None)),
        ("with_s", E::Agg(AggFunc::Count, c("s"))),
        ("people", E::Agg(AggFunc::CountDistinct, c("s"))),
        ("total", E::Agg(AggFunc::Sum, c("x"))),
        ("last", E::Agg(AggFunc::Max, c("x"))),
    ]);
    let (want, got) = polars_and_from_files(&[file], &measures);
    assert_eq!(got, want);
    assert_eq!(want.height(), 1 + 1 + 2_999 + 1_999);
}

/// The files are not read directly when a column is computed, not stored, stored other
/// than the rules see it (an elided raw ID), or of a type read through Polars only.
#[test]
fn the_cache_files_are_read_through_polars_when_they_cannot_be_read_directly() {
    let dir = tempfile::tempdir().unwrap();
    let mut df = payments();
    let time: Vec<Option<i64>> = (0..df.height() as i64).map(Some).collect();
    df.with_column(
        Series::new("t".into(), time)
            .cast(&DataType::Time)
            .unwrap()
            .into_column(),
    )
    .unwrap();
    let file = cached(dir.path(), "t.parquet", &mut df, 1000);
    let keys = [("g".to_string(), col("g"))];
    let reads = |measures: &[(String, E)], key: Option<&str>, unreadable: &[String]| {
        let lf =
            LazyFrame::scan_parquet(file.to_str().unwrap().into(), Default::default()).unwrap();
        text_key_aggregate(lf, &keys, measures, expr)
            .unwrap()
            .unwrap()
            .reading_cache(
                std::slice::from_ref(&file),
                key.map(str::to_string),
                stored,
                unreadable,
            )
            .unwrap()
            .reads_cache()
    };
    let m = |e: E| vec![("m".to_string(), e)];
    assert!(reads(&measures(), Some("g"), &[]));
    assert!(!reads(&measures(), None, &[]));
    assert!(!reads(&measures(), Some("absent"), &[]));
    assert!(!reads(&measures(), Some("g"), &["s".to_string()]));
    assert!(!reads(&m(E::Agg(AggFunc::Max, c("t"))), Some("g"), &[]));
    let computed = E::Agg(
        AggFunc::Sum,
        Some(Box::new(E::Bin(
            BinOp::Add,
            c("x").unwrap(),
            c("x").unwrap(),
        ))),
    );
    assert!(!reads(&m(computed), Some("g"), &[]));
}

#[test]
fn other_shapes_are_left_to_polars() {
    let df = payments();
    let text = [("g".to_string(), col("g"))];
    let mean = vec![("m".to_string(), E::Agg(AggFunc::Avg, c("x")))];
    let none = |keys: &[(String, Expr)], m: &[(String, E)]| {
        text_key_aggregate(df.clone().lazy(), keys, m, expr)
            .unwrap()
            .is_none()
    };
    // An average, a number key, two keys, a distinct count of decimals.
    assert!(none(&text, &mean));
    assert!(none(&[("x".to_string(), col("x"))], &measures()));
    assert!(none(
        &[("g".to_string(), col("g")), ("s".to_string(), col("s"))],
        &measures()
    ));
    let decimals = vec![("n".to_string(), E::Agg(AggFunc::CountDistinct, c("f")))];
    assert!(none(&text, &decimals));
}

/// A file whose row groups' dictionaries extend one another (the cache's writer keeps a
/// column's dictionary while its values recur), then one that does not, gives what Polars
/// gives: the reader reuses what it looked up for the group before only where the bytes
/// are the same.
#[test]
fn dictionaries_kept_from_group_to_group_give_what_polars_gives() {
    use crate::ingest::cache::pages::PageWriter;
    let n = 6000;
    // Accounts of 100 people paid ten times a month, three changing each month; then
    // other people.
    let g: Vec<String> = (0..n)
        .map(|r| {
            let month = r / 1000;
            let person = r % 100 + if month < 4 { month * 3 } else { 5000 };
            format!("62170000{person:011}")
        })
        .collect();
    let s: Vec<Option<String>> = (0..n)
        .map(|r| (r % 13 != 0).then(|| format!("张{}", (r % 100) / 2 + r / 1000)))
        .collect();
    let x: Vec<i64> = (0..n as i64).collect();
    let df = DataFrame::new(
        n,
        vec![
            Column::new("g".into(), g),
            Column::new("s".into(), s),
            Column::new("x".into(), x),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.parquet");
    let mut writer =
        PageWriter::new(std::fs::File::create(&path).unwrap(), df.schema(), 1000).unwrap();
    for start in (0..n).step_by(250) {
        writer
            .write(&df.slice(start as i64, 250), &Default::default())
            .unwrap();
    }
    writer.finish().unwrap();
    let file = parquet::File::open(&path).unwrap();
    assert!((0..6).all(|rg| file.dictionary_encoded(rg, "g")));
    let measures = named([
        ("rows", E::Agg(AggFunc::Count, None)),
        ("names", E::Agg(AggFunc::CountDistinct, c("s"))),
        ("total", E::Agg(AggFunc::Sum, c("x"))),
    ]);
    let (want, got) = polars_and_from_files(&[path], &measures);
    assert_eq!(got, want);
    assert_eq!(want.height(), 100 + 9 + 100);
}
