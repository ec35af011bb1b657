use super::*;

#[test]
fn an_inner_join_builds_from_the_side_with_fewer_rows() {
    let scan = |d: &str| Plan::Scan {
        dataset: d.to_string(),
    };
    let rows: HashMap<String, u64> = [("payments".into(), 10_000_000), ("deaths".into(), 3_000)]
        .into_iter()
        .collect();
    let filtered = scan("payments").filter(Some(E::Lit(Lit::Bool(true))));
    assert!(matches!(
        build_side(JoinKind::Inner, &filtered, &scan("deaths"), &rows),
        Some(JoinBuildSide::ForceRight)
    ));
    assert!(matches!(
        build_side(JoinKind::Inner, &scan("deaths"), &scan("payments"), &rows),
        Some(JoinBuildSide::ForceLeft)
    ));
    // Unknown counts (fixtures, explain) and semi joins are left to Polars.
    assert!(build_side(JoinKind::Inner, &scan("x"), &scan("deaths"), &rows).is_none());
    assert!(build_side(JoinKind::Semi, &filtered, &scan("deaths"), &rows).is_none());
}

/// A join whose small side is computed first, and the other side cut to its keys, gives
/// what the plain join gives: for every kind, either side small, NULL keys on both sides.
#[test]
fn a_join_cut_to_its_small_sides_keys_gives_what_the_plain_join_gives() {
    let big = df!(
        "k" => [Some("a"), Some("b"), None, Some("c"), Some("a"), Some("d")],
        "v" => [1i64, 2, 3, 4, 5, 6],
    )
    .unwrap();
    let small =
        df!("k" => [Some("a"), None, Some("c"), Some("e")], "w" => [10i64, 20, 30, 40]).unwrap();
    let frames: HashMap<String, LazyFrame> = [
        ("big".to_string(), big.lazy()),
        ("small".to_string(), small.lazy()),
    ]
    .into_iter()
    .collect();
    // The counts the choice is made from (the frames are smaller: the results must match).
    let rows: HashMap<String, u64> = [("big".into(), 8_000_000), ("small".into(), 4)]
        .into_iter()
        .collect();
    let scan = |d: &str| {
        Box::new(Plan::Scan {
            dataset: d.to_string(),
        })
    };
    let key = || E::Col("k".into());
    let sorted = |lf: LazyFrame| {
        let df = lf.collect().unwrap();
        let names: Vec<PlSmallStr> = df.get_column_names_owned();
        df.sort(names, SortMultipleOptions::default().with_nulls_last(true))
            .unwrap()
    };
    for kind in [JoinKind::Inner, JoinKind::Semi, JoinKind::Anti] {
        for (l, r) in [("big", "small"), ("small", "big")] {
            let plan = Plan::Join {
                left: scan(l),
                right: scan(r),
                kind,
                on: vec![(key(), key())],
            };
            assert_eq!(
                sorted(lower_sized(&plan, &frames, &rows, &HashMap::new()).unwrap()),
                sorted(lower(&plan, &frames).unwrap()),
                "{kind:?} join of {l} and {r}"
            );
        }
    }
    // The side chosen: the small one, but never an anti join's left side to be cut.
    let pick = |kind, l: &str, r: &str| small_side(kind, &scan(l), &scan(r), &rows);
    assert!(matches!(
        pick(JoinKind::Inner, "big", "small"),
        Some(Side::Right)
    ));
    assert!(matches!(
        pick(JoinKind::Semi, "small", "big"),
        Some(Side::Left)
    ));
    assert!(matches!(
        pick(JoinKind::Anti, "small", "big"),
        Some(Side::Left)
    ));
    assert!(pick(JoinKind::Anti, "big", "small").is_none());
    // Unknown or similar sizes: the plain join.
    assert!(pick(JoinKind::Inner, "big", "big").is_none());
    assert!(
        small_side(
            JoinKind::Inner,
            &scan("big"),
            &scan("small"),
            &HashMap::new()
        )
        .is_none()
    );
    // A small table against a few hundred thousand rows: not worth the extra step.
    let modest: HashMap<String, u64> = [("big".into(), 400_000), ("small".into(), 4)]
        .into_iter()
        .collect();
    assert!(small_side(JoinKind::Inner, &scan("big"), &scan("small"), &modest).is_none());
}

