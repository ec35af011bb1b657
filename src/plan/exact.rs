//! Decimal arithmetic that compares the way a calculator does. Decimal columns are held as
//! doubles, each the double nearest its exact decimal value (at most `MAX_SCALE` places; the
//! loader rejects more). Such doubles compare exactly, but arithmetic leaves binary noise:
//! 1.07 − 0.57 is 0.5000000000000001. So every decimal sum, difference, product, quotient and
//! aggregate sum is rounded back to the decimal places its exact result has (the larger of
//! the operands' for + and −, their total for ×, the column's for sum), which is the double
//! nearest the exact result: `1.07 − 0.57 > 0.5` is false, `|30.30 − 30.00| ≤ 0.01 × 30.00`
//! holds, and a sum of a thousand amounts equals the sum a calculator gives.
//!
//! The pass runs on the logical plan, so both lowerings (Polars, Spark) round alike.
//! Limits: exact while |value| × 10^places stays below 2^53 (money with 4 places up to
//! 900 billion); a quotient is rounded to 12 places; `sql` rules are not rewritten.

use std::collections::HashMap;

use super::Plan;
use super::expr::{AggFunc, BinOp, Expr, Func, Lit};

/// The decimal places of a numeric value, and whether it is a decimal (else an integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Places {
    pub scale: u8,
    pub decimal: bool,
    /// An amount of money (or one computed from one): shown with at least two places.
    pub money: bool,
}

/// Places kept for a quotient, and the most any rounded result keeps.
const QUOTIENT_SCALE: u8 = 12;
const MAX_RESULT_SCALE: u8 = 12;

type Env = HashMap<String, Places>;

/// `plan` with every decimal result rounded to its exact places. `columns(dataset)` gives a
/// dataset's numeric columns (integers with scale 0).
pub fn exact(plan: Plan, columns: &dyn Fn(&str) -> Vec<(String, Places)>) -> Plan {
    walk(plan, columns).0
}

fn walk(plan: Plan, columns: &dyn Fn(&str) -> Vec<(String, Places)>) -> (Plan, Env) {
    let exprs = |cols: Vec<(String, Expr)>, env: &Env| -> (Vec<(String, Expr)>, Env) {
        let mut out_env = Env::new();
        let cols = cols
            .into_iter()
            .map(|(n, e)| {
                let (e, p) = rewrite(&e, env);
                if let Some(p) = p {
                    out_env.insert(n.clone(), p);
                }
                (n, e)
            })
            .collect();
        (cols, out_env)
    };
    match plan {
        Plan::Scan { dataset } => {
            let mut env: Env = columns(&dataset).into_iter().collect();
            for c in ["__row", "__rid"] {
                env.insert(c.into(), INT);
            }
            (Plan::Scan { dataset }, env)
        }
        Plan::Filter { input, predicate } => {
            let (input, env) = walk(*input, columns);
            let predicate = rewrite(&predicate, &env).0;
            (
                Plan::Filter {
                    input: Box::new(input),
                    predicate,
                },
                env,
            )
        }
        Plan::Prefix { input, prefix } => {
            let (input, env) = walk(*input, columns);
            let env = env
                .into_iter()
                .map(|(c, p)| (format!("{prefix}{c}"), p))
                .collect();
            (
                Plan::Prefix {
                    input: Box::new(input),
                    prefix,
                },
                env,
            )
        }
        Plan::WithColumns { input, columns: c } => {
            let (input, mut env) = walk(*input, columns);
            let names: Vec<String> = c.iter().map(|(n, _)| n.clone()).collect();
            let (c, added) = exprs(c, &env);
            for n in names {
                env.remove(&n);
            }
            env.extend(added);
            (
                Plan::WithColumns {
                    input: Box::new(input),
                    columns: c,
                },
                env,
            )
        }
        Plan::Project { input, columns: c } => {
            let (input, env) = walk(*input, columns);
            let c = c
                .into_iter()
                .map(|(n, e)| {
                    let e = if n.starts_with("__ev") {
                        shown(&e, &env)
                    } else {
                        e
                    };
                    (n, e)
                })
                .collect();
            let (c, env) = exprs(c, &env);
            (
                Plan::Project {
                    input: Box::new(input),
                    columns: c,
                },
                env,
            )
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let (left, lenv) = walk(*left, columns);
            let (right, renv) = walk(*right, columns);
            let on = on
                .into_iter()
                .map(|(a, b)| (rewrite(&a, &lenv).0, rewrite(&b, &renv).0))
                .collect();
            let mut env = renv;
            env.extend(lenv);
            (
                Plan::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    kind,
                    on,
                },
                env,
            )
        }
        Plan::Aggregate {
            input,
            keys,
            measures,
        } => {
            let (input, env) = walk(*input, columns);
            let (keys, mut out) = exprs(keys, &env);
            let (measures, m) = exprs(measures, &env);
            out.extend(m);
            (
                Plan::Aggregate {
                    input: Box::new(input),
                    keys,
                    measures,
                },
                out,
            )
        }
        Plan::Union { inputs } => {
            let walked: Vec<(Plan, Env)> = inputs.into_iter().map(|p| walk(p, columns)).collect();
            // A column's places across the inputs: the largest, where every input knows them.
            let mut env = walked.first().map(|(_, e)| e.clone()).unwrap_or_default();
            env.retain(|c, p| {
                walked.iter().all(|(_, e)| match e.get(c) {
                    Some(q) => {
                        *p = join(*p, *q);
                        true
                    }
                    None => false,
                })
            });
            (
                Plan::Union {
                    inputs: walked.into_iter().map(|(p, _)| p).collect(),
                },
                env,
            )
        }
        Plan::Guard { input, max_pairs } => {
            let (input, env) = walk(*input, columns);
            (
                Plan::Guard {
                    input: Box::new(input),
                    max_pairs,
                },
                env,
            )
        }
        Plan::Link {
            left,
            right,
            mut link,
        } => {
            let (left, lenv) = walk(*left, columns);
            let (right, renv) = walk(*right, columns);
            let both = |(a, b): (Expr, Expr)| (rewrite(&a, &lenv).0, rewrite(&b, &renv).0);
            link.ids = both(link.ids.clone());
            for rule in &mut link.blocking {
                rule.on = rule.on.drain(..).map(both).collect();
            }
            for c in &mut link.compare {
                (c.left, c.right) = both((c.left.clone(), c.right.clone()));
            }
            let mut env = renv;
            env.extend(lenv);
            (
                Plan::Link {
                    left: Box::new(left),
                    right: Box::new(right),
                    link,
                },
                env,
            )
        }
        sql @ Plan::Sql { .. } => (sql, Env::new()),
    }
}

