//! `row_check` — flags rows where a condition holds.
//!
//! Example: ID numbers whose check character is wrong.
//! ```yaml
//! row_check:
//!   sources: [{ dataset: dibao }]
//!   condition: "id_card_issue = 'check_character'"
//!   key: [id_card_raw]
//! ```
//! Output: one lead per distinct key; one row per flagged source row.
//! Limits: several sources are unioned on the columns they share (same names and types).

use super::super::compile::{Ctx, lead_projection, union_of};
use super::super::{Expr, Plan};
use super::read_columns;
use crate::job::rule::{EvidenceSpec, RowCheckSpec};

pub fn plan(ctx: &mut Ctx, spec: &RowCheckSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let (plans, columns, name) = ctx.sources(&spec.sources)?;
    let scope = ctx.scope(columns, &name);
    let condition = ctx.condition(&spec.condition, &scope);
    let key = ctx.key(&spec.key, &scope);
    let evidence = ctx.evidence(evidence, &scope);
    let (condition, key, evidence) = (condition?, key?, evidence?);
    let read = read_columns(
        std::iter::once(&condition)
            .chain([&key])
            .chain(evidence.iter()),
    );
    let input = union_of(plans, &read).filter(Some(condition));
    let input = input.filter(Some(Expr::IsNull(Box::new(key.clone()), true)));
    Some(lead_projection(input, key, "", None, evidence))
}
