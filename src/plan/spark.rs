//! Lowering the logical plan to Spark SQL, beside the Polars lowering: one temporary view per
//! plan node, named `cc_<rule>_n<k>` in the order the nodes are met (deterministic), every
//! column named and every union column cast explicitly. Spark runs with ANSI semantics; where
//! ANSI and Polars differ (division by zero, the sum of no values, trimming, LIKE, the working
//! day calendar) the SQL spells out Polars' behaviour so both backends give the same leads.
//!
//! Column types come from the Polars lowering of the same node over empty frames, so the two
//! backends agree on the schema by construction, and results read back from Spark are cast to
//! the types a local run would have produced.

use std::collections::HashMap;

use polars::prelude::{DataFrame, DataType, IntoLazy, LazyFrame, Schema, TimeUnit};

use super::expr::{AggFunc, BinOp, Expr as E, Func, Lit};
use super::{JoinKind, Plan};

/// The one-row views holding the working-day calendar (created by the runner's setup), each
/// an array in column `v`.
pub const CALENDAR_CUM: &str = "__cc_workday_cum";
pub const CALENDAR_WORKDAY: &str = "__cc_workday";

/// What the runner does with a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// `CREATE OR REPLACE TEMPORARY VIEW name AS sql`.
    View,
    /// A query returning at most one row (`__gk0`…, `__pairs`): the key that would form the
    /// most pairs; the rule fails when `__pairs` exceeds `max_pairs`.
    Guard { max_pairs: u64 },
    /// A `link` run by the runner's linkage over two views (see the runner's `run_link`):
    /// `spec` says what to block, compare and estimate; the result becomes the view `name`.
    Link { spec: serde_json::Value },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub name: String,
    pub role: Role,
    pub sql: String,
}

/// A rule lowered to Spark SQL: its statements in order, and the view holding its result.
#[derive(Debug, Clone)]
pub struct SparkRule {
    pub statements: Vec<Statement>,
    pub result: String,
    /// The result's schema as a local run would produce it.
    pub schema: Schema,
}

/// A Spark identifier, backquoted (names such as `l.id_card` hold dots).
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A Spark string literal: Spark reads backslash escapes inside quotes.
pub fn text(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The Spark SQL type a Polars column type maps to.
pub fn spark_type(dt: &DataType) -> Result<&'static str, String> {
    Ok(match dt {
        DataType::Boolean => "BOOLEAN",
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "INT",
        DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "BIGINT",
        DataType::Float32 | DataType::Float64 => "DOUBLE",
        DataType::String => "STRING",
        DataType::Date => "DATE",
        DataType::Datetime(..) => "TIMESTAMP_NTZ",
        DataType::Null => "STRING",
        other => return Err(format!("no Spark type for the column type {other}")),
    })
}

