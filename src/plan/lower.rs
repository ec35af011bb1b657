//! Lowering the logical plan to Polars LazyFrames. Polars types appear where data is held or
//! moved: here and in the hand-written group-by (`group_by/`), the `sql` kind's schema check,
//! the Spark lowering's types, ingest (readers, typing, the cache's pages), `intern`, the engine
//! (running and collecting frames), output and diff (Parquet), and `profile` — not in the
//! logical plan, the rules' model or the expression language, which a Polars upgrade leaves
//! alone.

use std::collections::HashMap;

use polars::prelude::*;

use super::expr::{AggFunc, BinOp, Expr as E, Func, Lit};
use super::{JoinKind, Plan};
use crate::ingest::cache::Stored;

/// Lowers a plan as written, without the choices made from the data's sizes (what `explain`
/// shows, and what the Spark lowering takes schemas from): nothing is computed.
pub fn lower(plan: &Plan, frames: &HashMap<String, LazyFrame>) -> PolarsResult<LazyFrame> {
    lower_in(plan, frames, None)
}

/// The hand-written group-by for an aggregate, when it takes it (see `group_by.rs`).
fn text_key_aggregate(
    input: LazyFrame,
    keys: &[(String, E)],
    measures: &[(String, E)],
) -> PolarsResult<Option<super::group_by::TextKeyAggregate>> {
    let named: Vec<(String, Expr)> = keys.iter().map(|(n, e)| (n.clone(), expr(e))).collect();
    super::group_by::text_key_aggregate(input, &named, measures, expr)
}

/// The hand-written group-by reading the cache's files itself, when the aggregate's input is
/// a dataset the cache served whole, with its key and arguments stored columns (renamed at
/// most); otherwise as it was.
fn reading_cache(
    own: super::group_by::TextKeyAggregate,
    input: &Plan,
    keys: &[(String, E)],
    stored: &HashMap<String, Stored>,
) -> PolarsResult<super::group_by::TextKeyAggregate> {
    let Some((dataset, names)) = stored_columns(input) else {
        return Ok(own);
    };
    let Some(files) = stored.get(dataset) else {
        return Ok(own);
    };
    let column = |e: &E| stored_column(&names, e);
    let key = keys.first().and_then(|(_, e)| column(e));
    own.reading_cache(&files.files, key, column, &files.unreadable)
}

/// The stored column `e` is, when it is a column of the scan (`names`: the renamed ones).
fn stored_column(names: &HashMap<String, Option<String>>, e: &E) -> Option<String> {
    match e {
        E::Col(c) => names.get(c).cloned().unwrap_or_else(|| Some(c.clone())),
        _ => None,
    }
}

/// The dataset a plan scans and its columns' names in the scan, when the plan is the scan
/// with columns renamed at most: each new name → the stored column (`None`: computed).
fn stored_columns(plan: &Plan) -> Option<(&str, HashMap<String, Option<String>>)> {
    match plan {
        Plan::Scan { dataset } => Some((dataset, HashMap::new())),
        Plan::WithColumns { input, columns } => {
            let (dataset, mut names) = stored_columns(input)?;
            for (n, e) in columns {
                let was = stored_column(&names, e);
                names.insert(n.clone(), was);
            }
            Some((dataset, names))
        }
        _ => None,
    }
}

/// How many of the plan's aggregates run on crosscheck's own group-by rather than on the
/// Polars group-by `lower` shows (for `explain`). Nothing is computed.
pub fn own_group_bys(plan: &Plan, frames: &HashMap<String, LazyFrame>) -> PolarsResult<usize> {
    let here = match plan {
        Plan::Aggregate {
            input,
            keys,
            measures,
        } => usize::from(text_key_aggregate(lower(input, frames)?, keys, measures)?.is_some()),
        _ => 0,
    };
    plan.inputs()
        .into_iter()
        .try_fold(here, |n, p| Ok(n + own_group_bys(p, frames)?))
}

