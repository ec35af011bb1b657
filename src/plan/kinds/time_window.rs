//! `time_window` — flags pairs of events sharing a key that happen close in time: across two
//! datasets, or within one (omit `right`).
//!
//! Example: the same truck sells grain out and brings a load of about the same weight back in
//! within 72 hours ("rotating grain").
//! ```yaml
//! time_window:
//!   left: { dataset: weighbridge_tickets, where: "direction = '出库'" }
//!   right: { dataset: weighbridge_tickets, where: "direction = '入库'" }
//!   on: "l.plate = r.plate"
//!   left_time: l.weighed_at
//!   right_time: r.weighed_at
//!   within: { hours: 72 }
//!   order: after                   # after (right follows left) | either
//!   condition: "abs(l.net_kg - r.net_kg) <= 0.02 * l.net_kg"
//!   max_pairs: 1000000
//! ```
//! Output: one lead per key (the left side of `on`) — or per value of `key:`, e.g.
//! `key: [l.ticket_no, r.ticket_no]` for a lead per (sale, purchase) pair; one row per pair,
//! the left event's record with the right event as partner. Evidence, `condition` and `key`
//! may use `gap_hours` (right time − left time); the window's ends are inclusive.
//! Limits: the guard counts, before joining, the pairs each key would form; a key above
//! `max_pairs` stops the rule with an error naming the key rather than exhausting memory.

use super::super::compile::{
    Ctx, Sides, equi_keys, key_of, l_and_r, lead_projection, locate, partner_of_right,
};
use super::super::expr::{BinOp, Expr, ExprError, Func, Lit};
use super::super::{JoinKind, Plan};
use crate::job::catalog::ValueType;
use crate::job::rule::{EvidenceSpec, Order, TimeWindowSpec};

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::Bin(op, Box::new(a), Box::new(b))
}

pub fn plan(ctx: &mut Ctx, spec: &TimeWindowSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let sides = Sides::of(ctx, &spec.left, spec.right.as_ref().unwrap_or(&spec.left))?;
    let pair = sides.scope(ctx, vec![("gap_hours".into(), ValueType::Float)]);
    let on = equi_keys(ctx, &spec.on, &pair);
    let time = |t: &serde_saphyr::Spanned<String>, ctx: &mut Ctx| -> Option<Expr> {
        let (e, ty) = ctx.expr(t, &pair)?;
        if matches!(ty, ValueType::Date | ValueType::Datetime) {
            Some(e)
        } else {
            ctx.diags.push(locate(
                ctx.path,
                t,
                ExprError {
                    line: 1,
                    column: 1,
                    message: format!("an event time must be a date or datetime; `{e}` is a {ty}"),
                    help: Some("declare the column as `type: datetime` in datasets.yaml".into()),
                },
            ));
            None
        }
    };
    let lt = time(&spec.left_time, ctx);
    let rt = time(&spec.right_time, ctx);
    let condition = match &spec.condition {
        Some(c) => Some(ctx.condition(c, &pair)?),
        None => None,
    };
    let evidence = ctx.evidence(evidence, &pair)?;
    let (on, lt, rt) = (on?, lt?, rt?);
    let w = &spec.within;
    let hours =
        w.days.unwrap_or(0.0) * 24.0 + w.hours.unwrap_or(0.0) + w.minutes.unwrap_or(0.0) / 60.0;
    if hours <= 0.0 {
        ctx.diags.push(crate::job::yaml::at(
            ctx.path,
            &spec.left_time,
            "`within` needs a positive window: days, hours or minutes",
        ));
        return None;
    }

    let gap = Expr::Col("gap_hours".into());
    let window = Expr::Lit(Lit::Float(hours));
    let mut keep = match spec.order {
        Order::After => bin(
            BinOp::And,
            bin(BinOp::GtEq, gap.clone(), Expr::Lit(Lit::Float(0.0))),
            bin(BinOp::LtEq, gap.clone(), window),
        ),
        Order::Either => bin(BinOp::LtEq, Expr::Func(Func::Abs, vec![gap]), window),
    };
    if spec.right.is_none() {
        // Within one dataset: never an event with itself, and each unordered pair once.
        let op = if spec.order == Order::Either {
            BinOp::Lt
        } else {
            BinOp::NotEq
        };
        keep = bin(
            BinOp::And,
            keep,
            bin(op, Expr::Col("l.__rid".into()), Expr::Col("r.__rid".into())),
        );
    }
    if let Some(c) = condition {
        keep = bin(BinOp::And, keep, c);
    }
    let (left, right) = l_and_r(sides.left.clone(), sides.right.clone());
    let join = Plan::Join {
        left,
        right,
        kind: JoinKind::Inner,
        on: on.clone(),
    };
    let pairs = Plan::WithColumns {
        input: Box::new(Plan::Guard {
            input: Box::new(join),
            max_pairs: spec.max_pairs,
        }),
        columns: vec![(
            "gap_hours".into(),
            Expr::Func(Func::HoursBetween, vec![lt, rt]),
        )],
    }
    .filter(Some(keep));
    let default_key = key_of(
        on.iter()
            .map(|(l, _)| Expr::ToText(Box::new(l.clone())))
            .collect(),
    );
    let key = ctx.lead_key(spec.key.as_ref(), &pair, default_key)?;
    let partner = partner_of_right();
    Some(lead_projection(pairs, key, "l.", Some(partner), evidence))
}
