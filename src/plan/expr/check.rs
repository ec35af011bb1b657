//! Parsing and type-checking an expression against the columns in scope: SQL text (parsed by
//! `sqlparser`) to the typed tree, every problem positioned in the expression text.

use super::*;

/// What names an expression may use.
pub struct Scope<'a> {
    /// Unqualified columns (single-dataset kinds, or measures).
    pub columns: Vec<(String, ValueType)>,
    /// `l.` and `r.` columns (pair kinds).
    pub left: Option<&'a [(String, ValueType)]>,
    pub right: Option<&'a [(String, ValueType)]>,
    pub left_name: &'a str,
    pub right_name: &'a str,
    pub params: std::rc::Rc<Vec<(String, ValueType, Lit)>>,
    pub allow_aggregates: bool,
}

/// A problem inside an expression, positioned relative to the expression text (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub help: Option<String>,
}

pub(super) fn err_at(span: sqlparser::tokenizer::Span, message: impl Into<String>) -> ExprError {
    ExprError {
        line: span.start.line.max(1),
        column: span.start.column.max(1),
        message: message.into(),
        help: None,
    }
}

impl ExprError {
    pub(super) fn help(mut self, h: impl Into<String>) -> Self {
        self.help = Some(h.into());
        self
    }
}

/// Parses and type-checks one expression.
pub fn compile(text: &str, scope: &Scope) -> Result<(Expr, ValueType), ExprError> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(parse_error)?;
    let ast = parser.parse_expr().map_err(parse_error)?;
    let next = parser.peek_token();
    if next.token != sqlparser::tokenizer::Token::EOF {
        return Err(err_at(
            next.span,
            format!("unexpected `{}` after the expression", next.token),
        )
        .help("join conditions with AND / OR"));
    }
    Compiler { scope }.expr(&ast)
}

pub(super) fn parse_error(e: sqlparser::parser::ParserError) -> ExprError {
    let msg = e.to_string();
    let msg = msg
        .strip_prefix("sql parser error: ")
        .unwrap_or(&msg)
        .to_string();
    // sqlparser appends " at Line: L, Column: C".
    let (line, column, message) = match msg.rfind(" at Line: ") {
        Some(i) => {
            let pos = &msg[i + 10..];
            let mut parts = pos.split(", Column: ");
            let l = parts
                .next()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1);
            let c = parts
                .next()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1);
            (l, c, msg[..i].to_string())
        }
        None => (1, 1, msg),
    };
    ExprError {
        line,
        column,
        message: format!("syntax error: {message}"),
        help: None,
    }
}

pub(super) struct Compiler<'a> {
    pub(super) scope: &'a Scope<'a>,
}

pub(super) fn is_numeric(t: ValueType) -> bool {
    matches!(t, ValueType::Int | ValueType::Float)
}

/// Parses a text literal as a date, the way an analyst writes it.
pub(super) fn date_literal(s: &str) -> Option<i32> {
    use chrono::Datelike;
    let d =
        crate::ingest::normalize::parse_date(crate::ingest::normalize::CellRef::Text(s)).ok()??;
    Some(d.num_days_from_ce() - 719_163)
}

