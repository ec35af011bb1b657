//! `link` — flags records of two registers that are probably one person when no ID can be
//! trusted (or one register's records that are, deduplicating): candidate pairs from blocking
//! rules, each field compared at a few levels, the levels weighed as Fellegi and Sunter did
//! (m from the candidate pairs by expectation-maximisation, u from random pairs, no labels),
//! the weights added into a match probability.
//!
//! Example: a dibao head who owns a car registered under another form of the name or a
//! mistyped ID.
//! ```yaml
//! link:
//!   left: { dataset: dibao_households }
//!   right: { dataset: vehicle_registrations }
//!   id: { left: household_id, right: plate }
//!   blocking:
//!     - "l.head_id_card = r.owner_id_card"
//!     - "l.head_birth_date = r.owner_birth_date"
//!     - "pinyin(l.head_name) = pinyin(r.owner_name)"
//!   compare:
//!     - { field: name, as: chinese_name, left: head_name, right: owner_name }
//!     - { field: birth, as: date, left: head_birth_date, right: owner_birth_date }
//!     - { field: id, as: id, left: head_id_card_raw, right: owner_id_card_raw }
//!     - { field: address, as: address, left: address, right: owner_address }
//!   threshold: 0.9
//! ```
//! Levels (lowest first): `chinese_name` different / same given name, other surname / same
//! surname, one given-name character differs / same pronunciation (pinyin, any reading) / same
//! name once traditional and variant characters are simplified (張偉 = 张伟); `date` different /
//! same year / one digit off or two adjacent swapped / day and month swapped / same; `id`
//! different / two characters apart / one apart or two adjacent swapped / same (a 15-digit
//! resident ID in its 18-character form; two differing IDs that both pass the check
//! character are different); `address` (shared character pairs, or words)
//! different / some / most / same; `text` different / Jaro-Winkler ≥ 0.80 / ≥ 0.92 / same;
//! `exact` different / same; `text` and `address` take their own partial levels
//! (`thresholds: [0.95, 0.88, 0.7]`). A NULL weighs nothing. Agreement at the top level of a
//! `chinese_name`, `text` or `exact` field weighs by the value's frequency (a match on 王伟
//! weighs less than on a rare name; `term_frequency: false` turns it off).
//! Weights: u from `u_sample` random record pairs (the same ones on every run, with a few
//! pairs' worth of the method's defaults so an unseen level is rare, not impossible), m and
//! the prior by expectation-maximisation over the candidate pairs' patterns of levels, every
//! pair no blocking rule produced counted as two people; a partial level's weight is kept
//! between disagreement and full agreement. `prior` and `weights: { field: { m: […], u: […]
//! } }` fix any of them, as do the job's `params` or `--param RULE.threshold=…`,
//! `RULE.prior=…`, `RULE.<field>.m=p1,p2,…` and `RULE.<field>.u=…` (taken without being
//! declared). What was estimated is written to the manifest (`rules[].link`) and the
//! workbook's weights sheet.
//! Output: one lead per pair at or above `threshold` (the probability as shown, to four
//! places; key `ID1~ID2` of `id`), or, deduplicating (no `right`), one lead per cluster of records joined by such pairs (key: its IDs, sorted,
//! `~`-joined); one row per pair, the left record with the right as partner. Evidence and `key`
//! may use `match_probability`, `match_weight`, `blocked_by`, `cluster`, and per field
//! `<field>_level` (its label) and `<field>_weight` (what it added, in bits).
//! Each record's `id` must be its own (not empty, not shared): otherwise the rule stops.
//! Limits: pairs come only from the blocking rules (a pair no rule produces is never scored);
//! a blocking key forming more than `max_pairs` pairs stops the rule with an error naming the
//! rule; fields are assumed independent given the match status; not lowered to Spark SQL (a
//! Spark run scores it on the local engine and says so in the manifest).

use std::collections::HashSet;

use serde_saphyr::Spanned;

