//! `aggregate` — flags groups whose measures satisfy `having`.
//!
//! Example: one bank account receiving the pensions of three or more people.
//! ```yaml
//! aggregate:
//!   source: { dataset: pension_payments }
//!   group_by: [bank_account]
//!   measures: { people: "count(distinct id_card)", total: "sum(amount)" }
//!   having: "people >= :min_people"
//! ```
//! Output: one lead per group (key = the group values, or the values of `key:` over the
//! columns and measures); one row per member record, or with
//! `rows: group` one row per group (its first record's provenance); evidence may use the
//! measures.
//! Limits: rows whose group value is NULL form no group.

use super::super::compile::{Ctx, key_of, lead_projection};
use super::super::expr::AggFunc;
use super::super::expr::Expr;
use super::super::{JoinKind, Plan};
use crate::job::catalog::ROW_ID;
use crate::job::rule::{AggregateSpec, EvidenceSpec, GroupRows};

pub fn plan(ctx: &mut Ctx, spec: &AggregateSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let (mut plans, columns, name) = ctx.sources(std::slice::from_ref(&spec.source))?;
    let source = plans.remove(0).0;
    let scope = ctx.scope(columns.clone(), &name);
    let mut groups = Vec::new();
    for (i, g) in spec.group_by.iter().enumerate() {
        if let Some((e, t)) = ctx.expr(g, &scope) {
            groups.push((format!("__g{i}"), e, t));
        }
    }
    let mut agg_scope = ctx.scope(columns.clone(), &name);
    agg_scope.allow_aggregates = true;
    let mut measures = Vec::new();
    for (m, text) in &spec.measures {
        if let Some((e, t)) = ctx.expr(text, &agg_scope) {
            if !e.is_measure() {
                ctx.diags.push(super::super::compile::locate(ctx.path, text, super::super::expr::ExprError {
                    line: 1,
                    column: 1,
                    message: format!("measure `{m}` must aggregate, e.g. count(*), sum(x), max(n) - min(n) + 1 - count(distinct n), and read columns only inside aggregates"),
                    help: None,
                }));
                continue;
            }
            measures.push((m.clone(), e, t));
        }
    }
    if groups.len() != spec.group_by.len() || measures.len() != spec.measures.len() {
        return None;
    }
    // `having` sees the measures and the grouped columns by their own names.
    let mut having_cols: Vec<_> = measures.iter().map(|(n, _, t)| (n.clone(), *t)).collect();
    for (g, (_, e, t)) in spec.group_by.iter().zip(&groups) {
        if let Expr::Col(c) = e {
            having_cols.push((c.clone(), *t));
        } else {
            having_cols.push((g.value.clone(), *t));
        }
    }
    let having_scope = ctx.scope(having_cols, &name);
    let having = ctx.condition(&spec.having, &having_scope)?;
    // In `having`, a grouped column's name refers to its group value `__gN`.
    let having = having.map_columns(&|c| {
        groups
            .iter()
            .find(|(_, g, _)| *g == Expr::Col(c.to_string()))
            .map_or_else(|| c.to_string(), |(n, _, _)| n.clone())
    });
    let mut ev_cols = columns;
    ev_cols.extend(measures.iter().map(|(n, _, t)| (n.clone(), *t)));
    let ev_scope = ctx.scope(ev_cols.clone(), &name);
    let evidence = ctx.evidence(evidence, &ev_scope)?;
    let key_scope = ctx.scope(ev_cols, &name);

    let members = Plan::WithColumns {
        input: Box::new(source),
        columns: groups
            .iter()
            .map(|(n, e, _)| (n.clone(), e.clone()))
            .collect(),
    };
    let mut aggregates: Vec<(String, Expr)> = measures
        .iter()
        .map(|(n, e, _)| (n.clone(), e.clone()))
        .collect();
    let on = match spec.rows {
        GroupRows::Members => groups
            .iter()
            .map(|(n, _, _)| (Expr::Col(n.clone()), Expr::Col(n.clone())))
            .collect(),
        GroupRows::Group => {
            aggregates.push((
                "__first".to_string(),
                Expr::Agg(AggFunc::Min, Some(Box::new(Expr::Col(ROW_ID.to_string())))),
            ));
            vec![(
                Expr::Col(ROW_ID.to_string()),
                Expr::Col("__first".to_string()),
            )]
        }
    };
    let grouped = Plan::Aggregate {
        input: Box::new(members.clone()),
        keys: groups
            .iter()
            .map(|(n, _, _)| (n.clone(), Expr::Col(n.clone())))
            .collect(),
        measures: aggregates,
    }
    .filter(Some(having));
    // The few flagged groups on the left: the join builds its table from them and streams
    // the members past it, instead of holding every member row.
    let joined = Plan::Join {
        left: Box::new(grouped),
        right: Box::new(members),
        kind: JoinKind::Inner,
        on: on.into_iter().map(|(m, g)| (g, m)).collect(),
    };
    let default_key = key_of(
        groups
            .iter()
            .map(|(n, _, _)| Expr::ToText(Box::new(Expr::Col(n.clone()))))
            .collect(),
    );
    let key = ctx.lead_key(spec.key.as_ref(), &key_scope, default_key)?;
    Some(lead_projection(joined, key, "", None, evidence))
}
