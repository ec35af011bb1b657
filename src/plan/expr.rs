//! The rule expression language: SQL expressions parsed with `sqlparser` into our own typed
//! tree. Owning the tree lets us resolve `l.` / `r.`, compare a date column with
//! '2024-03-01', point at the exact character of a mistake, and lower to more than one engine.
//!
//! Operators: = <> != < <= > >= AND OR NOT + - * / ||, IS [NOT] NULL, [NOT] IN (…),
//! [NOT] BETWEEN … AND …, [NOT] LIKE. Functions: year, month, day, year_month,
//! months_between, days_between, upper, lower, trim, length, substr (1-based), concat,
//! coalesce, abs, round. Aggregates (measures only): count(*), count(x), count(distinct x),
//! sum, avg, min, max. Parameters: `:name`.

use std::fmt;

use sqlparser::ast::{self as sql, Spanned};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::nearest;
use crate::job::catalog::ValueType;
use crate::job::rule::ParamValue;

mod check;

pub use check::{ExprError, Scope, compile, param_literal};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Days since 1970-01-01.
    Date(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    Concat,
}

impl BinOp {
    /// The operator as SQL writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Concat => "||",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Year,
    Month,
    Day,
    YearMonth,
    MonthsBetween,
    DaysBetween,
    Upper,
    Lower,
    Trim,
    Length,
    Substr,
    Concat,
    Coalesce,
    /// The largest / smallest of its arguments, NULLs skipped (NULL only when all are).
    Greatest,
    Least,
    Abs,
    Round,
    HoursBetween,
    CharDiff,
    IdValid,
    /// A name in one written form (simplified, variants folded, spacing removed).
    NameFold,
    /// A name's toneless pinyin, a syllable per character.
    Pinyin,
    WorkingDays,
    IsWorkday,
    FirstDigit,
    Stratum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    /// Benford first-digit test: the mean absolute deviation of the group's first-digit
    /// shares from log10(1 + 1/d), d = 1..9 (Nigrini: ≤ 0.006 close conformity, ≤ 0.012
    /// acceptable, ≤ 0.015 marginal, above that nonconformity).
    BenfordMad,
}

/// Every function and aggregate the expression language knows (the README documents each).
pub const FUNCTIONS: &[&str] = &[
    "year",
    "month",
    "day",
    "year_month",
    "months_between",
    "days_between",
    "hours_between",
    "working_days",
    "is_workday",
    "char_diff",
    "id_valid",
    "name_fold",
    "pinyin",
    "first_digit",
    "stratum",
    "benford_mad",
    "upper",
    "lower",
    "trim",
    "length",
    "substr",
    "concat",
    "coalesce",
    "greatest",
    "least",
    "abs",
    "round",
    "count",
    "sum",
    "avg",
    "min",
    "max",
];

/// A typed, resolved expression. Column names are the physical names in the frame the
/// expression runs on (`l.id_card` after a join).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Col(String),
    Lit(Lit),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    In(Box<Expr>, Vec<Lit>, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    Like(Box<Expr>, String, bool),
    Func(Func, Vec<Expr>),
    /// `None` argument: count(*).
    Agg(AggFunc, Option<Box<Expr>>),
    /// Cast a date to a datetime so the two compare.
    DateToDatetime(Box<Expr>),
    /// Any value as text (keys and evidence): dates as 2024-03-01, numbers without `.0`.
    ToText(Box<Expr>),
    /// CASE WHEN c THEN v … ELSE e END.
    Case(Vec<(Expr, Expr)>, Box<Expr>),
    /// Aggregate: the value of the group's row with the smallest `order` (provenance of the
    /// first source row of a key).
    FirstBy(Box<Expr>, Box<Expr>),
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Null => f.write_str("NULL"),
            Lit::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Float(v) => write!(f, "{v:?}"),
            Lit::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Lit::Date(d) => {
                let date =
                    chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163).expect("valid date");
                write!(f, "DATE '{date}'")
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Col(c) => write!(f, "{c}"),
            Expr::Lit(l) => write!(f, "{l}"),
            Expr::Not(x) => write!(f, "NOT ({x})"),
            Expr::Neg(x) => write!(f, "-({x})"),
            Expr::Bin(op, a, b) => {
                let s = op.symbol();
                write!(f, "({a} {s} {b})")
            }
            Expr::IsNull(x, neg) => write!(f, "({x} IS {}NULL)", if *neg { "NOT " } else { "" }),
            Expr::In(x, list, neg) => {
                let items: Vec<String> = list.iter().map(|l| l.to_string()).collect();
                write!(
                    f,
                    "({x} {}IN ({}))",
                    if *neg { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            Expr::Between(x, lo, hi, neg) => write!(
                f,
                "({x} {}BETWEEN {lo} AND {hi})",
                if *neg { "NOT " } else { "" }
            ),
            Expr::Like(x, p, neg) => write!(
                f,
                "({x} {}LIKE {})",
                if *neg { "NOT " } else { "" },
                Lit::Text(p.clone())
            ),
            Expr::Func(func, args) => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                write!(
                    f,
                    "{}({})",
                    format!("{func:?}").to_lowercase(),
                    args.join(", ")
                )
            }
            Expr::Agg(a, None) => write!(f, "{}(*)", format!("{a:?}").to_lowercase()),
            Expr::Agg(AggFunc::CountDistinct, Some(x)) => write!(f, "count(DISTINCT {x})"),
            Expr::Agg(a, Some(x)) => write!(f, "{}({x})", format!("{a:?}").to_lowercase()),
            Expr::DateToDatetime(x) => write!(f, "CAST({x} AS TIMESTAMP)"),
            Expr::ToText(x) => write!(f, "CAST({x} AS TEXT)"),
            Expr::FirstBy(v, o) => write!(f, "first({v} ORDER BY {o})"),
            Expr::Case(arms, otherwise) => {
                write!(f, "CASE")?;
                for (c, v) in arms {
                    write!(f, " WHEN {c} THEN {v}")?;
                }
                write!(f, " ELSE {otherwise} END")
            }
        }
    }
}