use super::super::Plan;
use super::super::compile::{
    Ctx, Sides, equi_keys, l_and_r, lead_projection, partner_of_right, prefixed,
};
use super::super::expr::Expr;
use super::super::link::{self, Blocking, Comparison, LinkPlan, compare};
use crate::job::catalog::ValueType;
use crate::job::rule::{EvidenceSpec, LinkSpec, ParamValue};
use crate::job::yaml::at;

/// `rule` is the rule's `id` as written: where an error about the rule as a whole points (an
/// untagged `id: {left, right}` keeps no position of its own).
pub fn plan(
    ctx: &mut Ctx,
    spec: &LinkSpec,
    evidence: &[EvidenceSpec],
    rule: &Spanned<String>,
) -> Option<Plan> {
    let dedupe = spec.right.is_none();
    let sides = Sides::of(ctx, &spec.left, spec.right.as_ref().unwrap_or(&spec.left))?;
    let lscope = ctx.scope(sides.lcols.clone(), &sides.lname);
    let rscope = ctx.scope(sides.rcols.clone(), &sides.rname);
    let mut ok = true;
    // A side's expression as text, reading that side's prefixed columns.
    let side_text = |ctx: &mut Ctx, text: &Spanned<String>, left: bool| -> Option<Expr> {
        let scope = if left { &lscope } else { &rscope };
        let (e, _) = ctx.expr(text, scope)?;
        Some(Expr::ToText(Box::new(prefixed(
            &e,
            if left { "l." } else { "r." },
        ))))
    };
    let ids = (
        side_text(ctx, spec.id.left(), true),
        side_text(ctx, spec.id.right(), false),
    );

    let pair_base = sides.scope(ctx, Vec::new());
    let mut blocking = Vec::new();
    if spec.blocking.is_empty() {
        ctx.diags.push(at(
            ctx.path,
            rule,
            "`blocking` lists no rule: give at least one, e.g. \"l.birth_date = r.birth_date\"",
        ));
        ok = false;
    }
    // Deduplicating, both sides are one register's records, prepared once: every pairing
    // (the `id`, a blocking equality, a compared field) must read the same on both sides, or
    // the right side's would silently be replaced by the left's.
    let mirrored = |l: &Expr, r: &Expr| {
        l.map_columns(&|c| {
            c.strip_prefix("l.")
                .map_or(c.to_string(), |c| format!("r.{c}"))
        }) == *r
    };
    const ONE_REGISTER: &str = "deduplicating (no `right`), both sides are the same records";
    if dedupe && spec.id.left().value != spec.id.right().value {
        ctx.diags.push(at(
            ctx.path,
            rule,
            format!("{ONE_REGISTER}: give `id` once, not `left` and `right`"),
        ));
        ok = false;
    }
    for b in &spec.blocking {
        match equi_keys(ctx, b, &pair_base) {
            Some(on) if dedupe && !on.iter().all(|(l, r)| mirrored(l, r)) => {
                ctx.diags.push(at(
                    ctx.path,
                    b,
                    format!(
                        "{ONE_REGISTER}: a blocking rule compares an expression with itself, \
                         `l.x = r.x`"
                    ),
                ));
                ok = false;
            }
            Some(on) => blocking.push(Blocking {
                text: b.value.split_whitespace().collect::<Vec<_>>().join(" "),
                on,
            }),
            None => ok = false,
        }
    }
    if blocking.len() > 250 {
        ctx.diags.push(at(
            ctx.path,
            &spec.blocking[0],
            "at most 250 blocking rules",
        ));
        ok = false;
    }

    let mut compared = Vec::new();
    let mut names = HashSet::new();
    for c in &spec.compare {
        let field = &c.field.value;
        let valid = field
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            && field
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_lowercase());
        if !valid || !names.insert(field.clone()) {
            ctx.diags.push(at(
                ctx.path,
                &c.field,
                format!(
                    "field `{field}`: {}",
                    if valid {
                        "named twice"
                    } else {
                        "a field is named in lower-case letters, digits and `_` (it names \
                         evidence columns `<field>_level` and `<field>_weight`)"
                    }
                ),
            ));
            ok = false;
            continue;
        }
        if dedupe && c.column.is_none() {
            ctx.diags.push(at(
                ctx.path,
                &c.field,
                format!("field `{field}`: {ONE_REGISTER}: give `column`, not `left` and `right`"),
            ));
            ok = false;
            continue;
        }
        let (l, r) = match (&c.column, &c.left, &c.right) {
            (Some(both), None, None) => (both, both),
            (None, Some(l), Some(r)) => (l, r),
            _ => {
                ctx.diags.push(at(
                    ctx.path,
                    &c.field,
                    format!(
                        "field `{field}`: give `column` (the same on both sides) or both `left` \
                         and `right`"
                    ),
                ));
                ok = false;
                continue;
            }
        };
        let (Some(le), Some(re)) = (side_text(ctx, l, true), side_text(ctx, r, false)) else {
            ok = false;
            continue;
        };
        // A rule's own similarities for the partial levels: `text` and `address` only, each
        // in (0, 1), distinct; kept highest first.
        let thresholds = match &c.thresholds {
            None => None,
            Some(t) => {
                let mut v = t.value.clone();
                v.sort_by(|a, b| b.total_cmp(a));
                let distinct = v.windows(2).all(|w| w[0] != w[1]);
                let why = if !compare::takes_thresholds(c.method) {
                    Some(
                        "only `text` (Jaro-Winkler) and `address` (share of words in common) take \
                          `thresholds`",
                    )
                } else if v.is_empty() || v.len() > 6 {
                    Some("`thresholds` lists one to six similarities")
                } else if !distinct || v.iter().any(|x| !(*x > 0.0 && *x < 1.0)) {
                    Some("`thresholds` are distinct similarities between 0 and 1 (exclusive)")
                } else {
                    None
                };
                if let Some(why) = why {
                    ctx.diags
                        .push(at(ctx.path, t, format!("field `{field}`: {why}")));
                    ok = false;
                    continue;
                }
                Some(v)
            }
        };
        let labels = compare::level_labels(c.method, thresholds.as_deref());
        // `--param RULE.<field>.m=0.1,0.2,…` (or the job's `params`) wins over the rule.
        let mut from_param = |which: &str| -> Option<Option<Vec<f64>>> {
            let name = format!("{field}.{which}");
            let v = ctx.overrides?.get(&name)?;
            let list = param_numbers(v);
            if list.is_none() {
                ctx.diags.push(at(
                    ctx.path,
                    rule,
                    format!(
                        "parameter `{name}` = `{v}`: give one probability per level, separated \
                         by commas ({})",
                        labels.join("; ")
                    ),
                ));
            }
            Some(list)
        };
        let param_m = from_param("m");
        let param_u = from_param("u");
        if matches!(param_m, Some(None)) || matches!(param_u, Some(None)) {
            ok = false;
        }
        let levels = labels.len();
        let mut fixed = |which: &str, v: Option<&Vec<f64>>| -> Option<Vec<f64>> {
            let v = v?;
            let sum: f64 = v.iter().sum();
            if v.len() != levels
                || v.iter().any(|p| !(*p > 0.0 && *p <= 1.0))
                || (sum - 1.0).abs() > 1e-6
            {
                ctx.diags.push(at(
                    ctx.path,
                    &c.field,
                    format!(
                        "weights of `{field}`: `{which}` needs {levels} probabilities above 0, one \
                         per level ({}), adding up to 1",
                        labels.join("; ")
                    ),
                ));
                ok = false;
                return None;
            }
            Some(v.clone())
        };
        let given = spec.weights.get(field);
        let fixed_m = fixed(
            "m",
            param_m
                .as_ref()
                .map_or(given.and_then(|w| w.m.as_ref()), Option::as_ref),
        );
        let fixed_u = fixed(
            "u",
            param_u
                .as_ref()
                .map_or(given.and_then(|w| w.u.as_ref()), Option::as_ref),
        );
        compared.push(Comparison {
            field: field.clone(),
            method: c.method,
            left: le,
            right: re,
            term_frequency: c
                .term_frequency
                .unwrap_or_else(|| compare::term_frequency_default(c.method)),
            thresholds,
            fixed_m,
            fixed_u,
        });
    }
    if compared.is_empty() && !spec.compare.is_empty() {
        ok = false;
    } else if spec.compare.is_empty() {
        ctx.diags
            .push(at(ctx.path, rule, "`compare` lists no field"));
        ok = false;
    }
    for name in spec.weights.keys().filter(|n| !names.contains(*n)) {
        ctx.diags.push(at(
            ctx.path,
            rule,
            format!("`weights` names `{name}`, which no `compare` entry is"),
        ));
        ok = false;
    }
    // A probability: the job's or `--param`'s value wins over the rule's; either is checked,
    // the error at the rule's value (or its `id`, for a parameter). `None` after an error.
    let probability = |ctx: &mut Ctx, what: &str, given: &Option<Spanned<f64>>| {
        let valid = |p: f64| p > 0.0 && p < 1.0;
        match (ctx.overrides.and_then(|o| o.get(what)), given) {
            (Some(v), _) => match param_numbers(v).as_deref() {
                Some(&[p]) if valid(p) => Some(Some(p)),
                _ => {
                    ctx.diags.push(at(
                        ctx.path,
                        rule,
                        format!(
                            "parameter `{what}` = `{v}`: a probability between 0 and 1 (exclusive)"
                        ),
                    ));
                    None
                }
            },
            (None, Some(p)) if !valid(p.value) => {
                ctx.diags.push(at(
                    ctx.path,
                    p,
                    format!("`{what}` is a probability between 0 and 1 (exclusive)"),
                ));
                None
            }
            (None, p) => Some(p.as_ref().map(|p| p.value)),
        }
    };
    let threshold = probability(ctx, "threshold", &spec.threshold).map(|t| t.unwrap_or(0.9));
    let prior = probability(ctx, "prior", &spec.prior);

    let fields: Vec<(String, _)> = compared
        .iter()
        .map(|c| (c.field.clone(), c.method))
        .collect();
    let extra = link::output_columns(&fields)
        .into_iter()
        .map(|n| {
            let ty = if n == "match_probability" || n == "match_weight" || n.ends_with("_weight") {
                ValueType::Float
            } else {
                ValueType::Text
            };
            (n, ty)
        })
        .collect();
    let pair = sides.scope(ctx, extra);
    let evidence = ctx.evidence(evidence, &pair);
    let key = ctx.lead_key(spec.key.as_ref(), &pair, Expr::Col("cluster".into()));
    let (ids, threshold, prior, evidence, key) =
        ((ids.0?, ids.1?), threshold?, prior?, evidence?, key?);
    if !ok {
        return None;
    }
    let (left, right) = l_and_r(sides.left.clone(), sides.right.clone());
    let node = Plan::Link {
        left,
        right,
        link: Box::new(LinkPlan {
            rule: rule.value.clone(),
            dedupe,
            ids,
            blocking,
            compare: compared,
            threshold,
            prior,
            u_sample: spec.u_sample.unwrap_or(1_000_000),
            max_pairs: spec.max_pairs,
            estimates: Default::default(),
        }),
    };
    Some(lead_projection(
        node,
        key,
        "l.",
        Some(partner_of_right()),
        evidence,
    ))
}

/// The parameters a `link` rule takes without declaring them (`--param RULE.NAME=VALUE`):
/// `threshold`, `prior`, and `<field>.m` / `<field>.u` of a compared field.
pub fn takes_param(spec: &LinkSpec, name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((field, "m" | "u")) => spec.compare.iter().any(|c| c.field.value == field),
        Some(_) => false,
        None => name == "threshold" || name == "prior",
    }
}

/// A parameter's value as numbers: one, or several separated by commas (`0.1,0.2,0.7`).
fn param_numbers(v: &ParamValue) -> Option<Vec<f64>> {
    match v {
        ParamValue::Text(t) => t.split(',').map(|p| p.trim().parse::<f64>().ok()).collect(),
        ParamValue::Float(f) => Some(vec![*f]),
        ParamValue::Int(i) => Some(vec![*i as f64]),
        ParamValue::Bool(_) => None,
    }
}