const INT: Places = Places {
    scale: 0,
    decimal: false,
    money: false,
};

/// An evidence value as an inspector reads it: an amount of money with at least two places
/// (1200.50, 1200.00), as amounts are written; anything else as it is.
fn shown(e: &Expr, env: &Env) -> Expr {
    let Expr::ToText(x) = e else {
        return e.clone();
    };
    if !rewrite(x, env).1.is_some_and(|p| p.money) {
        return e.clone();
    }
    let text = |suffix: &str| {
        Expr::Func(
            Func::Concat,
            vec![e.clone(), Expr::Lit(Lit::Text(suffix.into()))],
        )
    };
    Expr::Case(
        vec![
            (
                Expr::Like(Box::new(e.clone()), "%.%".into(), true),
                text(".00"),
            ),
            (
                Expr::Like(Box::new(e.clone()), "%._".into(), false),
                text("0"),
            ),
        ],
        Box::new(e.clone()),
    )
}

fn join(a: Places, b: Places) -> Places {
    Places {
        scale: a.scale.max(b.scale),
        decimal: a.decimal || b.decimal,
        money: a.money || b.money,
    }
}

/// The decimal places a literal is written with (its shortest exact form: 0.03 → 2).
fn literal_scale(v: f64) -> Option<u8> {
    let text = format!("{v}");
    if text.contains(['e', 'E']) || !v.is_finite() {
        return None;
    }
    let places = text.split_once('.').map_or(0, |(_, f)| f.len());
    u8::try_from(places).ok().filter(|p| *p <= MAX_RESULT_SCALE)
}

fn rounded(e: Expr, p: Places) -> (Expr, Option<Places>) {
    if !p.decimal {
        return (e, Some(p));
    }
    (
        Expr::Func(
            Func::Round,
            vec![e, Expr::Lit(Lit::Int(i64::from(p.scale)))],
        ),
        Some(p),
    )
}