/// An upper bound of the rows a plan yields, from its datasets' row counts (`None`: unknown).
fn rows_bound(plan: &Plan, rows: &HashMap<String, u64>) -> Option<u64> {
    match plan {
        Plan::Scan { dataset } => rows.get(dataset).copied(),
        Plan::Filter { input, .. }
        | Plan::Prefix { input, .. }
        | Plan::WithColumns { input, .. }
        | Plan::Project { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Guard { input, .. } => rows_bound(input, rows),
        Plan::Join { left, right, .. } => {
            Some(rows_bound(left, rows)?.saturating_mul(rows_bound(right, rows)?.max(1)))
        }
        Plan::Union { inputs } => inputs.iter().map(|p| rows_bound(p, rows)).sum(),
        // Only pairs above the threshold, at most the guard's count per blocking key.
        Plan::Link { .. } => None,
        Plan::Sql { datasets, .. } => datasets.iter().map(|d| rows.get(d).copied()).sum(),
    }
}

/// The side an inner join builds its hash table from: the one with fewer rows, when known.
fn build_side(
    kind: JoinKind,
    left: &Plan,
    right: &Plan,
    rows: &HashMap<String, u64>,
) -> Option<JoinBuildSide> {
    match (kind, rows_bound(left, rows), rows_bound(right, rows)) {
        (JoinKind::Inner, Some(l), Some(r)) if r < l => Some(JoinBuildSide::ForceRight),
        (JoinKind::Inner, Some(l), Some(r)) if l < r => Some(JoinBuildSide::ForceLeft),
        _ => None,
    }
}

/// Lowers a plan to run it, knowing each dataset's row count: an inner join builds its hash
/// table from the smaller side (Polars otherwise builds from the left, and a check of a
/// hundred million payments against a death register would hold the payments), and a join
/// with a small side computes that side first (see `small_side`). An aggregate of a dataset
/// the cache served whole (`stored`) may read the cache's files itself (see `group_by`).
pub fn lower_sized(
    plan: &Plan,
    frames: &HashMap<String, LazyFrame>,
    rows: &HashMap<String, u64>,
    stored: &HashMap<String, Stored>,
) -> PolarsResult<LazyFrame> {
    lower_in(plan, frames, Some(Sized { rows, stored }))
}

/// What a run knows of its datasets besides their frames.
#[derive(Clone, Copy)]
struct Sized<'a> {
    rows: &'a HashMap<String, u64>,
    stored: &'a HashMap<String, Stored>,
}

