//! `duplicate` — flags groups of records sharing a normalised key, within one dataset or
//! across several.
//!
//! Example: the same person with two active pension enrolments.
//! ```yaml
//! duplicate:
//!   sources: [{ dataset: pension_enrolment, where: "status IN ('参保缴费', '正常领取')" }]
//!   key: [id_card]
//!   min_count: 2
//! ```
//! Output: one lead per key; one row per member record. Evidence may use `group_size`.
//! Limits: records whose key is NULL (an invalid ID) never form a group; they are reported as
//! data-quality findings instead.

use super::super::compile::{Ctx, lead_projection, union_of};
use super::super::expr::{AggFunc, Lit};
use super::super::{Expr, JoinKind, Plan};
use super::read_columns;
use crate::job::catalog::ValueType;
use crate::job::rule::{DuplicateSpec, EvidenceSpec};

pub fn plan(ctx: &mut Ctx, spec: &DuplicateSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let (plans, columns, name) = ctx.sources(&spec.sources)?;
    let scope = ctx.scope(columns.clone(), &name);
    let key = ctx.key(&spec.key, &scope);
    let mut with_size = columns;
    with_size.push(("group_size".into(), ValueType::Int));
    let scope = ctx.scope(with_size, &name);
    let evidence = ctx.evidence(evidence, &scope);
    let (key, evidence) = (key?, evidence?);
    let min = spec.min_count.as_ref().map(|m| m.value).unwrap_or(2);
    let mut read = read_columns(std::iter::once(&key).chain(evidence.iter()));
    read.retain(|c| c != "group_size");
    let members = Plan::WithColumns {
        input: Box::new(union_of(plans, &read)),
        columns: vec![("__k".into(), key)],
    }
    .filter(Some(Expr::IsNull(Box::new(Expr::Col("__k".into())), true)));
    let groups = Plan::Aggregate {
        input: Box::new(members.clone()),
        keys: vec![("__k".into(), Expr::Col("__k".into()))],
        measures: vec![("group_size".into(), Expr::Agg(AggFunc::Count, None))],
    }
    .filter(Some(Expr::Bin(
        super::super::expr::BinOp::GtEq,
        Box::new(Expr::Col("group_size".into())),
        Box::new(Expr::Lit(Lit::Int(i64::from(min)))),
    )));
    let joined = Plan::Join {
        left: Box::new(members),
        right: Box::new(groups),
        kind: JoinKind::Inner,
        on: vec![(Expr::Col("__k".into()), Expr::Col("__k".into()))],
    };
    Some(lead_projection(
        joined,
        Expr::Col("__k".into()),
        "",
        None,
        evidence,
    ))
}