/// `e` with its decimal results rounded, and the places of its value (`None`: not a number,
/// or places unknown — a double such as `hours_between`, left as it is).
fn rewrite(e: &Expr, env: &Env) -> (Expr, Option<Places>) {
    let r = |x: &Expr| rewrite(x, env);
    match e {
        Expr::Col(c) => (e.clone(), env.get(c).copied()),
        Expr::Lit(Lit::Int(_)) => (e.clone(), Some(INT)),
        Expr::Lit(Lit::Float(v)) => (
            e.clone(),
            literal_scale(*v).map(|scale| Places {
                scale,
                decimal: true,
                money: false,
            }),
        ),
        Expr::Lit(_) => (e.clone(), None),
        Expr::Neg(x) => {
            let (x, p) = r(x);
            (Expr::Neg(Box::new(x)), p)
        }
        Expr::Bin(op, a, b) => {
            let ((a, pa), (b, pb)) = (r(a), r(b));
            let node = Expr::Bin(*op, Box::new(a), Box::new(b));
            let places = match (op, pa, pb) {
                (BinOp::Add | BinOp::Sub, Some(x), Some(y)) => Some(join(x, y)),
                (BinOp::Mul, Some(x), Some(y)) => Some(Places {
                    scale: x.scale + y.scale,
                    decimal: x.decimal || y.decimal,
                    // A price times a quantity, a rate times an amount: money.
                    money: x.money || y.money,
                }),
                (BinOp::Div, Some(_), Some(_)) => Some(Places {
                    scale: QUOTIENT_SCALE,
                    decimal: true,
                    money: false,
                }),
                _ => None,
            };
            match places {
                Some(p) if p.scale <= MAX_RESULT_SCALE => rounded(node, p),
                _ => (node, None),
            }
        }
        Expr::Func(Func::Abs, args) => {
            let (x, p) = r(&args[0]);
            (Expr::Func(Func::Abs, vec![x]), p)
        }
        Expr::Func(Func::Round, args) => {
            let (x, _) = r(&args[0]);
            let digits = match args.get(1) {
                Some(Expr::Lit(Lit::Int(d))) => (*d).clamp(0, 15) as u8,
                _ => 0,
            };
            let money = r(&args[0]).1.is_some_and(|p| p.money) && digits >= 2;
            let mut out = vec![x];
            out.extend(args.iter().skip(1).cloned());
            (
                Expr::Func(Func::Round, out),
                Some(Places {
                    scale: digits,
                    decimal: true,
                    money,
                }),
            )
        }
        Expr::Func(f @ (Func::Coalesce | Func::Greatest | Func::Least), args) => {
            let (args, places): (Vec<Expr>, Vec<Option<Places>>) = args.iter().map(r).unzip();
            let p = places
                .iter()
                .copied()
                .try_fold(None::<Places>, |acc, p| {
                    Some(Some(match acc {
                        None => p?,
                        Some(a) => join(a, p?),
                    }))
                })
                .flatten();
            (Expr::Func(*f, args), p)
        }
        Expr::Func(f, args) => {
            let args = args.iter().map(|a| r(a).0).collect();
            let places = matches!(
                f,
                Func::Year
                    | Func::Month
                    | Func::Day
                    | Func::YearMonth
                    | Func::MonthsBetween
                    | Func::DaysBetween
                    | Func::Length
                    | Func::CharDiff
                    | Func::WorkingDays
                    | Func::FirstDigit
            )
            .then_some(INT);
            (Expr::Func(*f, args), places)
        }
        Expr::Agg(AggFunc::Count | AggFunc::CountDistinct, x) => (
            Expr::Agg(
                match e {
                    Expr::Agg(f, _) => *f,
                    _ => unreachable!("an aggregate"),
                },
                x.as_ref().map(|x| Box::new(r(x).0)),
            ),
            Some(INT),
        ),
        Expr::Agg(f @ (AggFunc::Min | AggFunc::Max), Some(x)) => {
            let (x, p) = r(x);
            (Expr::Agg(*f, Some(Box::new(x))), p)
        }
        Expr::Agg(AggFunc::Sum, Some(x)) => {
            let (x, p) = r(x);
            let node = Expr::Agg(AggFunc::Sum, Some(Box::new(x)));
            match p {
                Some(p) => rounded(node, p),
                None => (node, None),
            }
        }
        Expr::Agg(AggFunc::Avg, Some(x)) => {
            let (x, p) = r(x);
            let node = Expr::Agg(AggFunc::Avg, Some(Box::new(x)));
            match p {
                Some(p) => rounded(
                    node,
                    Places {
                        scale: QUOTIENT_SCALE,
                        decimal: true,
                        money: false,
                    }
                    .max_with(p),
                ),
                None => (node, None),
            }
        }
        Expr::Agg(f, x) => (Expr::Agg(*f, x.as_ref().map(|x| Box::new(r(x).0))), None),
        Expr::FirstBy(v, o) => {
            let (v, p) = r(v);
            (Expr::FirstBy(Box::new(v), Box::new(r(o).0)), p)
        }
        Expr::Case(arms, otherwise) => {
            let mut places = Some(None::<Places>);
            let mut note = |p: Option<Places>, is_null: bool| {
                if is_null {
                    return;
                }
                places = match (places, p) {
                    (Some(acc), Some(p)) => Some(Some(acc.map_or(p, |a| join(a, p)))),
                    _ => None,
                };
            };
            let arms = arms
                .iter()
                .map(|(c, v)| {
                    let (v2, p) = r(v);
                    note(p, matches!(v, Expr::Lit(Lit::Null)));
                    (r(c).0, v2)
                })
                .collect();
            let (o, p) = r(otherwise);
            note(p, matches!(**otherwise, Expr::Lit(Lit::Null)));
            (Expr::Case(arms, Box::new(o)), places.flatten())
        }
        // Not numbers, or numbers of no decimal places to keep: rewritten inside only.
        other => (
            other.map_nodes(&mut |node| {
                if std::ptr::eq(node, other) {
                    None
                } else {
                    Some(rewrite(node, env).0)
                }
            }),
            None,
        ),
    }
}