fn lower_in(
    plan: &Plan,
    frames: &HashMap<String, LazyFrame>,
    sized: Option<Sized>,
) -> PolarsResult<LazyFrame> {
    let lower = |p: &Plan, f: &HashMap<String, LazyFrame>| lower_in(p, f, sized);
    Ok(match plan {
        Plan::Scan { dataset } => {
            let df = frames
                .get(dataset)
                .ok_or_else(|| polars_err!(ComputeError: "dataset `{}` was not loaded (a bug in crosscheck)", dataset))?;
            df.clone()
                .with_column(lit(dataset.as_str()).alias("__dataset"))
        }
        Plan::Filter { input, predicate } => lower(input, frames)?.filter(expr(predicate)),
        Plan::Prefix { input, prefix } => {
            let mut lf = lower(input, frames)?;
            let schema = lf.collect_schema()?;
            let cols: Vec<Expr> = schema
                .iter_names()
                .map(|n| col(n.clone()).alias(format!("{prefix}{n}")))
                .collect();
            lf.select(cols)
        }
        Plan::WithColumns { input, columns } => lower(input, frames)?.with_columns(
            columns
                .iter()
                .map(|(n, e)| expr(e).alias(n.as_str()))
                .collect::<Vec<_>>(),
        ),
        Plan::Project { input, columns } => lower(input, frames)?.select(
            columns
                .iter()
                .map(|(n, e)| expr(e).alias(n.as_str()))
                .collect::<Vec<_>>(),
        ),
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            // Join on computed key columns so the right side's own columns survive the join.
            let names: Vec<String> = (0..on.len()).map(|i| format!("__jk{i}")).collect();
            let l = lower(left, frames)?.with_columns(
                on.iter()
                    .zip(&names)
                    .map(|((a, _), n)| expr(a).alias(n.as_str()))
                    .collect::<Vec<_>>(),
            );
            let r = lower(right, frames)?.with_columns(
                on.iter()
                    .zip(&names)
                    .map(|((_, b), n)| expr(b).alias(n.as_str()))
                    .collect::<Vec<_>>(),
            );
            let (l, r) = match sized.and_then(|s| small_side(*kind, left, right, s.rows)) {
                Some(Side::Left) => narrow_by_small_side(l, r, &names)?,
                Some(Side::Right) => {
                    let (r, l) = narrow_by_small_side(r, l, &names)?;
                    (l, r)
                }
                None => (l, r),
            };
            let keys: Vec<Expr> = names.iter().map(|n| col(n.as_str())).collect();
            let how = match kind {
                JoinKind::Inner => JoinType::Inner,
                JoinKind::Semi => JoinType::Semi,
                JoinKind::Anti => JoinType::Anti,
            };
            let build = sized.and_then(|s| build_side(*kind, left, right, s.rows));
            l.join(r, &keys, &keys, JoinArgs::new(how).with_build_side(build))
        }
        Plan::Aggregate {
            input,
            keys,
            measures,
        } => {
            let lowered = lower(input, frames)?;
            // Run to lead rows (not `explain`): a text key goes to the hand-written group-by.
            if let Some(sized) = sized
                && let Some(own) = text_key_aggregate(lowered.clone(), keys, measures)?
            {
                return reading_cache(own, input, keys, sized.stored)?.run();
            }
            let named = |v: &[(String, E)]| -> Vec<Expr> {
                v.iter().map(|(n, e)| expr(e).alias(n.as_str())).collect()
            };
            if let Some((partials, totals)) = distinct_in_two_steps(measures) {
                let mut inner_keys = named(keys);
                inner_keys.push(expr(&partials.distinct).alias(DISTINCT_COLUMN));
                let outer_keys: Vec<Expr> = keys.iter().map(|(n, _)| col(n.as_str())).collect();
                return Ok(lowered
                    .group_by(inner_keys)
                    .agg(named(&partials.measures))
                    .group_by(outer_keys)
                    .agg(named(&totals)));
            }
            lowered.group_by(named(keys)).agg(named(measures))
        }
        Plan::Union { inputs } => {
            let lfs = inputs
                .iter()
                .map(|p| lower(p, frames))
                .collect::<PolarsResult<Vec<_>>>()?;
            // NULL columns (a side with no partner) take the other inputs' types.
            concat(
                lfs,
                UnionArgs {
                    to_supertypes: true,
                    ..Default::default()
                },
            )?
        }
        Plan::Guard { input, max_pairs } => {
            let Plan::Join {
                left, right, on, ..
            } = input.as_ref()
            else {
                polars_bail!(ComputeError: "a guard must sit on a join (a bug in crosscheck)");
            };
            check_pairs(lower(left, frames)?, lower(right, frames)?, on, *max_pairs)?;
            lower(input, frames)?
        }
        Plan::Link { left, right, link } => {
            // Each side with its helper columns: the record's ID, the blocking keys, the
            // compared values; the linkage itself runs over the collected records.
            let side = |plan: &Plan, left_side: bool| -> PolarsResult<DataFrame> {
                let cols: Vec<Expr> = link
                    .helper_columns(left_side)
                    .into_iter()
                    .map(|(name, e)| expr(e).alias(name.as_str()))
                    .collect();
                lower(plan, frames)?.with_columns(cols).collect()
            };
            let l = side(left, true)?;
            let r = if link.dedupe {
                // One register against itself (its pairings mirrored, as `check` requires):
                // read once, its columns renamed to the right side's.
                let mut r = l.clone();
                let names: Vec<String> =
                    r.get_column_names().iter().map(|n| n.to_string()).collect();
                for n in names {
                    if let Some(rest) = n.strip_prefix("l.") {
                        r.rename(&n, format!("r.{rest}").into())?;
                    }
                }
                r
            } else {
                side(right, false)?
            };
            let mut estimated = None;
            let out = super::link::run(l, r, link, &mut estimated)?;
            link.estimates.set(estimated);
            out.lazy()
        }
        Plan::Sql { query, datasets } => {
            let mut ctx = polars::sql::SQLContext::new();
            for d in datasets {
                let df = frames
                    .get(d)
                    .ok_or_else(|| polars_err!(ComputeError: "dataset `{}` was not loaded (a bug in crosscheck)", d))?;
                ctx.register(
                    d,
                    df.clone().with_column(lit(d.as_str()).alias("__dataset")),
                );
            }
            ctx.execute(query)?
        }
    })
}

