//! `sql` — the escape hatch: a query in Polars SQL over the registered datasets, returning the
//! flagged rows; `key` names the result columns forming the lead key.
//!
//! Example: payments above twice the person's usual amount.
//! ```yaml
//! sql:
//!   query: |
//!     SELECT p.id_card, p.amount, p.__file, p.__sheet, p.__row
//!     FROM pension_payments p
//!     WHERE p.amount > 5000
//!   key: [id_card]
//! ```
//! Output: one lead per key; one row per result row. Return `__file`, `__sheet` and `__row`
//! (each dataset has them) to keep provenance; `__dataset` names the dataset — the one
//! `provenance:` names, else the first the query reads (a CTE over payments joined to deaths:
//! say `provenance: pension_payments` when the rows are the payments').
//! `:name` stands for the rule parameter `name` (declared under `params:`), as in expressions.
//! Limits: the query is handed to the engine as written; crosscheck checks its syntax, that
//! every table after FROM / JOIN is a dataset of the catalog, and that `key` and the evidence
//! name result columns — before any data is read.

use polars::prelude::DataType;
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::super::Plan;
use super::super::compile::{Ctx, key_of, lead_projection, locate};
use super::super::expr::{Expr, ExprError, Lit};
use crate::error::nearest;
use crate::job::catalog::ValueType;
use crate::job::rule::{EvidenceSpec, SqlSpec};

fn value_type(dt: &DataType) -> ValueType {
    match dt {
        DataType::Boolean => ValueType::Bool,
        DataType::Date => ValueType::Date,
        DataType::Datetime(..) => ValueType::Datetime,
        DataType::Float32 | DataType::Float64 => ValueType::Float,
        d if d.is_integer() => ValueType::Int,
        DataType::Null => ValueType::Null,
        _ => ValueType::Text,
    }
}

/// The query with each `:param` replaced by the rule parameter's literal (the job's or the
/// command line's value when set): the engine's SQL has no placeholders.
fn with_params(
    ctx: &mut Ctx,
    query: &serde_saphyr::Spanned<String>,
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
) -> Option<String> {
    let text = &query.value;
    // Byte offset of each line's start, to turn (line, column in characters) into bytes.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |line: u64, column: u64| {
        let start = starts[(line as usize).saturating_sub(1).min(starts.len() - 1)];
        text[start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map(|(i, _)| start + i)
            .unwrap_or(text.len())
    };
    let mut out = String::new();
    let mut done = 0;
    let mut ok = true;
    for (i, t) in tokens.iter().enumerate() {
        // `:name` is one placeholder token in some dialects, a colon and a word in others.
        let (p, end) = match (&t.token, tokens.get(i + 1)) {
            (Token::Placeholder(p), _) => (p.clone(), t.span.end),
            (Token::Colon, Some(next)) if matches!(&next.token, Token::Word(_)) => {
                let Token::Word(w) = &next.token else {
                    unreachable!()
                };
                (format!(":{}", w.value), next.span.end)
            }
            _ => continue,
        };
        let name = p.trim_start_matches(':');
        let (from, to) = (
            offset(t.span.start.line, t.span.start.column),
            offset(end.line, end.column),
        );
        match ctx.params.iter().find(|(n, _, _)| n == name) {
            Some((_, _, lit)) => {
                out.push_str(&text[done..from]);
                out.push_str(&lit.to_string());
                done = to;
            }
            None => {
                ok = false;
                let names: Vec<&str> = ctx.params.iter().map(|(n, _, _)| n.as_str()).collect();
                ctx.diags.push(locate(
                    ctx.path,
                    query,
                    ExprError {
                        line: t.span.start.line,
                        column: t.span.start.column,
                        message: format!("unknown parameter `{p}`"),
                        help: Some(match nearest(name, names.iter().copied()) {
                            Some(n) => format!("did you mean `:{n}`?"),
                            None => "declare it under `params:` in the rule".to_string(),
                        }),
                    },
                ));
            }
        }
    }
    out.push_str(&text[done..]);
    ok.then_some(out)
}