impl Places {
    fn max_with(self, other: Places) -> Places {
        Places {
            scale: self.scale.max(other.scale),
            decimal: true,
            money: other.money,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(c: &str) -> Expr {
        Expr::Col(c.into())
    }
    fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Bin(op, Box::new(a), Box::new(b))
    }
    fn round(e: Expr, d: i64) -> Expr {
        Expr::Func(Func::Round, vec![e, Expr::Lit(Lit::Int(d))])
    }

    #[test]
    fn decimal_results_are_rounded_to_their_exact_places() {
        let env: Env = [
            (
                "a".to_string(),
                Places {
                    scale: 2,
                    decimal: true,
                    money: false,
                },
            ),
            (
                "b".into(),
                Places {
                    scale: 1,
                    decimal: true,
                    money: false,
                },
            ),
            ("n".into(), INT),
        ]
        .into();
        // a − b: two places.
        let (e, p) = rewrite(&bin(BinOp::Sub, col("a"), col("b")), &env);
        assert_eq!(e, round(bin(BinOp::Sub, col("a"), col("b")), 2));
        assert_eq!(
            p,
            Some(Places {
                scale: 2,
                decimal: true,
                money: false,
            })
        );
        // 0.03 × b: three places.
        let (e, _) = rewrite(
            &bin(BinOp::Mul, Expr::Lit(Lit::Float(0.03)), col("b")),
            &env,
        );
        assert_eq!(
            e,
            round(bin(BinOp::Mul, Expr::Lit(Lit::Float(0.03)), col("b")), 3)
        );
        // Integers stay integers; a comparison is not rounded, its operands are.
        let (e, p) = rewrite(&bin(BinOp::Add, col("n"), Expr::Lit(Lit::Int(1))), &env);
        assert_eq!(e, bin(BinOp::Add, col("n"), Expr::Lit(Lit::Int(1))));
        assert_eq!(p, Some(INT));
        let cmp = bin(
            BinOp::Gt,
            bin(BinOp::Sub, col("a"), col("b")),
            Expr::Lit(Lit::Float(0.5)),
        );
        let (e, p) = rewrite(&cmp, &env);
        assert_eq!(
            e,
            bin(
                BinOp::Gt,
                round(bin(BinOp::Sub, col("a"), col("b")), 2),
                Expr::Lit(Lit::Float(0.5))
            )
        );
        assert_eq!(p, None);
        // sum(a): the column's places.
        let (e, _) = rewrite(&Expr::Agg(AggFunc::Sum, Some(Box::new(col("a")))), &env);
        assert_eq!(
            e,
            round(Expr::Agg(AggFunc::Sum, Some(Box::new(col("a")))), 2)
        );
        // Unknown places (a double from hours_between): left alone.
        let (e, p) = rewrite(&bin(BinOp::Sub, col("hours"), col("a")), &env);
        assert_eq!(e, bin(BinOp::Sub, col("hours"), col("a")));
        assert_eq!(p, None);
    }

    /// What the rounding buys, on doubles as the engine holds them.
    #[test]
    fn rounded_doubles_compare_as_decimals() {
        // Values as read from an extract, not constants the compiler folds.
        let v = |x: f64| std::hint::black_box(x);
        let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
        assert!(v(1.07) - v(0.57) > v(0.5), "the noise this pass removes");
        assert!(round(v(1.07) - v(0.57), 2) <= 0.5);
        assert!((v(30.30) - v(30.00)).abs() > v(0.01) * v(30.00));
        assert!(round((v(30.30) - v(30.00)).abs(), 2) <= round(v(0.01) * v(30.00), 4));
        assert!(v(130.0) - v(126.1) > v(0.03) * v(130.0));
        assert!(round(v(130.0) - v(126.1), 1) <= round(v(0.03) * v(130.0), 3));
        let sum: f64 = (0..1000).map(|_| v(0.1)).sum();
        assert!(sum != 100.0);
        assert_eq!(round(sum, 1), 100.0);
    }
}