/// Whether a plan yields an aggregate's groups (after filters and projections): one row per
/// group, in practice far fewer than the rows it was computed from.
fn aggregated(plan: &Plan) -> bool {
    match plan {
        Plan::Aggregate { .. } => true,
        Plan::Filter { input, .. }
        | Plan::Prefix { input, .. }
        | Plan::WithColumns { input, .. }
        | Plan::Project { input, .. } => aggregated(input),
        _ => false,
    }
}

enum Side {
    Left,
    Right,
}

/// A side at most this many rows is small enough to compute before its join.
const SMALL_SIDE_ROWS: u64 = 2_000_000;
/// Below this many rows on the other side, the extra step costs more than the decoding it
/// saves (measured in benches/HISTORY.md).
const BIG_SIDE_ROWS: u64 = 1_000_000;

/// The side of a join worth computing first, to cut the other side to its keys: an aggregate's
/// groups joined back to rows, or a side known to be far smaller than the other (a death
/// register against ten million payments). An anti join keeps the left rows without a
/// partner, so only its right side may be cut.
fn small_side(
    kind: JoinKind,
    left: &Plan,
    right: &Plan,
    rows: &HashMap<String, u64>,
) -> Option<Side> {
    let small =
        |a: u64, b: u64| a <= SMALL_SIDE_ROWS && a.saturating_mul(8) <= b && b >= BIG_SIDE_ROWS;
    let by_rows = || match (rows_bound(left, rows), rows_bound(right, rows)) {
        (Some(l), Some(r)) if small(l, r) => Some(Side::Left),
        (Some(l), Some(r)) if small(r, l) => Some(Side::Right),
        _ => None,
    };
    let side = match (aggregated(left), aggregated(right)) {
        (true, false) => Some(Side::Left),
        (false, true) => Some(Side::Right),
        _ => by_rows(),
    };
    match (kind, side) {
        (JoinKind::Inner | JoinKind::Semi, s) => s,
        (JoinKind::Anti, Some(Side::Left)) => Some(Side::Left),
        (JoinKind::Anti, _) => None,
    }
}

/// Computes a join's small side first and cuts the big side to its keys. The cut is a filter
/// the Parquet scan applies while decoding, so the other columns of rows without a partner are
/// never decoded (benches/HISTORY.md has the join of an aggregate's groups back to ten million
/// payments). Holding the small side costs no more than the join's hash table (or the
/// group-by below it) did.
fn narrow_by_small_side(
    small: LazyFrame,
    mut big: LazyFrame,
    keys: &[String],
) -> PolarsResult<(LazyFrame, LazyFrame)> {
    let groups = small
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    let schema = big.collect_schema()?;
    let mut cut: Option<Expr> = None;
    for k in keys {
        let values = groups.column(k)?.as_materialized_series();
        // A key of another type is left to the join, which coerces or refuses it.
        if schema.get(k) != Some(values.dtype()) {
            continue;
        }
        let set = lit(values.implode()?.into_series());
        let this = col(k.as_str()).is_in(set, false);
        cut = Some(match cut {
            Some(c) => c.and(this),
            None => this,
        });
    }
    if let Some(c) = cut {
        big = big.filter(c);
    }
    Ok((groups.lazy(), big))
}

