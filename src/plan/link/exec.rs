//! Running a `link` over the two sides' records, held in memory: candidate pairs from the
//! blocking rules, levels per field, the weights estimated, the pairs at or above the
//! threshold returned with their evidence (and, deduplicating, their clusters).

use std::collections::{HashMap, HashSet};

use polars::prelude::*;
use rayon::prelude::*;

use super::LinkPlan;
use super::compare::{self, Prepared};
use super::estimate::{self, Estimated, FieldWeights};
use crate::plan::expr::Expr;

/// The helper columns the lowering adds to each side before collecting it.
pub fn id_column() -> &'static str {
    "__link_id"
}
pub fn block_column(rule: usize, part: usize) -> String {
    format!("__link_b{rule}_{part}")
}
pub fn compare_column(field: usize) -> String {
    format!("__link_c{field}")
}

fn texts(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// Each record's key under one blocking rule: its parts joined, NULL when any part is NULL
/// (NULL never blocks two records together).
fn block_keys(df: &DataFrame, rule: usize, parts: usize) -> PolarsResult<Vec<Option<String>>> {
    let cols: Vec<Vec<Option<String>>> = (0..parts)
        .map(|p| texts(df, &block_column(rule, p)))
        .collect::<PolarsResult<_>>()?;
    Ok((0..df.height())
        .map(|i| {
            let mut key = String::new();
            for (p, c) in cols.iter().enumerate() {
                if p > 0 {
                    key.push('\u{1f}');
                }
                key.push_str(c[i].as_deref()?);
            }
            Some(key)
        })
        .collect())
}

/// The `id` expression as a rule writer wrote it (without the cast to text the plan adds).
pub fn id_shown(what: &Expr) -> String {
    match what {
        Expr::ToText(inner) => inner.to_string(),
        e => e.to_string(),
    }
}

/// Every record named, and no two alike: a lead is keyed by its records' IDs, so a record
/// without one, or two records with one, would merge leads that are not one or lose which
/// record is which. The rule stops, naming the records (by file and row, never the value,
/// which may be personal) and what to do.
fn check_ids(
    df: &DataFrame,
    ids: &[Option<String>],
    prefix: &str,
    what: &Expr,
) -> PolarsResult<()> {
    let what = id_shown(what);
    let col = |name: &str| texts(df, &format!("{prefix}{name}")).ok();
    let (files, rows) = (col("__file"), col("__row"));
    let place = |i: usize| -> String {
        let at = |c: &Option<Vec<Option<String>>>| c.as_ref().and_then(|c| c[i].clone());
        match (at(&files), at(&rows)) {
            (Some(f), Some(r)) => format!("{f} row {r}"),
            _ => format!("record {}", i + 1),
        }
    };
    let fix = "choose an `id` that names one record each, such as a record or household number";
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let (mut empty, mut twice) = (Vec::new(), None);
    for (i, v) in ids.iter().enumerate() {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => empty.push(i),
            Some(v) => {
                if let Some(first) = seen.insert(v, i) {
                    twice = twice.or(Some((first, i)));
                }
            }
        }
    }
    if let Some(&first) = empty.first() {
        polars_bail!(ComputeError:
            "`id` ({what}) is empty for {} record(s), the first at {}: a lead names its records \
             by it; {fix}", empty.len(), place(first));
    }
    if let Some((first, second)) = twice {
        polars_bail!(ComputeError:
            "`id` ({what}) names two records, {} and {}: the leads could not tell them apart; \
             {fix}", place(first), place(second));
    }
    Ok(())
}

/// A value rounded to `places` decimals, as the leads show it: integers divided by a power of
/// ten, so 0.9 shown is the same number as 0.9 written in a rule.
fn shown(v: f64, places: i32) -> f64 {
    (v * 10f64.powi(places)).round() / 10f64.powi(places)
}

/// A small, fixed generator: the same random pairs on every run (reproducible weights).
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const MISSING: &str = "缺失 / missing";