impl Compiler<'_> {
    pub(super) fn expr(&self, e: &sql::Expr) -> Result<(Expr, ValueType), ExprError> {
        use sql::Expr as S;
        match e {
            S::Identifier(id) => self.column(None, id),
            S::CompoundIdentifier(parts) => match parts.as_slice() {
                [side, name] => self.column(Some(side), name),
                _ => Err(err_at(e.span(), format!("`{e}` is not a column"))
                    .help("write `column`, or `l.column` / `r.column`")),
            },
            S::Value(v) => self.value(v),
            S::Nested(inner) => self.expr(inner),
            S::UnaryOp { op, expr } => {
                let (x, t) = self.expr(expr)?;
                match op {
                    sql::UnaryOperator::Not => {
                        self.expect_bool(expr, t)?;
                        Ok((Expr::Not(Box::new(x)), ValueType::Bool))
                    }
                    sql::UnaryOperator::Minus if is_numeric(t) => Ok((Expr::Neg(Box::new(x)), t)),
                    sql::UnaryOperator::Plus if is_numeric(t) => Ok((x, t)),
                    _ => Err(err_at(e.span(), format!("`{op}` cannot apply to a {t}"))),
                }
            }
            S::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            S::IsNull(x) | S::IsNotNull(x) => {
                let (x, _) = self.expr(x)?;
                Ok((
                    Expr::IsNull(Box::new(x), matches!(e, S::IsNotNull(_))),
                    ValueType::Bool,
                ))
            }
            S::InList {
                expr,
                list,
                negated,
            } => {
                let (x, t) = self.expr(expr)?;
                let mut lits = Vec::new();
                for item in list {
                    let (l, lt) = self.expr(item)?;
                    let Expr::Lit(lit) = l else {
                        return Err(err_at(
                            item.span(),
                            "IN lists hold literals or :params only",
                        ));
                    };
                    lits.push(self.coerce_literal(item, lit, lt, t)?);
                }
                Ok((Expr::In(Box::new(x), lits, *negated), ValueType::Bool))
            }
            S::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, t) = self.expr(expr)?;
                let lo = self.operand_like(low, t)?;
                let hi = self.operand_like(high, t)?;
                Ok((
                    Expr::Between(Box::new(x), Box::new(lo), Box::new(hi), *negated),
                    ValueType::Bool,
                ))
            }
            S::Like {
                negated,
                expr,
                pattern,
                escape_char: None,
                any: false,
            } => {
                let (x, t) = self.expr(expr)?;
                if t != ValueType::Text {
                    return Err(err_at(
                        expr.span(),
                        format!("LIKE needs text, `{expr}` is a {t}"),
                    ));
                }
                match self.expr(pattern)? {
                    (Expr::Lit(Lit::Text(p)), _) => {
                        Ok((Expr::Like(Box::new(x), p, *negated), ValueType::Bool))
                    }
                    _ => Err(err_at(
                        pattern.span(),
                        "LIKE patterns are text literals such as '%镇%'",
                    )),
                }
            }
            S::Function(f) => self.function(e, f),
            S::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut raw: Vec<&sql::Expr> = vec![expr];
                raw.extend(substring_from.as_deref());
                raw.extend(substring_for.as_deref());
                self.call(e, "substr", e.span(), &raw, false, false)
            }
            S::Trim {
                trim_where: None,
                trim_what: None,
                trim_characters: None,
                expr,
            } => self.call(e, "trim", e.span(), &[expr], false, false),
            S::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut arms = Vec::new();
                let mut ty = ValueType::Null;
                for w in conditions {
                    let cond = match operand {
                        // CASE x WHEN v THEN … is CASE WHEN x = v THEN …
                        Some(op) => {
                            let eq = sql::Expr::BinaryOp {
                                left: op.clone(),
                                op: sql::BinaryOperator::Eq,
                                right: Box::new(w.condition.clone()),
                            };
                            self.expr(&eq)?
                        }
                        None => self.expr(&w.condition)?,
                    };
                    self.expect_bool(&w.condition, cond.1)?;
                    let (v, vt) = self.expr(&w.result)?;
                    if ty == ValueType::Null {
                        ty = vt;
                    } else if !comparable(ty, vt) {
                        return Err(err_at(
                            w.result.span(),
                            format!("CASE mixes a {ty} and a {vt}"),
                        ));
                    }
                    arms.push((cond.0, v));
                }
                let otherwise = match else_result {
                    Some(x) => {
                        let (v, vt) = self.expr(x)?;
                        if ty != ValueType::Null && !comparable(ty, vt) {
                            return Err(err_at(x.span(), format!("CASE mixes a {ty} and a {vt}")));
                        }
                        v
                    }
                    None => Expr::Lit(Lit::Null),
                };
                Ok((Expr::Case(arms, Box::new(otherwise)), ty))
            }
            _ => Err(err_at(
                e.span(),
                format!("`{e}` is not supported in rule expressions"),
            )
            .help(
                "see the README's expression reference for the operators and functions available",
            )),
        }
    }

    pub(super) fn column(
        &self,
        side: Option<&sql::Ident>,
        name: &sql::Ident,
    ) -> Result<(Expr, ValueType), ExprError> {
        let span = side.map(|s| s.span.union(&name.span)).unwrap_or(name.span);
        let lookup = |cols: &[(String, ValueType)],
                      prefix: &str,
                      dataset: &str|
         -> Result<(Expr, ValueType), ExprError> {
            match cols.iter().find(|(c, _)| *c == name.value) {
                Some((c, t)) => Ok((Expr::Col(format!("{prefix}{c}")), *t)),
                None => {
                    let mut e = err_at(
                        name.span,
                        format!("unknown column `{}` in dataset `{dataset}`", name.value),
                    );
                    if let Some(n) = nearest(&name.value, cols.iter().map(|(c, _)| c.as_str())) {
                        e = e.help(format!("did you mean `{prefix}{n}`?"));
                    } else {
                        let names: Vec<&str> = cols
                            .iter()
                            .map(|(c, _)| c.as_str())
                            .filter(|c| !c.starts_with("__"))
                            .collect();
                        e = e.help(format!("columns of `{dataset}`: {}", names.join(", ")));
                    }
                    Err(e)
                }
            }
        };
        match side.map(|s| s.value.as_str()) {
            None => {
                if self.scope.left.is_some()
                    && !self.scope.columns.iter().any(|(c, _)| *c == name.value)
                {
                    return Err(err_at(
                        span,
                        format!("`{}` must say which side it comes from", name.value),
                    )
                    .help(format!(
                        "write `l.{0}` ({1}) or `r.{0}` ({2})",
                        name.value, self.scope.left_name, self.scope.right_name
                    )));
                }
                lookup(&self.scope.columns, "", self.scope.left_name)
            }
            Some("l") => match self.scope.left {
                Some(cols) => lookup(cols, "l.", self.scope.left_name),
                None => Err(
                    err_at(span, "`l.` is only for rules that compare two datasets")
                        .help(format!("write `{}`", name.value)),
                ),
            },
            Some("r") => match self.scope.right {
                Some(cols) => lookup(cols, "r.", self.scope.right_name),
                None => Err(
                    err_at(span, "`r.` is only for rules that compare two datasets")
                        .help(format!("write `{}`", name.value)),
                ),
            },
            Some(other) => Err(err_at(span, format!("unknown side `{other}.`"))
                .help("use `l.` for the left dataset, `r.` for the right")),
        }
    }

    pub(super) fn value(&self, v: &sql::ValueWithSpan) -> Result<(Expr, ValueType), ExprError> {
        use sql::Value as V;
        let lit = match &v.value {
            V::Number(n, _) => {
                let s = n.to_string();
                match s.parse::<i64>() {
                    Ok(i) => (Lit::Int(i), ValueType::Int),
                    Err(_) => (
                        Lit::Float(
                            s.parse()
                                .map_err(|_| err_at(v.span, format!("bad number {s}")))?,
                        ),
                        ValueType::Float,
                    ),
                }
            }
            V::SingleQuotedString(s) => (Lit::Text(s.clone()), ValueType::Text),
            V::DoubleQuotedString(s) => {
                return Err(err_at(
                    v.span,
                    format!("\"{s}\" is a quoted name; text literals use single quotes"),
                )
                .help(format!("write '{s}'")));
            }
            V::Boolean(b) => (Lit::Bool(*b), ValueType::Bool),
            V::Null => (Lit::Null, ValueType::Null),
            V::Placeholder(p) => {
                let name = p.trim_start_matches([':', '$', '@']);
                match self.scope.params.iter().find(|(n, _, _)| n == name) {
                    Some((_, t, lit)) => (lit.clone(), *t),
                    None => {
                        let mut e = err_at(v.span, format!("unknown parameter `:{name}`"));
                        e = match nearest(
                            name,
                            self.scope.params.iter().map(|(n, _, _)| n.as_str()),
                        ) {
                            Some(n) => e.help(format!("did you mean `:{n}`?")),
                            None => e.help("declare it under `params:` in the rule"),
                        };
                        return Err(e);
                    }
                }
            }
            other => {
                return Err(err_at(
                    v.span,
                    format!("literal `{other}` is not supported"),
                ));
            }
        };
        Ok((Expr::Lit(lit.0), lit.1))
    }

    pub(super) fn expect_bool(&self, e: &sql::Expr, t: ValueType) -> Result<(), ExprError> {
        if matches!(t, ValueType::Bool | ValueType::Null) {
            Ok(())
        } else {
            Err(err_at(
                e.span(),
                format!("`{e}` is a {t}, a condition must be true or false"),
            ))
        }
    }

    /// Types a literal against the type it is compared with: '2024-03-01' against a date.
    pub(super) fn coerce_literal(
        &self,
        at: &sql::Expr,
        lit: Lit,
        lt: ValueType,
        want: ValueType,
    ) -> Result<Lit, ExprError> {
        match (&lit, lt, want) {
            (_, a, b) if a == b => Ok(lit),
            (Lit::Null, _, _) => Ok(lit),
            (Lit::Int(i), ValueType::Int, ValueType::Float) => Ok(Lit::Float(*i as f64)),
            (Lit::Float(_), ValueType::Float, ValueType::Int) => Ok(lit),
            (Lit::Text(s), ValueType::Text, ValueType::Date | ValueType::Datetime) => {
                date_literal(s).map(Lit::Date).ok_or_else(|| {
                    err_at(at.span(), format!("'{s}' is not a date"))
                        .help("write dates as '2024-03-01'")
                })
            }
            _ => Err(err_at(
                at.span(),
                format!("cannot compare a {want} with a {lt} (`{at}`)"),
            )),
        }
    }

    /// Compiles `e` where it must be comparable with a value of type `want`.
    pub(super) fn operand_like(&self, e: &sql::Expr, want: ValueType) -> Result<Expr, ExprError> {
        let (x, t) = self.expr(e)?;
        match x {
            Expr::Lit(l) => Ok(Expr::Lit(self.coerce_literal(e, l, t, want)?)),
            x if comparable(t, want) => Ok(x),
            _ => Err(self.mismatch(e, t, want)),
        }
    }

    pub(super) fn mismatch(&self, e: &sql::Expr, t: ValueType, want: ValueType) -> ExprError {
        let mut err = err_at(
            e.span(),
            format!("comparison between a {want} and a {t} (`{e}` is a {t})"),
        );
        if matches!(
            (want, t),
            (ValueType::Date | ValueType::Datetime, ValueType::Text)
                | (ValueType::Text, ValueType::Date | ValueType::Datetime)
        ) {
            err = err.help("declare the text column as `type: date` in datasets.yaml, or compare with a literal such as '2024-03-01'");
        }
        err
    }

    pub(super) fn binary(
        &self,
        whole: &sql::Expr,
        left: &sql::Expr,
        op: &sql::BinaryOperator,
        right: &sql::Expr,
    ) -> Result<(Expr, ValueType), ExprError> {
        use sql::BinaryOperator as B;
        let cmp = match op {
            B::Eq => Some(BinOp::Eq),
            B::NotEq => Some(BinOp::NotEq),
            B::Lt => Some(BinOp::Lt),
            B::LtEq => Some(BinOp::LtEq),
            B::Gt => Some(BinOp::Gt),
            B::GtEq => Some(BinOp::GtEq),
            _ => None,
        };
        if let Some(op) = cmp {
            let (l, lt) = self.expr(left)?;
            let (r, rt) = self.expr(right)?;
            // A literal takes the type of the other side; else the types must agree.
            let (l, r) = match (l, r) {
                (Expr::Lit(a), r) if !matches!(r, Expr::Lit(_)) => {
                    (Expr::Lit(self.coerce_literal(left, a, lt, rt)?), r)
                }
                (l, Expr::Lit(b)) if !matches!(l, Expr::Lit(_)) => {
                    (l, Expr::Lit(self.coerce_literal(right, b, rt, lt)?))
                }
                (l, r) => {
                    if !comparable(lt, rt) {
                        return Err(self.mismatch(right, rt, lt));
                    }
                    (l, r)
                }
            };
            let (l, r) = match (lt, rt) {
                (ValueType::Date, ValueType::Datetime) => (Expr::DateToDatetime(Box::new(l)), r),
                (ValueType::Datetime, ValueType::Date) => (l, Expr::DateToDatetime(Box::new(r))),
                _ => (l, r),
            };
            return Ok((Expr::Bin(op, Box::new(l), Box::new(r)), ValueType::Bool));
        }
        let (l, lt) = self.expr(left)?;
        let (r, rt) = self.expr(right)?;
        match op {
            B::And | B::Or => {
                self.expect_bool(left, lt)?;
                self.expect_bool(right, rt)?;
                let op = if *op == B::And { BinOp::And } else { BinOp::Or };
                Ok((Expr::Bin(op, Box::new(l), Box::new(r)), ValueType::Bool))
            }
            B::StringConcat => Ok((
                Expr::Bin(BinOp::Concat, Box::new(l), Box::new(r)),
                ValueType::Text,
            )),
            B::Plus | B::Minus | B::Multiply | B::Divide => {
                let bop = match op {
                    B::Plus => BinOp::Add,
                    B::Minus => BinOp::Sub,
                    B::Multiply => BinOp::Mul,
                    _ => BinOp::Div,
                };
                let t = match (lt, rt, bop) {
                    (ValueType::Int, ValueType::Int, BinOp::Div) => ValueType::Float,
                    (ValueType::Int, ValueType::Int, _) => ValueType::Int,
                    (a, b, _) if is_numeric(a) && is_numeric(b) => ValueType::Float,
                    (ValueType::Null, b, _) | (b, ValueType::Null, _) if is_numeric(b) => b,
                    _ => {
                        return Err(err_at(
                            whole.span(),
                            format!("`{op}` needs numbers, got a {lt} and a {rt}"),
                        )
                        .help("for dates use days_between(a, b) or months_between(a, b)"));
                    }
                };
                Ok((Expr::Bin(bop, Box::new(l), Box::new(r)), t))
            }
            _ => Err(err_at(
                whole.span(),
                format!("operator `{op}` is not supported"),
            )),
        }
    }

    pub(super) fn function(
        &self,
        whole: &sql::Expr,
        f: &sql::Function,
    ) -> Result<(Expr, ValueType), ExprError> {
        let name = f.name.to_string().to_lowercase();
        let sql::FunctionArguments::List(list) = &f.args else {
            return Err(err_at(
                whole.span(),
                format!("`{name}` needs arguments in parentheses"),
            ));
        };
        let distinct = matches!(
            list.duplicate_treatment,
            Some(sql::DuplicateTreatment::Distinct)
        );
        let mut raw = Vec::new();
        let mut star = false;
        for a in &list.args {
            match a {
                sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(x)) => raw.push(x),
                sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard) => star = true,
                _ => {
                    return Err(err_at(
                        whole.span(),
                        format!("unsupported argument in `{whole}`"),
                    ));
                }
            }
        }
        self.call(whole, &name, f.name.span(), &raw, star, distinct)
    }

    /// Compiles a call of a named function (also SUBSTRING(…) and TRIM(…), which the SQL
    /// parser reads as their own forms).
    pub(super) fn call(
        &self,
        whole: &sql::Expr,
        name: &str,
        name_span: sqlparser::tokenizer::Span,
        raw: &[&sql::Expr],
        star: bool,
        distinct: bool,
    ) -> Result<(Expr, ValueType), ExprError> {
        let name = name.to_string();
        let mut args = Vec::new();
        for x in raw {
            args.push((*x, self.expr(x)?));
        }
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<(), ExprError> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(err_at(
                    whole.span(),
                    format!(
                        "`{name}` takes {} argument(s), got {}",
                        if n.start() == n.end() {
                            n.start().to_string()
                        } else {
                            format!("{} to {}", n.start(), n.end())
                        },
                        args.len()
                    ),
                ))
            }
        };
        let want = |i: usize, ok: &[ValueType]| -> Result<(), ExprError> {
            let (x, (_, t)) = &args[i];
            if ok.contains(t) || *t == ValueType::Null {
                Ok(())
            } else {
                Err(err_at(
                    x.span(),
                    format!(
                        "`{name}` needs a {}, `{x}` is a {t}",
                        ok.iter()
                            .map(|t| t.to_string())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ))
            }
        };
        const DATES: &[ValueType] = &[ValueType::Date, ValueType::Datetime];
        const NUMS: &[ValueType] = &[ValueType::Int, ValueType::Float];
        const TEXT: &[ValueType] = &[ValueType::Text];
        let agg = match name.as_str() {
            "count" if star || distinct => Some(if distinct {
                AggFunc::CountDistinct
            } else {
                AggFunc::Count
            }),
            "count" => Some(AggFunc::Count),
            "sum" => Some(AggFunc::Sum),
            "avg" | "mean" => Some(AggFunc::Avg),
            "min" => Some(AggFunc::Min),
            "max" => Some(AggFunc::Max),
            "benford_mad" => Some(AggFunc::BenfordMad),
            _ => None,
        };
        if let Some(agg) = agg {
            if !self.scope.allow_aggregates {
                return Err(err_at(
                    whole.span(),
                    format!("aggregate `{name}` is only allowed in `measures`"),
                ));
            }
            if star {
                return Ok((Expr::Agg(AggFunc::Count, None), ValueType::Int));
            }
            arity(1..=1)?;
            let t = args[0].1.1;
            let out = match agg {
                AggFunc::Count | AggFunc::CountDistinct => ValueType::Int,
                AggFunc::Sum | AggFunc::Avg => {
                    want(0, NUMS)?;
                    if agg == AggFunc::Avg {
                        ValueType::Float
                    } else {
                        t
                    }
                }
                AggFunc::Min | AggFunc::Max => t,
                AggFunc::BenfordMad => {
                    want(0, NUMS)?;
                    ValueType::Float
                }
            };
            let arg = args.into_iter().next().expect("arity checked").1.0;
            return Ok((Expr::Agg(agg, Some(Box::new(arg))), out));
        }
        let (func, ty) = match name.as_str() {
            "year" | "month" | "day" | "year_month" => {
                arity(1..=1)?;
                want(0, DATES)?;
                let f = match name.as_str() {
                    "year" => Func::Year,
                    "month" => Func::Month,
                    "day" => Func::Day,
                    _ => Func::YearMonth,
                };
                (f, ValueType::Int)
            }
            "months_between" | "days_between" => {
                arity(2..=2)?;
                want(0, DATES)?;
                want(1, DATES)?;
                (
                    if name == "months_between" {
                        Func::MonthsBetween
                    } else {
                        Func::DaysBetween
                    },
                    ValueType::Int,
                )
            }
            "working_days" | "is_workday" => {
                // Counted on the shipped PRC calendar; a literal date outside it is an error
                // now, a column's date outside it when the rule runs.
                let n = if name == "working_days" { 2 } else { 1 };
                arity(n..=n)?;
                for (i, arg) in args.iter().enumerate() {
                    want(i, DATES)?;
                    if let (x, (Expr::Lit(Lit::Date(d)), _)) = arg
                        && crate::calendar::is_workday_days(*d).is_err()
                    {
                        return Err(err_at(x.span(), crate::calendar::out_of_range(*d)));
                    }
                }
                if n == 2 {
                    (Func::WorkingDays, ValueType::Int)
                } else {
                    (Func::IsWorkday, ValueType::Bool)
                }
            }
            "hours_between" => {
                arity(2..=2)?;
                want(0, DATES)?;
                want(1, DATES)?;
                (Func::HoursBetween, ValueType::Float)
            }
            "stratum" => {
                // stratum(x, b1, b2, …): the band of x between ascending literal bounds.
                arity(2..=32)?;
                want(0, NUMS)?;
                let mut prev = f64::NEG_INFINITY;
                for (x, (e, _)) in &args[1..] {
                    let v = match e {
                        Expr::Lit(Lit::Int(i)) => *i as f64,
                        Expr::Lit(Lit::Float(f)) => *f,
                        _ => {
                            return Err(err_at(
                                x.span(),
                                "stratum bounds are number literals or :params",
                            ));
                        }
                    };
                    if v <= prev {
                        return Err(err_at(x.span(), "stratum bounds must ascend"));
                    }
                    prev = v;
                }
                (Func::Stratum, ValueType::Text)
            }
            "first_digit" => {
                arity(1..=1)?;
                want(0, NUMS)?;
                (Func::FirstDigit, ValueType::Int)
            }
            "id_valid" => {
                arity(1..=1)?;
                want(0, TEXT)?;
                (Func::IdValid, ValueType::Bool)
            }
            "name_fold" | "pinyin" => {
                arity(1..=1)?;
                want(0, TEXT)?;
                (
                    if name == "pinyin" {
                        Func::Pinyin
                    } else {
                        Func::NameFold
                    },
                    ValueType::Text,
                )
            }
            "char_diff" => {
                arity(2..=2)?;
                want(0, TEXT)?;
                want(1, TEXT)?;
                (Func::CharDiff, ValueType::Int)
            }
            "upper" | "lower" | "trim" => {
                arity(1..=1)?;
                want(0, TEXT)?;
                (
                    match name.as_str() {
                        "upper" => Func::Upper,
                        "lower" => Func::Lower,
                        _ => Func::Trim,
                    },
                    ValueType::Text,
                )
            }
            "length" => {
                arity(1..=1)?;
                want(0, TEXT)?;
                (Func::Length, ValueType::Int)
            }
            "substr" | "substring" => {
                arity(2..=3)?;
                want(0, TEXT)?;
                for i in 1..args.len() {
                    want(i, &[ValueType::Int])?;
                }
                (Func::Substr, ValueType::Text)
            }
            "concat" => {
                arity(1..=32)?;
                (Func::Concat, ValueType::Text)
            }
            "coalesce" => {
                arity(1..=32)?;
                let t = args
                    .iter()
                    .map(|a| a.1.1)
                    .find(|t| *t != ValueType::Null)
                    .unwrap_or(ValueType::Null);
                for (x, (_, at)) in &args {
                    if !comparable(*at, t) {
                        return Err(err_at(x.span(), format!("coalesce mixes a {t} and a {at}")));
                    }
                }
                (Func::Coalesce, t)
            }
            "greatest" | "least" => {
                arity(2..=32)?;
                let known: Vec<ValueType> = args
                    .iter()
                    .map(|a| a.1.1)
                    .filter(|t| *t != ValueType::Null)
                    .collect();
                let t = known.first().copied().unwrap_or(ValueType::Null);
                for (x, (_, at)) in &args {
                    if !comparable(*at, t)
                        || !matches!(at, ValueType::Null) && !ORDERED.contains(at)
                    {
                        return Err(err_at(
                            x.span(),
                            format!(
                                "{name} compares numbers, or dates; this mixes a {t} and a {at}"
                            ),
                        ));
                    }
                }
                // A float among ints, a datetime among dates: the wider type.
                let t = if known.contains(&ValueType::Float) {
                    ValueType::Float
                } else if known.contains(&ValueType::Datetime) {
                    ValueType::Datetime
                } else {
                    t
                };
                let f = if name == "greatest" {
                    Func::Greatest
                } else {
                    Func::Least
                };
                (f, t)
            }
            "abs" => {
                arity(1..=1)?;
                want(0, NUMS)?;
                (Func::Abs, args[0].1.1)
            }
            "round" => {
                arity(1..=2)?;
                want(0, NUMS)?;
                if args.len() == 2 {
                    want(1, &[ValueType::Int])?;
                }
                (Func::Round, ValueType::Float)
            }
            _ => {
                let mut e = err_at(name_span, format!("unknown function `{name}`"));
                e = match nearest(&name, FUNCTIONS.iter().copied()) {
                    Some(n) => e.help(format!("did you mean `{n}`?")),
                    None => e.help(format!("functions: {}", FUNCTIONS.join(", "))),
                };
                return Err(e);
            }
        };
        Ok((
            Expr::Func(func, args.into_iter().map(|a| a.1.0).collect()),
            ty,
        ))
    }
}