impl Expr {
    /// Whether this is a measure: it aggregates, and reads no column outside an aggregate.
    pub fn is_measure(&self) -> bool {
        fn walk(e: &Expr, has_agg: &mut bool) -> bool {
            match e {
                Expr::Agg(..) | Expr::FirstBy(..) => {
                    *has_agg = true;
                    true
                }
                Expr::Col(_) => false,
                Expr::Lit(_) => true,
                Expr::Not(x)
                | Expr::Neg(x)
                | Expr::IsNull(x, _)
                | Expr::In(x, _, _)
                | Expr::Like(x, _, _)
                | Expr::DateToDatetime(x)
                | Expr::ToText(x) => walk(x, has_agg),
                Expr::Bin(_, a, b) => walk(a, has_agg) & walk(b, has_agg),
                Expr::Between(x, a, b, _) => walk(x, has_agg) & walk(a, has_agg) & walk(b, has_agg),
                Expr::Func(_, args) => args.iter().fold(true, |ok, a| walk(a, has_agg) & ok),
                Expr::Case(arms, o) => arms.iter().fold(walk(o, has_agg), |ok, (c, v)| {
                    walk(c, has_agg) & walk(v, has_agg) & ok
                }),
            }
        }
        let mut has_agg = false;
        walk(self, &mut has_agg) && has_agg
    }

    /// The same expression with every column renamed.
    pub fn map_columns(&self, f: &dyn Fn(&str) -> String) -> Expr {
        self.map_nodes(&mut |e| match e {
            Expr::Col(c) => Some(Expr::Col(f(c))),
            _ => None,
        })
    }

    /// The same expression with each node for which `f` gives a replacement replaced (its
    /// children not visited), every other node rebuilt around its mapped children.
    pub fn map_nodes(&self, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
        if let Some(e) = f(self) {
            return e;
        }
        let mut m = |x: &Expr| Box::new(x.map_nodes(f));
        match self {
            Expr::Col(c) => Expr::Col(c.clone()),
            Expr::Lit(l) => Expr::Lit(l.clone()),
            Expr::Not(x) => Expr::Not(m(x)),
            Expr::Neg(x) => Expr::Neg(m(x)),
            Expr::Bin(op, a, b) => Expr::Bin(*op, m(a), m(b)),
            Expr::IsNull(x, n) => Expr::IsNull(m(x), *n),
            Expr::In(x, l, n) => Expr::In(m(x), l.clone(), *n),
            Expr::Between(x, a, b, n) => Expr::Between(m(x), m(a), m(b), *n),
            Expr::Like(x, p, n) => Expr::Like(m(x), p.clone(), *n),
            Expr::Func(func, args) => Expr::Func(*func, args.iter().map(|a| *m(a)).collect()),
            Expr::Agg(a, x) => Expr::Agg(*a, x.as_ref().map(|x| m(x))),
            Expr::DateToDatetime(x) => Expr::DateToDatetime(m(x)),
            Expr::ToText(x) => Expr::ToText(m(x)),
            Expr::FirstBy(v, o) => Expr::FirstBy(m(v), m(o)),
            Expr::Case(arms, o) => {
                Expr::Case(arms.iter().map(|(c, v)| (*m(c), *m(v))).collect(), m(o))
            }
        }
    }

    /// Every column the expression reads.
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Expr::Col(c) => {
                if !out.contains(c) {
                    out.push(c.clone())
                }
            }
            Expr::Lit(_) | Expr::Agg(_, None) => {}
            Expr::Not(x)
            | Expr::Neg(x)
            | Expr::IsNull(x, _)
            | Expr::In(x, _, _)
            | Expr::Like(x, _, _)
            | Expr::DateToDatetime(x)
            | Expr::ToText(x) => x.columns(out),
            Expr::Agg(_, Some(x)) => x.columns(out),
            Expr::Bin(_, a, b) => {
                a.columns(out);
                b.columns(out);
            }
            Expr::Between(x, a, b, _) => {
                x.columns(out);
                a.columns(out);
                b.columns(out);
            }
            Expr::Func(_, args) => args.iter().for_each(|a| a.columns(out)),
            Expr::Case(arms, otherwise) => {
                for (c, v) in arms {
                    c.columns(out);
                    v.columns(out);
                }
                otherwise.columns(out);
            }
            Expr::FirstBy(v, o) => {
                v.columns(out);
                o.columns(out);
            }
        }
    }
}

#[cfg(test)]
mod tests;