/// The guard: counts the rows per key on each side and refuses a key whose pairs would exceed
/// the limit, naming the key, before the join runs.
fn check_pairs(
    left: LazyFrame,
    right: LazyFrame,
    on: &[(E, E)],
    max_pairs: u64,
) -> PolarsResult<()> {
    let names: Vec<String> = (0..on.len()).map(|i| format!("__gk{i}")).collect();
    let keys = |side: usize| -> Vec<Expr> {
        on.iter()
            .zip(&names)
            .map(|((a, b), n)| expr(if side == 0 { a } else { b }).alias(n.as_str()))
            .collect()
    };
    let on_cols: Vec<Expr> = names.iter().map(|n| col(n.as_str())).collect();
    // Only keys found on both sides can pair: each side is cut to them before it is counted,
    // so a ten-million-row side against a small one is probed, not grouped whole.
    let (left, right) = (left.with_columns(keys(0)), right.with_columns(keys(1)));
    let semi = |lf: LazyFrame, other: &LazyFrame| {
        lf.join(
            other.clone().select(on_cols.clone()),
            &on_cols,
            &on_cols,
            JoinArgs::new(JoinType::Semi),
        )
    };
    let (left, right) = (semi(left.clone(), &right), semi(right, &left));
    let count = |lf: LazyFrame, name: &str| {
        lf.group_by(on_cols.clone())
            .agg([len().cast(DataType::Float64).alias(name)])
    };
    let worst = count(left, "__nl")
        .join(
            count(right, "__nr"),
            &on_cols,
            &on_cols,
            JoinArgs::new(JoinType::Inner),
        )
        .with_column((col("__nl") * col("__nr")).alias("__pairs"))
        .sort(
            ["__pairs"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .limit(1)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    if worst.height() == 0 {
        return Ok(());
    }
    let pairs = worst
        .column("__pairs")?
        .get(0)?
        .extract::<f64>()
        .unwrap_or(0.0);
    if pairs > max_pairs as f64 {
        let key: Vec<String> = names
            .iter()
            .map(|n| {
                worst
                    .column(n)
                    .map(|c| {
                        c.get(0)
                            .map(|v| {
                                v.get_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string())
                            })
                            .unwrap_or_default()
                    })
                    .unwrap_or_default()
            })
            .collect();
        polars_bail!(ComputeError:
            "the key {} would form {} pairs, more than max_pairs = {}; narrow `on` or the `where` filters, or raise `max_pairs` if this is expected",
            key.join("|"), pairs as u64, max_pairs);
    }
    Ok(())
}

fn literal(l: &Lit) -> Expr {
    match l {
        Lit::Null => lit(NULL),
        Lit::Bool(b) => lit(*b),
        Lit::Int(i) => lit(*i),
        Lit::Float(f) => lit(*f),
        Lit::Text(s) => lit(s.as_str()),
        Lit::Date(d) => lit(*d).cast(DataType::Date),
    }
}

/// Lowers one expression.
pub fn expr(e: &E) -> Expr {
    match e {
        E::Col(c) => col(c.as_str()),
        E::Lit(l) => literal(l),
        E::Not(x) => expr(x).not(),
        E::Neg(x) => lit(0) - expr(x),
        E::Bin(op, a, b) => {
            let (a, b) = (expr(a), expr(b));
            match op {
                BinOp::Eq => a.eq(b),
                BinOp::NotEq => a.neq(b),
                BinOp::Lt => a.lt(b),
                BinOp::LtEq => a.lt_eq(b),
                BinOp::Gt => a.gt(b),
                BinOp::GtEq => a.gt_eq(b),
                BinOp::And => a.and(b),
                BinOp::Or => a.or(b),
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a.cast(DataType::Float64) / b.cast(DataType::Float64),
                BinOp::Concat => concat_str(
                    [a.cast(DataType::String), b.cast(DataType::String)],
                    "",
                    false,
                ),
            }
        }
        E::IsNull(x, false) => expr(x).is_null(),
        E::IsNull(x, true) => expr(x).is_not_null(),
        E::In(x, list, negated) => {
            let ex = expr(x);
            let any = list
                .iter()
                .fold(lit(false), |acc, l| acc.or(ex.clone().eq(literal(l))));
            // SQL: x IN (…) is NULL when x is NULL.
            let any = when(ex.clone().is_null())
                .then(lit(NULL).cast(DataType::Boolean))
                .otherwise(any);
            if *negated { any.not() } else { any }
        }
        E::Between(x, lo, hi, negated) => {
            let ex = expr(x);
            let b = ex.clone().gt_eq(expr(lo)).and(ex.lt_eq(expr(hi)));
            if *negated { b.not() } else { b }
        }
        E::Like(x, pattern, negated) => {
            let m = expr(x).str().contains(lit(like_to_regex(pattern)), true);
            if *negated { m.not() } else { m }
        }
        E::Func(f, args) => func(*f, args),
        E::Agg(a, arg) => match (a, arg) {
            (AggFunc::Count, None) => len().cast(DataType::Int64),
            (AggFunc::Count, Some(x)) => expr(x).count().cast(DataType::Int64),
            (AggFunc::CountDistinct, Some(x)) => {
                expr(x).drop_nulls().n_unique().cast(DataType::Int64)
            }
            (AggFunc::Sum, Some(x)) => expr(x).sum(),
            (AggFunc::Avg, Some(x)) => expr(x).mean(),
            (AggFunc::Min, Some(x)) => expr(x).min(),
            (AggFunc::Max, Some(x)) => expr(x).max(),
            (AggFunc::BenfordMad, Some(x)) => {
                let d = first_digit(expr(x));
                let n = d.clone().is_not_null().cast(DataType::Float64).sum();
                (1..=9).fold(lit(0.0), |acc, k: i64| {
                    let share = d
                        .clone()
                        .eq(lit(k))
                        .fill_null(lit(false))
                        .cast(DataType::Float64)
                        .sum()
                        / n.clone();
                    acc + (share - lit((1.0 + 1.0 / k as f64).log10())).abs()
                }) / lit(9.0)
            }
            (_, None) => len().cast(DataType::Int64),
        },
        E::DateToDatetime(x) => expr(x).cast(DataType::Datetime(TimeUnit::Milliseconds, None)),
        E::ToText(x) => expr(x).cast(DataType::String),
        // The value at the first least `o`, NULLs of `o` passed over (as Spark's `min_by`):
        // a gather per group, where sorting every group first took 55 ms of 60 over the
        // subsidy register's 75 thousand people.
        E::FirstBy(v, o) => expr(v).get(expr(o).arg_min(), true),
        E::Case(arms, otherwise) => arms.iter().rev().fold(expr(otherwise), |acc, (c, v)| {
            when(expr(c)).then(expr(v)).otherwise(acc)
        }),
    }
}

/// The column holding the distinct value between the two group-bys of a count(DISTINCT x).
const DISTINCT_COLUMN: &str = "__distinct";

/// The first of two group-bys: by the keys and the distinct value, with partial aggregates.
struct Partials {
    distinct: E,
    measures: Vec<(String, E)>,
}

/// count(DISTINCT x) as two group-bys — by the keys and x, then by the keys — which Polars
/// runs two to three times faster than a distinct count per group (benches/HISTORY.md). Every other aggregate in the measures must split into a partial
/// and a total (count, sum, min, max), and every distinct count must be of the same x;
/// otherwise `None` and the measures run as written. Returns the partials and the measures
/// rewritten over them.
fn distinct_in_two_steps(measures: &[(String, E)]) -> Option<(Partials, Vec<(String, E)>)> {
    let mut distinct: Option<E> = None;
    let mut partials: Vec<(String, E)> = Vec::new();
    let mut splits = true;
    let totals = measures
        .iter()
        .map(|(name, m)| {
            let total = m.map_nodes(&mut |e| {
                let partial = |agg: AggFunc, partials: &mut Vec<(String, E)>| {
                    let p = format!("__partial{}", partials.len());
                    partials.push((p.clone(), e.clone()));
                    E::Agg(agg, Some(Box::new(E::Col(p))))
                };
                match e {
                    E::Agg(AggFunc::CountDistinct, Some(x)) => {
                        splits &= distinct.as_ref().is_none_or(|d| d == x.as_ref());
                        distinct = Some((**x).clone());
                        Some(E::Agg(
                            AggFunc::Count,
                            Some(Box::new(E::Col(DISTINCT_COLUMN.into()))),
                        ))
                    }
                    E::Agg(AggFunc::Count | AggFunc::Sum, _) => {
                        Some(partial(AggFunc::Sum, &mut partials))
                    }
                    E::Agg(f @ (AggFunc::Min | AggFunc::Max), Some(_)) => {
                        Some(partial(*f, &mut partials))
                    }
                    E::Agg(..) | E::FirstBy(..) => {
                        splits = false;
                        Some(e.clone())
                    }
                    _ => None,
                }
            });
            (name.clone(), total)
        })
        .collect();
    let distinct = distinct.filter(|_| splits)?;
    Some((
        Partials {
            distinct,
            measures: partials,
        },
        totals,
    ))
}

fn func(f: Func, args: &[E]) -> Expr {
    let a = |i: usize| expr(&args[i]);
    let ym = |x: Expr| {
        x.clone().dt().year().cast(DataType::Int64) * lit(12i64)
            + x.dt().month().cast(DataType::Int64)
    };
    match f {
        Func::Year => a(0).dt().year().cast(DataType::Int64),
        Func::Month => a(0).dt().month().cast(DataType::Int64),
        Func::Day => a(0).dt().day().cast(DataType::Int64),
        Func::YearMonth => {
            a(0).dt().year().cast(DataType::Int64) * lit(100i64)
                + a(0).dt().month().cast(DataType::Int64)
        }
        Func::MonthsBetween => ym(a(1)) - ym(a(0)),
        Func::DaysBetween => {
            a(1).cast(DataType::Date).cast(DataType::Int64)
                - a(0).cast(DataType::Date).cast(DataType::Int64)
        }
        Func::NameFold | Func::Pinyin => {
            let pinyin = f == Func::Pinyin;
            a(0).map(
                move |c: Column| {
                    let out: StringChunked = c
                        .str()?
                        .iter()
                        .map(|v| {
                            v.map(|v| {
                                let folded = super::link::names::fold(v);
                                if pinyin {
                                    super::link::names::pinyin(&folded)
                                } else {
                                    folded
                                }
                            })
                        })
                        .collect();
                    Ok(out.with_name(c.name().clone()).into_column())
                },
                |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
            )
        }
        Func::Upper => a(0).str().to_uppercase(),
        Func::Lower => a(0).str().to_lowercase(),
        Func::Trim => a(0).str().strip_chars(lit(NULL)),
        Func::Length => a(0).str().len_chars().cast(DataType::Int64),
        Func::Substr => {
            // SQL substr is 1-based.
            let len = if args.len() == 3 {
                a(2)
            } else {
                lit(NULL).cast(DataType::Int64)
            };
            a(0).str().slice(a(1) - lit(1i64), len)
        }
        Func::Concat => concat_str(
            args.iter()
                .map(|x| expr(x).cast(DataType::String))
                .collect::<Vec<_>>(),
            "",
            false,
        ),
        Func::Coalesce => {
            let mut it = args.iter().rev();
            let last = expr(it.next().expect("coalesce has arguments"));
            it.fold(last, |acc, x| {
                when(expr(x).is_not_null()).then(expr(x)).otherwise(acc)
            })
        }
        // Both skip NULLs, as Spark's greatest / least do.
        Func::Greatest => {
            polars::lazy::dsl::max_horizontal(args.iter().map(expr).collect::<Vec<_>>())
                .expect("greatest has arguments")
        }
        Func::Least => polars::lazy::dsl::min_horizontal(args.iter().map(expr).collect::<Vec<_>>())
            .expect("least has arguments"),
        Func::Abs => a(0).abs(),
        Func::HoursBetween => {
            let ms = |x: Expr| {
                x.cast(DataType::Datetime(TimeUnit::Milliseconds, None))
                    .cast(DataType::Int64)
            };
            (ms(a(1)) - ms(a(0))).cast(DataType::Float64) / lit(3_600_000.0)
        }
        Func::FirstDigit => first_digit(a(0)),
        Func::WorkingDays | Func::IsWorkday => calendar_days(f, args),
        Func::Stratum => {
            let x = a(0).cast(DataType::Float64);
            let (bands, top) = stratum_bands(args);
            // Tested from the lowest bound up: the first bound x is below names its band.
            let out = bands.iter().rev().fold(lit(top), |acc, (upper, label)| {
                when(x.clone().lt(lit(*upper)))
                    .then(lit(label.clone()))
                    .otherwise(acc)
            });
            when(x.is_null())
                .then(lit(NULL).cast(DataType::String))
                .otherwise(out)
        }
        Func::IdValid => {
            // GB 11643-1999: 18 characters, the weighted sum of the first 17 digits mod 11
            // indexes the check character.
            const WEIGHTS: [i64; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let x = a(0);
            let digit = |i: i64| {
                x.clone()
                    .str()
                    .slice(lit(i), lit(1i64))
                    .cast(DataType::Int64)
            };
            let sum = (0..17).fold(lit(0i64), |acc, i| {
                acc + digit(i) * lit(WEIGHTS[i as usize])
            });
            let check = lit("10X98765432").str().slice(sum % lit(11i64), lit(1i64));
            let well_formed = x.clone().str().contains(lit("^[0-9]{17}[0-9X]$"), true);
            when(well_formed)
                .then(check.eq(x.clone().str().slice(lit(17i64), lit(1i64))))
                .otherwise(lit(false))
        }
        Func::CharDiff => {
            // Positions 1..=18 that differ, plus any difference in length: the distance between
            // two ID numbers (a substitution counts 1, a transposition 2).
            let (x, y) = (a(0), a(1));
            let len = |e: Expr| e.str().len_chars().cast(DataType::Int64);
            let len_diff = (len(x.clone()) - len(y.clone())).abs();
            (0..18i64).fold(len_diff, |acc, i| {
                let cx = x.clone().str().slice(lit(i), lit(1i64));
                let cy = y.clone().str().slice(lit(i), lit(1i64));
                let both = len(cx.clone())
                    .gt(lit(0i64))
                    .and(len(cy.clone()).gt(lit(0i64)));
                acc + cx.neq(cy).and(both).cast(DataType::Int64)
            })
        }
        Func::Round => {
            let digits = match args.get(1) {
                Some(E::Lit(Lit::Int(d))) => (*d).clamp(0, 15) as u32,
                _ => 0,
            };
            a(0).cast(DataType::Float64)
                .round(digits, RoundMode::HalfAwayFromZero)
        }
    }
}

/// `stratum(x, b0, b1, …)`'s bands, lowest first: each band's exclusive upper bound and
/// label, then the label of the open band from the last bound on. Bands [b_i, b_i+1) are
/// labelled so that they sort in order; below the first bound is band 00.
pub(crate) fn stratum_bands(args: &[E]) -> (Vec<(f64, String)>, String) {
    let bounds: Vec<f64> = args[1..]
        .iter()
        .map(|b| match b {
            E::Lit(Lit::Int(i)) => *i as f64,
            E::Lit(Lit::Float(f)) => *f,
            _ => f64::NAN,
        })
        .collect();
    let fmt = |v: f64| crate::ingest::normalize::format_number(v);
    let mut bands = vec![(bounds[0], format!("00 (-∞, {})", fmt(bounds[0])))];
    for i in 0..bounds.len() - 1 {
        bands.push((
            bounds[i + 1],
            format!("{:02} [{}, {})", i + 1, fmt(bounds[i]), fmt(bounds[i + 1])),
        ));
    }
    let last = bounds[bounds.len() - 1];
    (bands, format!("{:02} [{}, ∞)", bounds.len(), fmt(last)))
}

/// The first significant digit of a number (1–9), NULL for zero and NULL.
fn first_digit(x: Expr) -> Expr {
    x.cast(DataType::Float64)
        .abs()
        .cast(DataType::String)
        .str()
        .extract(lit("([1-9])"), 1)
        .cast(DataType::Int64)
}

/// SQL LIKE → an anchored regex: % any run, _ one character, everything else literal.
pub(crate) fn like_to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    for c in pattern.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c if "\\.+*?()|[]{}^$".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

/// `working_days(from, to)` and `is_workday(d)` on the shipped PRC calendar. A date outside
/// it fails the rule with the date and what to do, rather than counting a guess.
fn calendar_days(f: Func, args: &[E]) -> Expr {
    let days = |e: &E| expr(e).cast(DataType::Date);
    let out = if f == Func::WorkingDays {
        DataType::Int64
    } else {
        DataType::Boolean
    };
    let name = if f == Func::WorkingDays {
        "working_days"
    } else {
        "is_workday"
    };
    let rest: Vec<Expr> = args[1..].iter().map(days).collect();
    let out_type = out.clone();
    days(&args[0]).map_many(
        move |cols: &mut [Column]| {
            let phys: Vec<Int32Chunked> = cols
                .iter()
                .map(|c| Ok(c.cast(&DataType::Int32)?.i32()?.clone()))
                .collect::<PolarsResult<_>>()?;
            let fail = |m: String| polars_err!(ComputeError: "{name}: {m}");
            let col = if f == Func::WorkingDays {
                let (a, b) = (&phys[0], &phys[1]);
                let v: Int64Chunked = a
                    .iter()
                    .zip(b.iter())
                    .map(|(x, y)| match (x, y) {
                        (Some(x), Some(y)) => crate::calendar::working_days_between(x, y)
                            .map(Some)
                            .map_err(fail),
                        _ => Ok(None),
                    })
                    .collect::<PolarsResult<_>>()?;
                v.into_series()
            } else {
                let v: BooleanChunked = phys[0]
                    .iter()
                    .map(|x| match x {
                        Some(x) => crate::calendar::is_workday_days(x).map(Some).map_err(fail),
                        None => Ok(None),
                    })
                    .collect::<PolarsResult<_>>()?;
                v.into_series()
            };
            Ok(col.with_name(name.into()).into_column())
        },
        &rest,
        move |_, fields| Ok(Field::new(fields[0].name().clone(), out_type.clone())),
    )
}

#[cfg(test)]
mod tests;
