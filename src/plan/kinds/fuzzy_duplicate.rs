//! `fuzzy_duplicate` — flags records that are probably one person under two ID numbers:
//! records are blocked on declared fields (name, birth date…), and within a block every pair
//! whose IDs differ in one or a few characters is scored.
//!
//! Example: the same name on the pension rolls under IDs one or two characters apart.
//! ```yaml
//! fuzzy_duplicate:
//!   source: { dataset: pension_enrolment }
//!   block_on: [name, "substr(coalesce(id_card, id_card_raw), 7, 8)"]
//!   id: "coalesce(id_card, id_card_raw)"
//!   max_diff: 2
//!   threshold: 0.6
//! ```
//! Score: 1.0, minus 0.3 for each differing character beyond the first, minus 0.2 when the
//! birth dates inside the IDs (characters 7–14) differ, minus 0.2 when the region codes
//! (characters 1–6) differ, minus 0.1 when both IDs have a valid check character (a typo
//! usually breaks it; a valid pair is more often two real people). Pairs below `threshold` are
//! not flagged. Evidence may use `score`, `char_diff` and `reasons` (why, in words).
//! Output: one lead per pair of IDs (key `ID1~ID2`, sorted; or the values of `key:` over `l.`
//! and `r.`); the row is one record, the partner
//! the other. Limits: IDs are compared position by position (`char_diff`), so an inserted or
//! dropped character counts as many; the join is guarded like `time_window`'s.

use super::super::compile::{Ctx, l_and_r, lead_projection, partner_of_right, prefixed};
use super::super::expr::{BinOp, Expr, Func, Lit, Scope};
use super::super::{JoinKind, Plan};
use crate::job::catalog::ValueType;
use crate::job::rule::{EvidenceSpec, FuzzyDuplicateSpec};

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::Bin(op, Box::new(a), Box::new(b))
}
fn lit_i(i: i64) -> Expr {
    Expr::Lit(Lit::Int(i))
}
fn lit_f(f: f64) -> Expr {
    Expr::Lit(Lit::Float(f))
}
fn text(s: &str) -> Expr {
    Expr::Lit(Lit::Text(s.into()))
}
fn substr(e: &Expr, start: i64, len: i64) -> Expr {
    Expr::Func(Func::Substr, vec![e.clone(), lit_i(start), lit_i(len)])
}
fn when(c: Expr, then: Expr, otherwise: Expr) -> Expr {
    Expr::Case(vec![(c, then)], Box::new(otherwise))
}

pub fn plan(ctx: &mut Ctx, spec: &FuzzyDuplicateSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let (mut plans, cols, name) = ctx.sources(std::slice::from_ref(&spec.source))?;
    let source = plans.remove(0).0;
    let single = ctx.scope(cols.clone(), &name);
    let mut blocks = Vec::new();
    for b in &spec.block_on {
        blocks.push(ctx.expr(b, &single).map(|(e, _)| e));
    }
    let id = ctx.expr(&spec.id, &single);
    let pair = Scope {
        columns: vec![
            ("score".into(), ValueType::Float),
            ("char_diff".into(), ValueType::Int),
            ("reasons".into(), ValueType::Text),
        ],
        left: Some(&cols),
        right: Some(&cols),
        left_name: &name,
        right_name: &name,
        params: ctx.params.clone(),
        allow_aggregates: false,
    };
    let evidence = ctx.evidence(evidence, &pair)?;
    let blocks: Vec<Expr> = blocks.into_iter().collect::<Option<_>>()?;
    let (id, id_type) = id?;
    if id_type != ValueType::Text {
        ctx.diags.push(crate::job::yaml::at(
            ctx.path,
            &spec.id,
            format!("`id` must be text; this is a {id_type}"),
        ));
        return None;
    }
    let (a, b) = (prefixed(&id, "l."), prefixed(&id, "r."));
    let on: Vec<(Expr, Expr)> = blocks
        .iter()
        .map(|e| (prefixed(e, "l."), prefixed(e, "r.")))
        .collect();
    let (left, right) = l_and_r(source.clone(), source);
    let join = Plan::Join {
        left,
        right,
        kind: JoinKind::Inner,
        on,
    };
    let diff = Expr::Col("char_diff".into());
    let candidates = Plan::WithColumns {
        input: Box::new(Plan::Guard {
            input: Box::new(join),
            max_pairs: 1_000_000,
        }),
        columns: vec![(
            "char_diff".into(),
            Expr::Func(Func::CharDiff, vec![a.clone(), b.clone()]),
        )],
    }
    .filter(Some(
        [
            bin(
                BinOp::Lt,
                Expr::Col("l.__rid".into()),
                Expr::Col("r.__rid".into()),
            ),
            bin(BinOp::GtEq, diff.clone(), lit_i(1)),
            bin(BinOp::LtEq, diff.clone(), lit_i(i64::from(spec.max_diff))),
        ]
        .into_iter()
        .reduce(|x, y| bin(BinOp::And, x, y))
        .expect("conditions"),
    ));
    let same_birth = bin(BinOp::Eq, substr(&a, 7, 8), substr(&b, 7, 8));
    let same_region = bin(BinOp::Eq, substr(&a, 1, 6), substr(&b, 1, 6));
    let both_valid = bin(
        BinOp::And,
        Expr::Func(Func::IdValid, vec![a.clone()]),
        Expr::Func(Func::IdValid, vec![b.clone()]),
    );
    let score = [
        bin(
            BinOp::Mul,
            lit_f(0.3),
            bin(BinOp::Sub, diff.clone(), lit_i(1)),
        ),
        when(same_birth.clone(), lit_f(0.0), lit_f(0.2)),
        when(same_region.clone(), lit_f(0.0), lit_f(0.2)),
        when(both_valid.clone(), lit_f(0.1), lit_f(0.0)),
    ]
    .into_iter()
    .fold(lit_f(1.0), |acc, penalty| bin(BinOp::Sub, acc, penalty));
    let reasons = Expr::Func(
        Func::Concat,
        vec![
            text("号码相差 "),
            Expr::ToText(Box::new(diff.clone())),
            text(" 位 / IDs differ in "),
            Expr::ToText(Box::new(diff)),
            text(" character(s); "),
            when(
                same_birth,
                text("出生日期相同 / same birth date; "),
                text("出生日期不同 / different birth dates; "),
            ),
            when(
                same_region,
                text("地区码相同 / same region"),
                text("地区码不同 / different regions"),
            ),
            when(
                both_valid,
                text("; 两个号码校验码均有效 / both check characters valid"),
                text("; 有号码校验码无效 / a check character is invalid"),
            ),
        ],
    );
    let scored = Plan::WithColumns {
        input: Box::new(candidates),
        columns: vec![
            (
                "score".into(),
                Expr::Func(Func::Round, vec![score, lit_i(2)]),
            ),
            ("reasons".into(), reasons),
        ],
    }
    .filter(Some(bin(
        BinOp::GtEq,
        Expr::Col("score".into()),
        lit_f(spec.threshold - 1e-9),
    )));
    let default_key = when(
        bin(BinOp::Lt, a.clone(), b.clone()),
        Expr::Func(Func::Concat, vec![a.clone(), text("~"), b.clone()]),
        Expr::Func(Func::Concat, vec![b, text("~"), a]),
    );
    let key = ctx.lead_key(spec.key.as_ref(), &pair, default_key)?;
    let partner = partner_of_right();
    Some(lead_projection(scored, key, "l.", Some(partner), evidence))
}