/// Types `greatest` and `least` order.
const ORDERED: &[ValueType] = &[
    ValueType::Int,
    ValueType::Float,
    ValueType::Date,
    ValueType::Datetime,
];

pub(super) fn comparable(a: ValueType, b: ValueType) -> bool {
    a == b
        || a == ValueType::Null
        || b == ValueType::Null
        || (is_numeric(a) && is_numeric(b))
        || matches!(
            (a, b),
            (ValueType::Date, ValueType::Datetime) | (ValueType::Datetime, ValueType::Date)
        )
}

/// A parameter value typed against its declaration.
pub fn param_literal(
    value: &ParamValue,
    ty: crate::job::rule::ParamType,
) -> Result<(Lit, ValueType), String> {
    use crate::job::rule::ParamType as P;
    match (ty, value) {
        (P::Int, ParamValue::Int(i)) => Ok((Lit::Int(*i), ValueType::Int)),
        (P::Decimal, ParamValue::Int(i)) => Ok((Lit::Float(*i as f64), ValueType::Float)),
        (P::Decimal, ParamValue::Float(f)) => Ok((Lit::Float(*f), ValueType::Float)),
        (P::Text, ParamValue::Text(s)) => Ok((Lit::Text(s.clone()), ValueType::Text)),
        (P::Bool, ParamValue::Bool(b)) => Ok((Lit::Bool(*b), ValueType::Bool)),
        (P::Date, ParamValue::Text(s)) => date_literal(s)
            .map(|d| (Lit::Date(d), ValueType::Date))
            .ok_or_else(|| format!("'{s}' is not a date")),
        (t, v) => Err(format!("`{v}` is not a valid {t:?} value").to_lowercase()),
    }
}