/// Lowers one rule's plan. `frames` are empty frames with the inputs' schemas (each dataset
/// as the runner registers it, `__dataset` not included).
pub fn lower_rule(
    rule_id: &str,
    plan: &Plan,
    frames: &HashMap<String, LazyFrame>,
) -> Result<SparkRule, String> {
    let mut l = Lowering {
        rule: rule_id,
        frames,
        statements: Vec::new(),
        views: HashMap::new(),
    };
    let last = l.node(plan)?;
    let schema = l.schema(plan)?;
    // The result with the types a local run gives (a bare NULL column has none in Spark).
    let cols = schema
        .iter()
        .map(|(n, t)| {
            Ok(format!(
                "CAST({} AS {}) AS {}",
                ident(n),
                spark_type(t)?,
                ident(n)
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let result = l.view(format!("SELECT {} FROM {}", cols.join(", "), ident(&last)));
    Ok(SparkRule {
        statements: l.statements,
        result,
        schema,
    })
}

struct Lowering<'a> {
    rule: &'a str,
    frames: &'a HashMap<String, LazyFrame>,
    statements: Vec<Statement>,
    /// The view of each plan node already lowered (a guard and its join read the same
    /// sides): one view per node, whoever asks.
    views: HashMap<*const Plan, String>,
}

impl Lowering<'_> {
    fn schema(&self, plan: &Plan) -> Result<Schema, String> {
        let mut lf = super::lower::lower(plan, self.frames).map_err(|e| e.to_string())?;
        lf.collect_schema()
            .map(|s| s.as_ref().clone())
            .map_err(|e| e.to_string())
    }

    fn names(&self, plan: &Plan) -> Result<Vec<String>, String> {
        Ok(self
            .schema(plan)?
            .iter_names()
            .map(|n| n.to_string())
            .collect())
    }

    fn view(&mut self, sql: String) -> String {
        let name = format!("cc_{}_n{}", self.rule, self.statements.len());
        self.statements.push(Statement {
            name: name.clone(),
            role: Role::View,
            sql,
        });
        name
    }

    /// `SELECT` of every input column, replacing those named in `cols` in place and appending
    /// the others: Polars' `with_columns`.
    fn with_columns(&self, from: &str, names: &[String], cols: &[(String, String)]) -> String {
        let mut out: Vec<String> = names
            .iter()
            .map(|n| match cols.iter().find(|(c, _)| c == n) {
                Some((_, sql)) => format!("{sql} AS {}", ident(n)),
                None => ident(n),
            })
            .collect();
        for (n, sql) in cols {
            if !names.contains(n) {
                out.push(format!("{sql} AS {}", ident(n)));
            }
        }
        format!("SELECT {} FROM {}", out.join(", "), ident(from))
    }

    /// Lowers a node and returns the name of the view holding its rows.
    fn node(&mut self, plan: &Plan) -> Result<String, String> {
        if let Some(v) = self.views.get(&std::ptr::from_ref(plan)) {
            return Ok(v.clone());
        }
        let view = self.lower_node(plan)?;
        self.views.insert(std::ptr::from_ref(plan), view.clone());
        Ok(view)
    }

    fn lower_node(&mut self, plan: &Plan) -> Result<String, String> {
        Ok(match plan {
            // The runner registers each dataset as a view of its name, `__dataset` added.
            Plan::Scan { dataset } => dataset.clone(),
            Plan::Filter { input, predicate } => {
                let sc = self.schema(input)?;
                let from = self.node(input)?;
                let sql = format!(
                    "SELECT * FROM {} WHERE {}",
                    ident(&from),
                    expr(predicate, &sc)?
                );
                self.view(sql)
            }
            Plan::Prefix { input, prefix } => {
                let names = self.names(input)?;
                let from = self.node(input)?;
                let cols: Vec<String> = names
                    .iter()
                    .map(|n| format!("{} AS {}", ident(n), ident(&format!("{prefix}{n}"))))
                    .collect();
                self.view(format!("SELECT {} FROM {}", cols.join(", "), ident(&from)))
            }
            Plan::WithColumns { input, columns } => {
                let sc = self.schema(input)?;
                let names = self.names(input)?;
                let from = self.node(input)?;
                let cols = columns
                    .iter()
                    .map(|(n, e)| Ok((n.clone(), expr(e, &sc)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                let sql = self.with_columns(&from, &names, &cols);
                self.view(sql)
            }
            Plan::Project { input, columns } => {
                let sc = self.schema(input)?;
                let from = self.node(input)?;
                let cols = columns
                    .iter()
                    .map(|(n, e)| Ok(format!("{} AS {}", expr(e, &sc)?, ident(n))))
                    .collect::<Result<Vec<_>, String>>()?;
                self.view(format!("SELECT {} FROM {}", cols.join(", "), ident(&from)))
            }
            Plan::Join {
                left,
                right,
                kind,
                on,
            } => self.join(plan, left, right, *kind, on)?,
            Plan::Aggregate {
                input,
                keys,
                measures,
            } => {
                let sc = self.schema(input)?;
                let from = self.node(input)?;
                let key_sql = keys
                    .iter()
                    .map(|(_, e)| expr(e, &sc))
                    .collect::<Result<Vec<_>, String>>()?;
                let mut cols: Vec<String> = keys
                    .iter()
                    .zip(&key_sql)
                    .map(|((n, _), sql)| format!("{sql} AS {}", ident(n)))
                    .collect();
                for (n, e) in measures {
                    cols.push(format!("{} AS {}", expr(e, &sc)?, ident(n)));
                }
                let group = if key_sql.is_empty() {
                    String::new()
                } else {
                    format!(" GROUP BY {}", key_sql.join(", "))
                };
                self.view(format!(
                    "SELECT {} FROM {}{group}",
                    cols.join(", "),
                    ident(&from)
                ))
            }
            Plan::Union { inputs } => {
                let schema = self.schema(plan)?;
                let mut parts = Vec::new();
                for input in inputs {
                    let have = self.names(input)?;
                    let from = self.node(input)?;
                    let cols = schema
                        .iter()
                        .map(|(n, dt)| {
                            let value = if have.iter().any(|h| h == n.as_str()) {
                                ident(n)
                            } else {
                                "NULL".to_string()
                            };
                            Ok(format!(
                                "CAST({value} AS {}) AS {}",
                                spark_type(dt)?,
                                ident(n)
                            ))
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    parts.push(format!("SELECT {} FROM {}", cols.join(", "), ident(&from)));
                }
                self.view(parts.join("\nUNION ALL\n"))
            }
            Plan::Guard { input, max_pairs } => {
                let Plan::Join {
                    left, right, on, ..
                } = input.as_ref()
                else {
                    return Err("a guard must sit on a join (a bug in crosscheck)".into());
                };
                let (lsc, rsc) = (self.schema(left)?, self.schema(right)?);
                let (l, r) = (self.node(left)?, self.node(right)?);
                let side = |from: &str,
                            sc: &Schema,
                            pick: &dyn Fn(&(E, E)) -> &E|
                 -> Result<String, String> {
                    let keys = on
                        .iter()
                        .enumerate()
                        .map(|(i, k)| Ok(format!("{} AS __gk{i}", expr(pick(k), sc)?)))
                        .collect::<Result<Vec<_>, String>>()?;
                    let not_null: Vec<String> = (0..on.len())
                        .map(|i| format!("__gk{i} IS NOT NULL"))
                        .collect();
                    let gk: Vec<String> = (0..on.len()).map(|i| format!("__gk{i}")).collect();
                    Ok(format!(
                        "SELECT {gk}, CAST(count(*) AS DOUBLE) AS __n FROM (SELECT {} FROM {}) WHERE {} GROUP BY {gk}",
                        keys.join(", "),
                        ident(from),
                        not_null.join(" AND "),
                        gk = gk.join(", ")
                    ))
                };
                let (ls, rs) = (side(&l, &lsc, &|k| &k.0)?, side(&r, &rsc, &|k| &k.1)?);
                let cond: Vec<String> = (0..on.len())
                    .map(|i| format!("a.__gk{i} = b.__gk{i}"))
                    .collect();
                let keys: Vec<String> = (0..on.len())
                    .map(|i| format!("CAST(a.__gk{i} AS STRING) AS __gk{i}"))
                    .collect();
                let name = format!("cc_{}_n{}", self.rule, self.statements.len());
                self.statements.push(Statement {
                    name,
                    role: Role::Guard {
                        max_pairs: *max_pairs,
                    },
                    sql: format!(
                        "SELECT {}, a.__n * b.__n AS __pairs FROM ({ls}) a JOIN ({rs}) b ON {} ORDER BY __pairs DESC LIMIT 1",
                        keys.join(", "),
                        cond.join(" AND ")
                    ),
                });
                self.node(input)?
            }
            Plan::Link { left, right, link } => self.link(left, right, link)?,
            // Runs as written: the datasets are views of their own names.
            Plan::Sql { query, .. } => self.view(query.trim().trim_end_matches(';').to_string()),
        })
    }

    /// A `link`: each side as a view with the helper columns the local engine adds (the
    /// record's ID, the blocking keys and the compared values, as text), then a statement the
    /// runner carries out with its own linkage, pinned to `link::compare` by the differential
    /// tests. Deduplicating, the right side is the left one (as `check` requires).
    fn link(
        &mut self,
        left: &Plan,
        right: &Plan,
        link: &super::link::LinkPlan,
    ) -> Result<String, String> {
        use super::link::{compare, estimate, exec};
        let side = |this: &mut Self, plan: &Plan, left_side: bool| {
            let sc = this.schema(plan)?;
            let names = this.names(plan)?;
            let from = this.node(plan)?;
            // As text, as the local engine reads them (`exec::texts`).
            let cols = link
                .helper_columns(left_side)
                .into_iter()
                .map(|(name, e)| Ok((name, format!("CAST({} AS STRING)", expr(e, &sc)?))))
                .collect::<Result<Vec<_>, String>>()?;
            let sql = this.with_columns(&from, &names, &cols);
            Ok::<String, String>(this.view(sql))
        };
        let l = side(self, left, true)?;
        let r = if link.dedupe {
            l.clone()
        } else {
            side(self, right, false)?
        };
        let fields: Vec<serde_json::Value> = link
            .compare
            .iter()
            .map(|c| {
                let labels = c.labels();
                serde_json::json!({
                    "field": c.field,
                    "method": c.method,
                    "thresholds": c.thresholds.as_ref().filter(|_| compare::takes_thresholds(c.method)),
                    "term_frequency": c.term_frequency,
                    "labels": labels,
                    "u_default": compare::u_default_for(c.method, labels.len()),
                    "m_start": estimate::m_start(labels.len()),
                    "fixed_m": c.fixed_m,
                    "fixed_u": c.fixed_u,
                })
            })
            .collect();
        let spec = serde_json::json!({
            "rule": link.rule,
            "left": l,
            "right": r,
            "dedupe": link.dedupe,
            "id_left": exec::id_shown(&link.ids.0),
            "id_right": exec::id_shown(&link.ids.1),
            "blocking": link.blocking.iter().map(|b| serde_json::json!({"text": b.text, "parts": b.on.len()})).collect::<Vec<_>>(),
            "compare": fields,
            "threshold": link.threshold,
            "prior": link.prior,
            "u_sample": link.u_sample,
            "max_pairs": link.max_pairs,
        });
        let name = format!("cc_{}_n{}", self.rule, self.statements.len());
        self.statements.push(Statement {
            name: name.clone(),
            role: Role::Link { spec },
            sql: format!("-- {link}"),
        });
        Ok(name)
    }

    fn join(
        &mut self,
        plan: &Plan,
        left: &Plan,
        right: &Plan,
        kind: JoinKind,
        on: &[(E, E)],
    ) -> Result<String, String> {
        let key_names: Vec<String> = (0..on.len()).map(|i| format!("__jk{i}")).collect();
        let (lsc, rsc) = (self.schema(left)?, self.schema(right)?);
        let (lnames, rnames) = (self.names(left)?, self.names(right)?);
        let (lv, rv) = (self.node(left)?, self.node(right)?);
        let keyed = |from: &str,
                     names: &[String],
                     sc: &Schema,
                     side: usize|
         -> Result<(String, Vec<String>), String> {
            let cols = on
                .iter()
                .zip(&key_names)
                .map(|(k, n)| Ok((n.clone(), expr(if side == 0 { &k.0 } else { &k.1 }, sc)?)))
                .collect::<Result<Vec<_>, String>>()?;
            let sql = self.with_columns(from, names, &cols);
            let mut all = names.to_vec();
            all.extend(key_names.iter().filter(|k| !names.contains(k)).cloned());
            Ok((sql, all))
        };
        let (lsql, lall) = keyed(&lv, &lnames, &lsc, 0)?;
        let (rsql, rall) = keyed(&rv, &rnames, &rsc, 1)?;
        // Equality never matches NULL keys, as in Polars.
        let cond: Vec<String> = key_names
            .iter()
            .map(|k| format!("l.{k} = r.{k}", k = ident(k)))
            .collect();
        let out = self.names(plan)?;
        let (how, right_cols): (&str, Vec<&String>) = match kind {
            JoinKind::Inner => (
                "JOIN",
                rall.iter().filter(|n| !key_names.contains(n)).collect(),
            ),
            JoinKind::Semi => ("LEFT SEMI JOIN", Vec::new()),
            JoinKind::Anti => ("LEFT ANTI JOIN", Vec::new()),
        };
        if out.len() != lall.len() + right_cols.len() {
            return Err(format!(
                "the join's columns do not line up with Polars' ({} vs {}; a bug in crosscheck)",
                out.len(),
                lall.len() + right_cols.len()
            ));
        }
        // Polars names a right column clashing with a left one `<name>_right`: take its names.
        let sources = lall
            .iter()
            .map(|n| format!("l.{}", ident(n)))
            .chain(right_cols.iter().map(|n| format!("r.{}", ident(n))));
        let cols: Vec<String> = sources
            .zip(&out)
            .map(|(s, n)| format!("{s} AS {}", ident(n)))
            .collect();
        Ok(self.view(format!(
            "SELECT {} FROM ({lsql}) l {how} ({rsql}) r ON {}",
            cols.join(", "),
            cond.join(" AND ")
        )))
    }
}

fn literal(l: &Lit) -> String {
    match l {
        Lit::Null => "NULL".into(),
        Lit::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Lit::Int(i) => format!("{i}L"),
        Lit::Float(f) if f.is_finite() => format!("{f:?}D"),
        Lit::Float(f) => format!("double({})", text(&f.to_string())),
        Lit::Text(s) => text(s),
        Lit::Date(_) => l.to_string(),
    }
}

/// Polars divides floats the IEEE way (x / 0 is ±inf or NaN); ANSI Spark raises an error.
fn divide(a: &str, b: &str) -> String {
    format!(
        "CASE WHEN CAST({b} AS DOUBLE) = 0D THEN CAST({a} AS DOUBLE) * double('Infinity') ELSE CAST({a} AS DOUBLE) / CAST({b} AS DOUBLE) END"
    )
}

/// Lowers one expression to Spark SQL.
pub fn expr(e: &E, sc: &Schema) -> Result<String, String> {
    Ok(match e {
        E::Col(c) => ident(c),
        E::Lit(l) => literal(l),
        E::Not(x) => format!("(NOT {})", expr(x, sc)?),
        E::Neg(x) => format!("(0 - {})", expr(x, sc)?),
        E::Bin(op, a, b) => {
            let (a, b) = (expr(a, sc)?, expr(b, sc)?);
            match op {
                BinOp::Div => divide(&a, &b),
                BinOp::Concat => format!("concat(CAST({a} AS STRING), CAST({b} AS STRING))"),
                op => format!("({a} {} {b})", op.symbol()),
            }
        }
        E::IsNull(x, false) => format!("({} IS NULL)", expr(x, sc)?),
        E::IsNull(x, true) => format!("({} IS NOT NULL)", expr(x, sc)?),
        E::In(x, list, negated) => {
            let items: Vec<String> = list.iter().map(literal).collect();
            let not = if *negated { "NOT " } else { "" };
            format!("({} {not}IN ({}))", expr(x, sc)?, items.join(", "))
        }
        E::Between(x, lo, hi, negated) => {
            let b = format!(
                "({} BETWEEN {} AND {})",
                expr(x, sc)?,
                expr(lo, sc)?,
                expr(hi, sc)?
            );
            if *negated { format!("(NOT {b})") } else { b }
        }
        // The same anchored regex as the Polars lowering: LIKE's own escape character would
        // read a backslash in the pattern differently.
        E::Like(x, pattern, negated) => {
            let m = format!(
                "({} RLIKE {})",
                expr(x, sc)?,
                text(&super::lower::like_to_regex(pattern))
            );
            if *negated { format!("(NOT {m})") } else { m }
        }
        E::Func(f, args) => func(*f, args, sc)?,
        E::Agg(a, arg) => {
            let x = arg.as_deref().map(|a| expr(a, sc)).transpose()?;
            match (a, x) {
                (AggFunc::Count, None) | (_, None) => "count(*)".into(),
                (AggFunc::Count, Some(x)) => format!("count({x})"),
                (AggFunc::CountDistinct, Some(x)) => format!("count(DISTINCT {x})"),
                // Polars sums no values to 0, SQL to NULL.
                (AggFunc::Sum, Some(x)) => format!("coalesce(sum({x}), 0)"),
                (AggFunc::Avg, Some(x)) => format!("avg({x})"),
                (AggFunc::Min, Some(x)) => format!("min({x})"),
                (AggFunc::Max, Some(x)) => format!("max({x})"),
                (AggFunc::BenfordMad, Some(x)) => {
                    let d = first_digit(&x);
                    let n = format!("CAST(count({d}) AS DOUBLE)");
                    let terms: Vec<String> = (1..=9)
                        .map(|k: i64| {
                            let share =
                                divide(&format!("sum(CASE WHEN {d} = {k} THEN 1 ELSE 0 END)"), &n);
                            format!("abs({share} - {:?}D)", (1.0 + 1.0 / k as f64).log10())
                        })
                        .collect();
                    format!("(({}) / 9.0D)", terms.join(" + "))
                }
            }
        }
        E::DateToDatetime(x) => format!("CAST({} AS TIMESTAMP_NTZ)", expr(x, sc)?),
        // Timestamps as Polars writes them, milliseconds included.
        E::ToText(x) => match type_of(x, sc)? {
            DataType::Datetime(unit, _) => format!(
                "date_format({}, {})",
                expr(x, sc)?,
                text(match unit {
                    TimeUnit::Milliseconds => "yyyy-MM-dd HH:mm:ss.SSS",
                    TimeUnit::Microseconds => "yyyy-MM-dd HH:mm:ss.SSSSSS",
                    TimeUnit::Nanoseconds => "yyyy-MM-dd HH:mm:ss.SSSSSSSSS",
                })
            ),
            _ => format!("CAST({} AS STRING)", expr(x, sc)?),
        },
        // The record with the smallest ordering value (a row id: unique, never NULL).
        E::FirstBy(v, o) => format!("min_by({}, {})", expr(v, sc)?, expr(o, sc)?),
        E::Case(arms, otherwise) => {
            let mut s = String::from("CASE");
            for (c, v) in arms {
                s.push_str(&format!(" WHEN {} THEN {}", expr(c, sc)?, expr(v, sc)?));
            }
            s.push_str(&format!(" ELSE {} END", expr(otherwise, sc)?));
            s
        }
    })
}

/// The first significant digit (1–9) of a number, NULL for zero and NULL.
fn first_digit(x: &str) -> String {
    format!(
        "CAST(NULLIF(regexp_extract(CAST(abs(CAST({x} AS DOUBLE)) AS STRING), {}, 1), '') AS BIGINT)",
        text("([1-9])")
    )
}

fn func(f: Func, args: &[E], sc: &Schema) -> Result<String, String> {
    let a = args
        .iter()
        .map(|x| expr(x, sc))
        .collect::<Result<Vec<_>, String>>()?;
    let ym = |x: &str| format!("(CAST(year({x}) AS BIGINT) * 12 + CAST(month({x}) AS BIGINT))");
    Ok(match f {
        Func::Year => format!("CAST(year({}) AS BIGINT)", a[0]),
        Func::Month => format!("CAST(month({}) AS BIGINT)", a[0]),
        Func::Day => format!("CAST(day({}) AS BIGINT)", a[0]),
        Func::YearMonth => format!(
            "(CAST(year({x}) AS BIGINT) * 100 + CAST(month({x}) AS BIGINT))",
            x = a[0]
        ),
        Func::MonthsBetween => format!("({} - {})", ym(&a[1]), ym(&a[0])),
        Func::DaysBetween => format!(
            "CAST(datediff(CAST({} AS DATE), CAST({} AS DATE)) AS BIGINT)",
            a[1], a[0]
        ),
        // The runner's functions, over the tables of `names::tables` (`names.json`).
        Func::NameFold => format!("cc_name_fold(CAST({} AS STRING))", a[0]),
        Func::Pinyin => format!("cc_pinyin(CAST({} AS STRING))", a[0]),
        Func::Upper => format!("upper({})", a[0]),
        Func::Lower => format!("lower({})", a[0]),
        // Polars strips Unicode whitespace; Spark's trim only spaces.
        Func::Trim => format!("regexp_replace({}, {}, '')", a[0], text(r"(?U)^\s+|\s+$")),
        Func::Length => format!("CAST(char_length({}) AS BIGINT)", a[0]),
        Func::Substr => match a.get(2) {
            Some(len) => format!("substring({}, {}, {len})", a[0], a[1]),
            None => format!("substring({}, {})", a[0], a[1]),
        },
        Func::Concat => format!(
            "concat({})",
            a.iter()
                .map(|x| format!("CAST({x} AS STRING)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Func::Coalesce => format!("coalesce({})", a.join(", ")),
        Func::Greatest => format!("greatest({})", a.join(", ")),
        Func::Least => format!("least({})", a.join(", ")),
        Func::Abs => format!("abs({})", a[0]),
        Func::Round => {
            let digits = match args.get(1) {
                Some(E::Lit(Lit::Int(d))) => (*d).clamp(0, 15),
                _ => 0,
            };
            format!("round(CAST({} AS DOUBLE), {digits})", a[0])
        }
        Func::HoursBetween => {
            // The session time zone is UTC, so a timestamp without zone converts unchanged.
            let ms = |x: &str| format!("unix_millis(CAST({x} AS TIMESTAMP))");
            format!(
                "(CAST({} - {} AS DOUBLE) / 3600000.0D)",
                ms(&a[1]),
                ms(&a[0])
            )
        }
        Func::FirstDigit => first_digit(&a[0]),
        // NULL when either date is NULL, before looking either up: as in Polars, a missing
        // date is no count, not an error about the other one.
        Func::WorkingDays => format!(
            "CASE WHEN {} IS NULL OR {} IS NULL THEN NULL ELSE {} - {} END",
            a[0],
            a[1],
            calendar(CALENDAR_CUM, "working_days", &a[1]),
            calendar(CALENDAR_CUM, "working_days", &a[0])
        ),
        Func::IsWorkday => calendar(CALENDAR_WORKDAY, "is_workday", &a[0]),
        Func::Stratum => {
            let x = format!("CAST({} AS DOUBLE)", a[0]);
            let (bands, top) = super::lower::stratum_bands(args);
            let mut s = format!("CASE WHEN {x} IS NULL THEN CAST(NULL AS STRING)");
            for (upper, label) in &bands {
                s.push_str(&format!(" WHEN {x} < {upper:?}D THEN {}", text(label)));
            }
            s.push_str(&format!(" ELSE {} END", text(&top)));
            s
        }
        Func::IdValid => {
            const WEIGHTS: [i64; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let x = &a[0];
            let sum: Vec<String> = WEIGHTS
                .iter()
                .enumerate()
                .map(|(i, w)| format!("try_cast(substring({x}, {}, 1) AS BIGINT) * {w}", i + 1))
                .collect();
            format!(
                "CASE WHEN {x} RLIKE {} THEN substring('10X98765432', pmod({}, 11) + 1, 1) = substring({x}, 18, 1) ELSE FALSE END",
                text("^[0-9]{17}[0-9X]$"),
                sum.join(" + ")
            )
        }
        Func::CharDiff => {
            let (x, y) = (&a[0], &a[1]);
            let mut s = format!("abs(char_length({x}) - char_length({y}))");
            for i in 1..=18 {
                let (cx, cy) = (
                    format!("substring({x}, {i}, 1)"),
                    format!("substring({y}, {i}, 1)"),
                );
                s.push_str(&format!(
                    " + CAST(({cx} <> {cy}) AND char_length({cx}) > 0 AND char_length({cy}) > 0 AS BIGINT)"
                ));
            }
            format!("CAST({s} AS BIGINT)")
        }
    })
}

/// A lookup in the working-day calendar (an array, in a one-row view, indexed by days since its
/// first day); a date outside it stops the rule with the same words as a local run.
fn calendar(view: &str, name: &str, x: &str) -> String {
    let var = format!("(SELECT v FROM {view})");
    let first = format!("DATE '{}-01-01'", crate::calendar::FIRST_YEAR);
    let i = format!("(datediff(CAST({x} AS DATE), {first}) + 1)");
    let outside = format!(
        "concat({}, CAST(CAST({x} AS DATE) AS STRING), {})",
        text(&format!("{name}: ")),
        text(&format!(
            " is outside{}",
            crate::calendar::out_of_range(0)
                .split_once(" is outside")
                .map_or("", |(_, rest)| rest)
        ))
    );
    format!(
        "CASE WHEN {x} IS NULL THEN NULL WHEN {i} < 1 OR {i} > size({var}) THEN raise_error({outside}) ELSE element_at({var}, {i}) END"
    )
}

/// The type Polars gives an expression over a schema.
fn type_of(e: &E, sc: &Schema) -> Result<DataType, String> {
    let mut lf = DataFrame::empty_with_schema(sc)
        .lazy()
        .select([super::lower::expr(e).alias("__t")]);
    let out = lf.collect_schema().map_err(|e| e.to_string())?;
    Ok(out.get("__t").cloned().unwrap_or(DataType::Null))
}

const SPARK_FUNCTIONS: &str = include_str!("spark_functions.txt");

/// Words followed by `(` that are syntax, not function calls.
const SYNTAX: &[&str] = &[
    "and",
    "as",
    "all",
    "any",
    "between",
    "by",
    "else",
    "exists",
    "filter",
    "from",
    "in",
    "into",
    "join",
    "not",
    "on",
    "or",
    "over",
    "partition",
    "select",
    "some",
    "table",
    "then",
    "try_cast",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// A query's tokens with their places, whitespace left out; none if it does not tokenize
/// (parsing it reports that).
fn query_tokens(query: &str) -> Vec<sqlparser::tokenizer::TokenWithSpan> {
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};
    Tokenizer::new(&GenericDialect {}, query)
        .tokenize_with_location()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect()
}

/// The calls among a query's tokens: each unquoted word followed by `(`, with its position.
fn calls(
    words: &[sqlparser::tokenizer::TokenWithSpan],
) -> Vec<(usize, &sqlparser::tokenizer::Word)> {
    use sqlparser::tokenizer::Token;
    words
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match &t.token {
            Token::Word(w)
                if w.quote_style.is_none()
                    && matches!(words.get(i + 1).map(|n| &n.token), Some(Token::LParen)) =>
            {
                Some((i, w))
            }
            _ => None,
        })
        .collect()
}

/// The functions an `sql` rule's query calls that Spark SQL does not have, with their line
/// and column in the query: the construct that stops the query from running on Spark as
/// written.
pub fn unsupported_functions(query: &str) -> Vec<(u64, u64, String)> {
    let known: std::collections::HashSet<&str> = SPARK_FUNCTIONS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let words = query_tokens(query);
    let mut out = Vec::new();
    for (i, w) in calls(&words) {
        let t = &words[i];
        // `x.y(` is not a call Spark would resolve either, but Polars SQL has none such.
        let name = w.value.to_lowercase();
        if SYNTAX.contains(&name.as_str()) || known.contains(name.as_str()) {
            continue;
        }
        out.push((
            t.span.start.line,
            t.span.start.column,
            format!(
                "`{}` is not a Spark SQL function: the query runs on Polars but not on Spark as written",
                w.value
            ),
        ));
    }
    out
}

/// Where an `sql` rule's query means something else on Spark than on Polars, with line and
/// column: both run it, and the leads differ without an error. Measured on Polars 0.55 and
/// Spark 4: `SUBSTR(s, 0, n)` is `n - 1` characters on Polars and `n` on Spark (Spark reads
/// a start of 0 as 1), and `ROUND` rounds a half to even on Polars (2.5 → 2) and up on Spark
/// (2.5 → 3). Division agrees (both divide integers exactly, 1 / 2 = 0.5).
pub fn dialect_differences(query: &str) -> Vec<(u64, u64, String)> {
    use sqlparser::tokenizer::Token;
    let words = query_tokens(query);
    let mut out = Vec::new();
    for (i, w) in calls(&words) {
        let t = &words[i];
        let at = (t.span.start.line, t.span.start.column);
        match w.value.to_lowercase().as_str() {
            "round" => out.push((
                at.0,
                at.1,
                "ROUND rounds a half to even on Polars (2.5 → 2) and up on Spark (2.5 → 3): \
                 the two engines can give different leads; use FLOOR(x + 0.5) for halves up on \
                 both"
                    .to_string(),
            )),
            "substr" | "substring" => {
                // The second argument, after the first top-level `,` or `FROM`.
                let mut depth = 0;
                let mut start = None;
                for (j, a) in words.iter().enumerate().skip(i + 2) {
                    match &a.token {
                        Token::LParen => depth += 1,
                        Token::RParen if depth == 0 => break,
                        Token::RParen => depth -= 1,
                        Token::Comma if depth == 0 => {
                            start = Some(j + 1);
                            break;
                        }
                        Token::Word(k) if depth == 0 && k.value.eq_ignore_ascii_case("from") => {
                            start = Some(j + 1);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(s) = start else { continue };
                let (negative, number) = match words.get(s).map(|a| &a.token) {
                    Some(Token::Minus) => (true, words.get(s + 1).map(|a| &a.token)),
                    other => (false, other),
                };
                if let Some(Token::Number(n, _)) = number
                    && (negative || n.parse::<f64>().is_ok_and(|v| v <= 0.0))
                {
                    out.push((
                        at.0,
                        at.1,
                        format!(
                            "SUBSTR from position {}{n}: Polars counts it as a character before \
                             the first and returns one fewer, Spark starts at the first; \
                             positions start at 1",
                            if negative { "-" } else { "" }
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// The `sql` queries inside a plan.
pub fn sql_queries(plan: &Plan) -> Vec<&str> {
    match plan {
        Plan::Sql { query, .. } => vec![query.as_str()],
        _ => plan.inputs().into_iter().flat_map(sql_queries).collect(),
    }
}

/// Why a rule cannot run on Spark as written, if it cannot: the first unsupported construct
/// of its queries, then anything the lowering refuses.
pub fn refusal(
    rule_id: &str,
    plan: &Plan,
    frames: &HashMap<String, LazyFrame>,
) -> Result<SparkRule, String> {
    for q in sql_queries(plan) {
        if let Some((line, column, why)) = unsupported_functions(q).into_iter().next() {
            return Err(format!("the query's line {line}, column {column}: {why}"));
        }
    }
    lower_rule(rule_id, plan, frames)
}

#[cfg(test)]
mod dialect_tests {
    use super::dialect_differences;

    #[test]
    fn substrings_from_zero_and_rounding_are_the_known_differences() {
        let q = "SELECT id_card FROM p\nWHERE SUBSTR(id_card, 0, 4) = '3201'\n  AND ROUND(x + 0.5) > 2\n  AND substring(name FROM -1 FOR 2) = 'a'\n  AND SUBSTR(id_card, 1, 4) = '3201' AND substr(concat(a, b), 2) = 'x'";
        let found: Vec<(u64, u64, bool)> = dialect_differences(q)
            .into_iter()
            .map(|(l, c, why)| (l, c, why.starts_with("SUBSTR")))
            .collect();
        assert_eq!(found, [(2, 7, true), (3, 7, false), (4, 7, true)]);
        assert!(dialect_differences("SELECT floor(x + 0.5), x / 2, 'round(' FROM p").is_empty());
    }
}