#[test]
fn a_distinct_count_in_two_group_bys_gives_what_one_gives() {
    let c = |n: &str| Box::new(E::Col(n.into()));
    let agg = |f: AggFunc, x: Option<Box<E>>| E::Agg(f, x);
    let distinct = || agg(AggFunc::CountDistinct, Some(c("x")));
    let measures = vec![
        ("people".to_string(), distinct()),
        ("rows".to_string(), agg(AggFunc::Count, None)),
        ("with_x".to_string(), agg(AggFunc::Count, Some(c("x")))),
        ("total".to_string(), agg(AggFunc::Sum, Some(c("n")))),
        // max(n) - min(n) + 1 - count(distinct x): aggregates inside an expression.
        (
            "span".to_string(),
            E::Bin(
                BinOp::Sub,
                Box::new(E::Bin(
                    BinOp::Add,
                    Box::new(E::Bin(
                        BinOp::Sub,
                        Box::new(agg(AggFunc::Max, Some(c("n")))),
                        Box::new(agg(AggFunc::Min, Some(c("n")))),
                    )),
                    Box::new(E::Lit(Lit::Int(1))),
                )),
                Box::new(distinct()),
            ),
        ),
    ];
    assert!(distinct_in_two_steps(&measures).is_some());
    let plan = Plan::Aggregate {
        input: Box::new(Plan::Scan {
            dataset: "t".into(),
        }),
        keys: vec![("g".into(), E::Col("g".into()))],
        measures: measures.clone(),
    };
    let t = df![
        "g" => [Some("a"), Some("a"), Some("a"), Some("b"), Some("b"), None, None],
        "x" => [Some(1i64), Some(1), Some(2), None, Some(3), Some(4), Some(4)],
        "n" => [Some(10i64), Some(20), Some(30), Some(5), None, Some(7), Some(8)],
    ]
    .unwrap();
    let frames: HashMap<String, LazyFrame> = [("t".to_string(), t.lazy())].into();
    let got = lower(&plan, &frames)
        .unwrap()
        .sort(["g"], SortMultipleOptions::default().with_nulls_last(true))
        .collect()
        .unwrap();
    let want = df![
        "g" => [Some("a"), Some("b"), None],
        "people" => [2i64, 1, 1],
        "rows" => [3i64, 2, 2],
        "with_x" => [3i64, 1, 2],
        "total" => [60i64, 5, 15],
        "span" => [19i64, 0, 1],
    ]
    .unwrap();
    assert_eq!(got, want);

    // An average does not split, nor do distinct counts of two columns: one group-by.
    let mut avg = measures.clone();
    avg.push(("mean".into(), agg(AggFunc::Avg, Some(c("n")))));
    assert!(distinct_in_two_steps(&avg).is_none());
    let mut two = measures;
    two.push(("ns".into(), agg(AggFunc::CountDistinct, Some(c("n")))));
    assert!(distinct_in_two_steps(&two).is_none());
}

/// `first(v ORDER BY o)` per group is the value at the group's least `o`, the first such
/// row on a tie, NULL orderings passed over and NULL when every ordering is (Spark's
/// `min_by`, which the Spark lowering uses): a reconciliation cites the first row of each
/// side by it, in both engines the same row.
#[test]
fn first_by_takes_the_value_at_the_least_ordering_as_spark_does() {
    let df = df!(
        "k" => ["a", "a", "a", "b", "b", "c", "d", "d"],
        "v" => ["a1", "a2", "a3", "b1", "b2", "c1", "d1", "d2"],
        "o" => [Some(3i64), None, Some(2), Some(5), Some(5), None, Some(9), Some(1)],
    )
    .unwrap();
    let first = E::FirstBy(Box::new(E::Col("v".into())), Box::new(E::Col("o".into())));
    for engine in [Engine::InMemory, Engine::Streaming] {
        let got = df
            .clone()
            .lazy()
            .group_by([col("k")])
            .agg([expr(&first).alias("first")])
            .sort(["k"], Default::default())
            .collect_with_engine(engine)
            .unwrap()
            .unwrap_single();
        let want: Vec<Option<&str>> = vec![Some("a3"), Some("b1"), None, Some("d2")];
        assert_eq!(
            got.column("first")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            want,
            "{engine:?}"
        );
    }
}