/// Runs the linkage; `estimates` receives what was estimated.
pub fn run(
    left: DataFrame,
    right: DataFrame,
    plan: &LinkPlan,
    estimates: &mut Option<Estimated>,
) -> PolarsResult<DataFrame> {
    let (nl, nr) = (left.height(), right.height());
    // Each record's `id` names it in the leads: checked first, before any work.
    check_ids(&left, &texts(&left, id_column())?, "l.", &plan.ids.0)?;
    if !plan.dedupe {
        check_ids(&right, &texts(&right, id_column())?, "r.", &plan.ids.1)?;
    }
    // Records are numbered in the order of their IDs (unique, as just checked), not of the
    // extract's rows: the random pairs that estimate u, and so the weights, do not change when
    // an extract comes in another row order, and a Spark run numbers them the same way.
    // Deduplicating, both sides are one register: ordered once.
    let order = |df: &DataFrame| -> PolarsResult<IdxCa> {
        Ok(df
            .column(id_column())?
            .as_materialized_series()
            .arg_sort(SortOptions::default().with_maintain_order(true)))
    };
    let lorder = order(&left)?;
    let rorder = if plan.dedupe {
        lorder.clone()
    } else {
        order(&right)?
    };
    let (left, right) = (left.take(&lorder)?, right.take(&rorder)?);
    let lids = texts(&left, id_column())?;
    let rids = texts(&right, id_column())?;
    let fields = plan.compare.len();
    let methods: Vec<_> = plan.compare.iter().map(|c| c.method).collect();
    let label_sets: Vec<Vec<String>> = plan.compare.iter().map(|c| c.labels()).collect();

    // Every record's values, prepared once per side.
    let prepare = |df: &DataFrame| -> PolarsResult<Vec<Vec<Option<Prepared>>>> {
        (0..fields)
            .map(|k| {
                Ok(texts(df, &compare_column(k))?
                    .par_iter()
                    .map(|v| compare::prepare(methods[k], v.as_deref()))
                    .collect())
            })
            .collect()
    };
    // Deduplicating, both sides are the same records: prepared once.
    let lvals = prepare(&left)?;
    let rprepared;
    let rvals = if plan.dedupe {
        &lvals
    } else {
        rprepared = prepare(&right)?;
        &rprepared
    };
    let level = |k: usize, a: usize, b: usize| -> i8 {
        match (&lvals[k][a], &rvals[k][b]) {
            (Some(x), Some(y)) => {
                compare::level(methods[k], plan.compare[k].thresholds.as_deref(), x, y) as i8
            }
            _ => -1,
        }
    };

    // Candidate pairs: each blocking rule's, a pair once (tagged with the first rule).
    let mut pairs: Vec<(u32, u32, u8)> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut by_rule = Vec::new();
    for (r, rule) in plan.blocking.iter().enumerate() {
        let lk = block_keys(&left, r, rule.on.len())?;
        let rkeys;
        let rk = if plan.dedupe {
            &lk
        } else {
            rkeys = block_keys(&right, r, rule.on.len())?;
            &rkeys
        };
        let mut index: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, k) in rk.iter().enumerate() {
            if let Some(k) = k {
                index.entry(k.as_str()).or_default().push(i as u32);
            }
        }
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for k in lk.iter().flatten() {
            *counts.entry(k.as_str()).or_default() += 1;
        }
        for (k, n) in &counts {
            let m = index.get(k).map_or(0, |v| v.len() as u64);
            let formed = if plan.dedupe {
                n * n.saturating_sub(1) / 2
            } else {
                n * m
            };
            if formed > plan.max_pairs {
                polars_bail!(ComputeError:
                    "blocking rule {} (`{}`): one key would form {} pairs, more than max_pairs = {}; \
                     block on something more specific, or raise `max_pairs` if this is expected",
                    r + 1, rule.text, formed, plan.max_pairs);
            }
        }
        let before = pairs.len();
        for (a, k) in lk.iter().enumerate() {
            let Some(partners) = k.as_ref().and_then(|k| index.get(k.as_str())) else {
                continue;
            };
            for &b in partners {
                let a = a as u32;
                let (x, y) = if plan.dedupe {
                    if a == b {
                        continue;
                    }
                    (a.min(b), a.max(b))
                } else {
                    (a, b)
                };
                if seen.insert((u64::from(x) << 32) | u64::from(y)) {
                    pairs.push((x, y, r as u8));
                }
            }
        }
        by_rule.push((rule.text.clone(), (pairs.len() - before) as u64));
    }
    drop(seen);

    // Levels of every candidate pair (in the pairs' order, on every thread).
    let levels: Vec<i8> = pairs
        .par_iter()
        .flat_map_iter(|&(a, b, _)| (0..fields).map(move |k| level(k, a as usize, b as usize)))
        .collect();

    // u from random record pairs, the same on every run.
    let total_pairs = if plan.dedupe {
        (nl as u64) * (nl as u64).saturating_sub(1) / 2
    } else {
        (nl as u64) * (nr as u64)
    };
    let sample = plan.u_sample.min(total_pairs);
    let mut drawn_pairs: Vec<(u32, u32)> = Vec::with_capacity(sample as usize);
    if total_pairs <= plan.u_sample {
        // Registers small enough for every pair to be compared: u is counted, not sampled (a
        // sample with replacement of a few hundred pairs would move the weights by chance).
        for a in 0..nl as u32 {
            let from = if plan.dedupe { a + 1 } else { 0 };
            drawn_pairs.extend((from..nr as u32).map(|b| (a, b)));
        }
    } else {
        // The pairs are drawn in one sequence (the same on every run), then compared on every
        // thread: the counts are sums, whatever the order.
        let mut rng = SplitMix(0x00C0_55C4_EC4B_1AE5);
        while (drawn_pairs.len() as u64) < sample {
            let a = (rng.next() % nl as u64) as u32;
            let b = (rng.next() % nr as u64) as u32;
            if plan.dedupe && a == b {
                continue;
            }
            drawn_pairs.push((a, b));
        }
    }
    let empty = || -> Vec<Vec<u64>> { label_sets.iter().map(|l| vec![0; l.len()]).collect() };
    let counts = drawn_pairs
        .par_chunks(1 << 14)
        .map(|chunk| {
            let mut counts = empty();
            for &(a, b) in chunk {
                for (k, c) in counts.iter_mut().enumerate() {
                    let l = level(k, a as usize, b as usize);
                    if l >= 0 {
                        c[l as usize] += 1;
                    }
                }
            }
            counts
        })
        .reduce(empty, |mut x, y| {
            for (a, b) in x.iter_mut().zip(y) {
                for (a, b) in a.iter_mut().zip(b) {
                    *a += b;
                }
            }
            x
        });
    let drawn = drawn_pairs.len() as u64;
    drop(drawn_pairs);
    let u: Vec<Vec<f64>> = plan
        .compare
        .iter()
        .zip(&counts)
        .map(|(c, n)| {
            c.fixed_u.clone().unwrap_or_else(|| {
                estimate::u_from_counts(n, &compare::u_default_for(c.method, n.len()))
            })
        })
        .collect();

    // m and the prior by EM over all record pairs: the candidates by their patterns of
    // levels, every other pair taken as two people (the blocking rules are meant to miss no
    // match). The starting prior: candidates agreeing at the top level on every field shown.
    let mut patterns: HashMap<&[i8], f64> = HashMap::new();
    let mut all_top: f64 = 0.0;
    for p in 0..pairs.len() {
        let pattern = &levels[p * fields..(p + 1) * fields];
        let mut shown = pattern
            .iter()
            .enumerate()
            .filter(|(_, l)| **l >= 0)
            .peekable();
        if shown.peek().is_some() && shown.all(|(k, l)| *l as usize + 1 == label_sets[k].len()) {
            all_top += 1.0;
        }
        *patterns.entry(pattern).or_default() += 1.0;
    }
    let mut patterns: Vec<(Vec<i8>, f64)> =
        patterns.into_iter().map(|(p, c)| (p.to_vec(), c)).collect();
    patterns.sort_by(|a, b| a.0.cmp(&b.0));
    let mut m: Vec<Vec<f64>> = plan
        .compare
        .iter()
        .zip(&label_sets)
        .map(|(c, l)| {
            c.fixed_m
                .clone()
                .unwrap_or_else(|| estimate::m_start(l.len()))
        })
        .collect();
    let fixed: Vec<bool> = plan.compare.iter().map(|c| c.fixed_m.is_some()).collect();
    let population = total_pairs.max(1) as f64;
    let start = plan
        .prior
        .unwrap_or_else(|| (all_top.max(1.0) / population).clamp(1e-12, 0.5));
    let (prior, iterations) = estimate::em(
        &patterns,
        &u,
        &mut m,
        &fixed,
        start,
        population,
        plan.prior.is_some(),
    );
    let share = if pairs.is_empty() {
        0.0
    } else {
        (prior * population / pairs.len() as f64).min(1.0)
    };
    let weights: Vec<Vec<f64>> = m
        .iter()
        .zip(&u)
        .map(|(m, u)| estimate::monotone(m.iter().zip(u).map(|(m, u)| (m / u).log2())))
        .collect();

    // Term frequencies: agreement on a common value weighs log2(m / its frequency).
    let tf: Vec<Option<(HashMap<&str, u64>, u64)>> = (0..fields)
        .map(|k| {
            plan.compare[k].term_frequency.then(|| {
                let mut f: HashMap<&str, u64> = HashMap::new();
                let sides: &[&Vec<Option<Prepared>>] = if plan.dedupe {
                    &[&lvals[k]]
                } else {
                    &[&lvals[k], &rvals[k]]
                };
                let mut n = 0;
                for v in sides.iter().flat_map(|s| s.iter().flatten()) {
                    *f.entry(v.folded.as_str()).or_default() += 1;
                    n += 1;
                }
                (f, n)
            })
        })
        .collect();

    // Score every candidate; keep those at or above the threshold.
    let base = estimate::logit2(prior);
    let mut kept: Vec<(usize, f64, Vec<f64>)> = Vec::new();
    for p in 0..pairs.len() {
        let (a, _, _) = pairs[p];
        let mut parts = vec![0.0; fields];
        for k in 0..fields {
            let l = levels[p * fields + k];
            if l < 0 {
                continue;
            }
            let top = l as usize + 1 == label_sets[k].len();
            parts[k] = match (&tf[k], top) {
                (Some((freq, n)), true) => {
                    let v = lvals[k][a as usize]
                        .as_ref()
                        .map_or("", |v| v.folded.as_str());
                    let share = *freq.get(v).unwrap_or(&1) as f64 / (*n).max(1) as f64;
                    // Never below the level under it: a common value still agrees.
                    (m[k][l as usize] / share)
                        .log2()
                        .max(weights[k][l as usize - 1])
                }
                _ => weights[k][l as usize],
            };
        }
        let w = base + parts.iter().sum::<f64>();
        // Decided on the probability as shown (four places), so that a pair shown at 0.9000
        // is a lead at `threshold: 0.9`, as a calculator would say.
        if shown(estimate::probability(w), 4) >= plan.threshold {
            kept.push((p, w, parts));
        }
    }

    let id = |side: &[Option<String>], i: u32| side[i as usize].clone().unwrap_or_default();
    // Clusters: records joined by kept pairs (deduplicating); a pair is its own otherwise.
    let clusters: Vec<String> = if plan.dedupe {
        let mut parent: Vec<u32> = (0..nl as u32).collect();
        fn find(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                parent[x as usize] = parent[parent[x as usize] as usize];
                x = parent[x as usize];
            }
            x
        }
        for (p, _, _) in &kept {
            let (a, b, _) = pairs[*p];
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb) as usize] = ra.min(rb);
            }
        }
        let mut members: HashMap<u32, Vec<String>> = HashMap::new();
        for (p, _, _) in &kept {
            let (a, b, _) = pairs[*p];
            let root = find(&mut parent, a);
            let list = members.entry(root).or_default();
            list.push(id(&lids, a));
            list.push(id(&lids, b));
        }
        let names: HashMap<u32, String> = members
            .into_iter()
            .map(|(root, mut ids)| {
                ids.sort();
                ids.dedup();
                (root, cluster_name(&ids))
            })
            .collect();
        kept.iter()
            .map(|(p, _, _)| names[&find(&mut parent, pairs[*p].0)].clone())
            .collect()
    } else {
        kept.iter()
            .map(|(p, _, _)| {
                let (a, b, _) = pairs[*p];
                format!("{}~{}", id(&lids, a), id(&rids, b))
            })
            .collect()
    };
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by(|&x, &y| {
        clusters[x]
            .cmp(&clusters[y])
            .then(pairs[kept[x].0].0.cmp(&pairs[kept[y].0].0))
            .then(pairs[kept[x].0].1.cmp(&pairs[kept[y].0].1))
    });

    let mut columns = vec![
        Column::new(
            "match_probability".into(),
            order
                .iter()
                .map(|&i| shown(estimate::probability(kept[i].1), 4))
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "match_weight".into(),
            order
                .iter()
                .map(|&i| shown(kept[i].1, 2))
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "blocked_by".into(),
            order
                .iter()
                .map(|&i| {
                    let r = pairs[kept[i].0].2 as usize;
                    format!("{}: {}", r + 1, plan.blocking[r].text)
                })
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "cluster".into(),
            order
                .iter()
                .map(|&i| clusters[i].clone())
                .collect::<Vec<String>>(),
        ),
    ];
    for (k, c) in plan.compare.iter().enumerate() {
        let level_of = |i: usize| levels[kept[i].0 * fields + k];
        columns.push(Column::new(
            format!("{}_level", c.field).into(),
            order
                .iter()
                .map(|&i| match level_of(i) {
                    l if l < 0 => MISSING.to_string(),
                    l => label_sets[k][l as usize].clone(),
                })
                .collect::<Vec<String>>(),
        ));
        columns.push(Column::new(
            format!("{}_weight", c.field).into(),
            order
                .iter()
                .map(|&i| shown(kept[i].2[k], 2))
                .collect::<Vec<f64>>(),
        ));
    }
    let helpers: Vec<String> = left
        .get_column_names()
        .iter()
        .filter(|n| n.starts_with("__link_"))
        .map(|n| n.to_string())
        .collect();
    let take = |df: &DataFrame, side: fn(&(u32, u32, u8)) -> u32| -> PolarsResult<DataFrame> {
        let idx = IdxCa::from_vec(
            "idx".into(),
            order
                .iter()
                .map(|&i| side(&pairs[kept[i].0]) as IdxSize)
                .collect(),
        );
        df.drop_many(helpers.iter().map(String::as_str)).take(&idx)
    };
    let l = take(&left, |p| p.0)?;
    let r = take(&right, |p| p.1)?;
    let out = l.hstack(r.columns())?.hstack(&columns)?;

    *estimates = Some(Estimated {
        rule: plan.rule.clone(),
        prior,
        prior_estimated: plan.prior.is_none(),
        candidate_match_share: share,
        candidates: pairs.len() as u64,
        pairs_by_blocking_rule: by_rule,
        u_pairs: drawn,
        em_iterations: iterations,
        threshold: plan.threshold,
        pairs_at_threshold: kept.len() as u64,
        fields: plan
            .compare
            .iter()
            .enumerate()
            .map(|(k, c)| FieldWeights {
                field: c.field.clone(),
                levels: label_sets[k].clone(),
                m: m[k].clone(),
                u: u[k].clone(),
                weight: weights[k].clone(),
                m_estimated: c.fixed_m.is_none(),
                u_estimated: c.fixed_u.is_none(),
                term_frequency: c.term_frequency,
            })
            .collect(),
    });
    Ok(out)
}

/// A cluster's name: its members' IDs, sorted, joined by `~` (the first ten, then a count).
fn cluster_name(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut name = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("~");
    if ids.len() > SHOWN {
        name.push_str(&format!("~…(+{})", ids.len() - SHOWN));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_pair_shown_at_the_threshold_is_at_it() {
        // What the lead shows is what is compared: 0.89996 shows as 0.9000 and is a lead at
        // `threshold: 0.9`; 0.89994 shows as 0.8999 and is not.
        let threshold: f64 = "0.9".parse().unwrap();
        assert!(shown(0.899_96, 4) >= threshold);
        assert!(shown(0.899_94, 4) < threshold);
        assert_eq!(shown(0.999_95, 4), 1.0);
        assert_eq!(shown(-3.456, 2), -3.46);
    }
}