pub fn plan(ctx: &mut Ctx, spec: &SqlSpec, evidence: &[EvidenceSpec]) -> Option<Plan> {
    let query = &spec.query;
    let dialect = GenericDialect {};
    if let Err(e) = sqlparser::parser::Parser::parse_sql(&dialect, &query.value) {
        let msg = e.to_string();
        let msg = msg.trim_start_matches("sql parser error: ");
        let (pos, text) = match msg.rfind(" at Line: ") {
            Some(i) => (&msg[i + 10..], &msg[..i]),
            None => ("1, Column: 1", msg),
        };
        let mut p = pos.split(", Column: ");
        let line = p.next().and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        let column = p.next().and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        ctx.diags.push(locate(
            ctx.path,
            query,
            ExprError {
                line,
                column,
                message: format!("SQL syntax error: {text}"),
                help: None,
            },
        ));
        return None;
    }
    // Tables: the word after FROM or JOIN, minus names the query defines itself (WITH x AS).
    let tokens = Tokenizer::new(&dialect, &query.value)
        .tokenize_with_location()
        .ok()?;
    let words: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut tables = Vec::new();
    let mut defined = Vec::new();
    // Open parentheses: true for a subquery, false for a call such as EXTRACT(YEAR FROM d),
    // whose FROM names no table.
    let mut parens: Vec<bool> = Vec::new();
    for (i, t) in words.iter().enumerate() {
        match &t.token {
            Token::LParen => {
                let next = words.get(i + 1).map(|n| &n.token);
                parens.push(matches!(next, Some(Token::Word(k)) if matches!(k.keyword, Keyword::SELECT | Keyword::WITH)));
            }
            Token::RParen => {
                parens.pop();
            }
            _ => {}
        }
        if parens.last() == Some(&false) {
            continue;
        }
        if let Token::Word(w) = &t.token {
            let next = words.get(i + 1).map(|n| &n.token);
            if matches!(next, Some(Token::Word(k)) if k.keyword == Keyword::AS)
                && matches!(words.get(i + 2).map(|n| &n.token), Some(Token::LParen))
            {
                defined.push(w.value.clone());
            }
            if matches!(w.keyword, Keyword::FROM | Keyword::JOIN)
                && let Some(Token::Word(name)) = next
            {
                tables.push((name.value.clone(), words[i + 1].span));
            }
        }
    }
    let mut datasets = Vec::new();
    for (name, span) in &tables {
        if defined.contains(name) || datasets.contains(name) {
            continue;
        }
        if ctx.catalog.datasets.contains_key(name) {
            datasets.push(name.clone());
            if !ctx.datasets.contains(name) {
                ctx.datasets.push(name.clone());
            }
        } else {
            let help = nearest(name, ctx.catalog.datasets.keys().map(String::as_str))
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "datasets: {}",
                        ctx.catalog
                            .datasets
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            ctx.diags.push(locate(
                ctx.path,
                query,
                ExprError {
                    line: span.start.line,
                    column: span.start.column,
                    message: format!("unknown dataset `{name}`"),
                    help: Some(help),
                },
            ));
        }
    }
    if datasets.len() + defined.len()
        < tables
            .iter()
            .map(|t| &t.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    {
        return None;
    }
    // The result's schema, from the engine, over empty frames of the catalog's types.
    let frames = crate::ingest::empty_frames(ctx.catalog, &datasets).ok()?;
    let sql_plan = Plan::Sql {
        query: with_params(ctx, query, &tokens)?,
        datasets: datasets.clone(),
    };
    let schema = match super::super::lower::lower(&sql_plan, &frames)
        .and_then(|mut lf| lf.collect_schema())
    {
        Ok(s) => s,
        Err(e) => {
            ctx.diags.push(locate(
                ctx.path,
                query,
                ExprError {
                    line: 1,
                    column: 1,
                    message: format!("the engine rejects this query: {e}"),
                    help: None,
                },
            ));
            return None;
        }
    };
    let columns: Vec<(String, ValueType)> = schema
        .iter()
        .map(|(n, t)| (n.to_string(), value_type(t)))
        .collect();
    let scope = ctx.scope(columns.clone(), "the query's result");
    let key = ctx.key(&spec.key, &scope);
    let evidence = ctx.evidence(evidence, &scope);
    let (key, evidence) = (key?, evidence?);
    // The dataset the provenance columns come from: the one the rule names, else the first
    // one the query names.
    let provenance = match &spec.provenance {
        Some(p) if datasets.contains(&p.value) => p.value.clone(),
        Some(p) => {
            ctx.diags.push(
                crate::job::yaml::at(
                    ctx.path,
                    p,
                    format!("provenance `{}` is not a dataset the query reads", p.value),
                )
                .with_help(format!("the query reads: {}", datasets.join(", "))),
            );
            return None;
        }
        None => datasets.first().cloned().unwrap_or_default(),
    };
    // Provenance the query did not return is NULL.
    let mut fill = Vec::new();
    for c in ["__file", "__sheet", "__row"] {
        if !columns.iter().any(|(n, _)| n == c) {
            fill.push((c.to_string(), Expr::Lit(Lit::Null)));
        }
    }
    if !columns.iter().any(|(n, _)| n == "__dataset") {
        fill.push(("__dataset".into(), Expr::Lit(Lit::Text(provenance))));
    }
    let input = if fill.is_empty() {
        sql_plan
    } else {
        Plan::WithColumns {
            input: Box::new(sql_plan),
            columns: fill,
        }
    };
    let input = input.filter(Some(Expr::IsNull(Box::new(key.clone()), true)));
    Some(lead_projection(
        input,
        key_of(vec![key]),
        "",
        None,
        evidence,
    ))
}
