//! `match` — flags left rows that do (`exists`) or do not (`not_exists`) have a partner in the
//! right dataset, with conditions on each side and on the pair.
//!
//! Example: a dibao recipient who owns a car above a price.
//! ```yaml
//! match:
//!   left: { dataset: dibao }
//!   right: { dataset: vehicles, where: "vehicle_type <> '电动三轮车' AND price >= :min_price" }
//!   on: "l.id_card = r.owner_id"
//!   condition: "r.registered_on <= l.enrolled_on + 0"   # optional, on the pair
//!   mode: exists
//!   min_partners: 1
//! ```
//! Output: one lead per left key (the left side of `on`), or per value of `key:` (over `l.`
//! and `r.`; `l.` only for `not_exists`); for `exists`, one row per (left row, partner) pair
//! with the partner's file:row; for `not_exists`, one row per left row.
//! Limits: `on` is a conjunction of equalities, each between an `l.` and an `r.` expression;
//! NULL keys (invalid IDs) never match, and `not_exists` skips left rows whose key is NULL:
//! they cannot be checked and are reported as data-quality findings.

use super::super::compile::{Ctx, Sides, equi_keys, key_of, lead_projection, partner_of_right};
use super::super::expr::{AggFunc, BinOp, Expr, Lit, Scope};
use super::super::{JoinKind, Plan};
use crate::job::rule::{EvidenceSpec, MatchMode, MatchSpec};

pub fn plan(ctx: &mut Ctx, spec: &MatchSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let sides = Sides::of(ctx, &spec.left, &spec.right)?;
    let pair = sides.scope(ctx, Vec::new());
    let on = equi_keys(ctx, &spec.on, &pair);
    let condition = match &spec.condition {
        Some(c) => Some(ctx.condition(c, &pair)?),
        None => None,
    };
    // not_exists leads have no partner: evidence may only read the left side.
    let ev_scope = match spec.mode {
        MatchMode::Exists => pair,
        MatchMode::NotExists => Scope {
            right: Some(&[]),
            ..pair
        },
    };
    let evidence = ctx.evidence(evidence, &ev_scope);
    let on = on?;
    let default_key = key_of(
        on.iter()
            .map(|(l, _)| Expr::ToText(Box::new(l.clone())))
            .collect(),
    );
    let key = ctx.lead_key(spec.key.as_ref(), &ev_scope, default_key);
    let (evidence, key) = (evidence?, key?);
    let min = spec.min_partners.as_ref().map(|m| m.value).unwrap_or(1);
    if let (MatchMode::NotExists, Some(m)) = (spec.mode, &spec.min_partners) {
        ctx.diags.push(crate::job::yaml::at(
            ctx.path,
            m,
            "`min_partners` applies to `mode: exists` only",
        ));
        return None;
    }

    let l = Plan::Prefix {
        input: Box::new(sides.left.clone()),
        prefix: "l.".into(),
    };
    let r = Plan::Prefix {
        input: Box::new(sides.right.clone()),
        prefix: "r.".into(),
    };
    let rid = || Expr::Col("l.__rid".into());
    let plan = match spec.mode {
        MatchMode::Exists => {
            let mut pairs = Plan::Join {
                left: Box::new(l),
                right: Box::new(r),
                kind: JoinKind::Inner,
                on,
            }
            .filter(condition);
            if min > 1 {
                let counts = Plan::Aggregate {
                    input: Box::new(pairs.clone()),
                    keys: vec![("l.__rid".into(), rid())],
                    measures: vec![("__partners".into(), Expr::Agg(AggFunc::Count, None))],
                }
                .filter(Some(Expr::Bin(
                    BinOp::GtEq,
                    Box::new(Expr::Col("__partners".into())),
                    Box::new(Expr::Lit(Lit::Int(i64::from(min)))),
                )));
                pairs = Plan::Join {
                    left: Box::new(pairs),
                    right: Box::new(counts),
                    kind: JoinKind::Semi,
                    on: vec![(rid(), rid())],
                };
            }
            let partner = partner_of_right();
            lead_projection(pairs, key, "l.", Some(partner), evidence)
        }
        MatchMode::NotExists => {
            let unmatched = match condition {
                None => Plan::Join {
                    left: Box::new(l),
                    right: Box::new(r),
                    kind: JoinKind::Anti,
                    on,
                },
                Some(c) => {
                    let pairs = Plan::Join {
                        left: Box::new(l.clone()),
                        right: Box::new(r),
                        kind: JoinKind::Inner,
                        on,
                    }
                    .filter(Some(c));
                    let matched = Plan::Project {
                        input: Box::new(pairs),
                        columns: vec![("l.__rid".into(), rid())],
                    };
                    Plan::Join {
                        left: Box::new(l),
                        right: Box::new(matched),
                        kind: JoinKind::Anti,
                        on: vec![(rid(), rid())],
                    }
                }
            };
            let checkable = unmatched.filter(Some(Expr::IsNull(Box::new(key.clone()), true)));
            lead_projection(checkable, key, "l.", None, evidence)
        }
    };
    Some(plan)
}
