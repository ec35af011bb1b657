//! Rule fixtures: each rule's `tests:` rows are loaded through the real header mapping and
//! normalisers, the rule's plan runs on them, and the leads are compared with `expect`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use polars::prelude::IntoLazy;

use crate::ingest::{self, normalize::RawCell};
use crate::job::Catalog;
use crate::job::rule::{FixtureSpec, ParamValue, RuleFile};
use crate::plan::CompiledRule;

#[derive(Debug, Clone)]
pub struct FixtureOutcome {
    pub rule_id: String,
    pub name: String,
    pub file: PathBuf,
    pub line: u64,
    /// None when the fixture passed; otherwise what differed.
    pub failure: Option<String>,
}

fn cell(v: &Option<ParamValue>) -> RawCell {
    match v {
        None => RawCell::Empty,
        Some(ParamValue::Text(s)) => RawCell::Text(s.clone()),
        // An ID written unquoted in YAML is still an exact integer: keep it as text.
        Some(ParamValue::Int(i)) => RawCell::Text(i.to_string()),
        Some(ParamValue::Float(f)) => RawCell::Number(*f),
        Some(ParamValue::Bool(b)) => RawCell::Bool(*b),
    }
}

/// Runs every fixture of one rule.
pub fn run_fixtures(
    catalog: &Catalog,
    file: &RuleFile,
    rule: &CompiledRule,
    as_of: Option<&str>,
) -> Vec<FixtureOutcome> {
    file.spec
        .tests
        .iter()
        .map(|f| {
            let failure = if f.params.is_empty() {
                run_one(catalog, rule, f).err()
            } else {
                let mut diags = Vec::new();
                match crate::plan::compile::compile_rule(
                    file,
                    catalog,
                    Some(&f.params),
                    as_of,
                    &mut diags,
                ) {
                    Some(with_params) if diags.is_empty() => {
                        run_one(catalog, &with_params, f).err()
                    }
                    _ => Some(
                        diags
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                }
            };
            FixtureOutcome {
                rule_id: rule.id.clone(),
                name: f.name.value.clone(),
                file: file.path.clone(),
                line: f.name.referenced.line(),
                failure,
            }
        })
        .collect()
}

fn run_one(catalog: &Catalog, rule: &CompiledRule, f: &FixtureSpec) -> Result<(), String> {
    for name in f.given.keys() {
        if !rule.datasets.contains(name) {
            return Err(format!(
                "`given` names dataset `{name}`, which the rule does not read (it reads: {})",
                rule.datasets.join(", ")
            ));
        }
    }
    let mut frames = HashMap::new();
    for name in &rule.datasets {
        let frame = match f.given.get(name) {
            None => ingest::empty_frame(catalog, name)
                .map_err(|e| e.to_string())?
                .lazy(),
            Some(rows) => {
                let mut headers: Vec<String> = Vec::new();
                for r in rows {
                    for h in r.keys() {
                        if !headers.contains(h) {
                            headers.push(h.clone());
                        }
                    }
                }
                let cells = rows
                    .iter()
                    .map(|r| {
                        headers
                            .iter()
                            .map(|h| r.get(h).map(cell).unwrap_or(RawCell::Empty))
                            .collect()
                    })
                    .collect();
                let loaded =
                    ingest::load_inline(catalog, name, &format!("fixture:{name}"), headers, cells)
                        .map_err(|e| e.to_string().trim_start_matches("error: ").to_string())?;
                if let Some(r) = loaded.rejected.first() {
                    return Err(format!(
                        "fixture row {} of `{name}` was rejected by the loader: {}",
                        r.row - 1,
                        r.reason
                    ));
                }
                loaded.frame
            }
        };
        frames.insert(name.clone(), frame);
    }
    let rows = super::run_rule(
        rule,
        &frames,
        &HashMap::new(),
        &HashMap::new(),
        &super::LeadKey::fixed(),
    )?;
    if let Some(want) = &f.expect.amount {
        if !rule.has_amount {
            return Err("`expect.amount` needs the rule to declare `amount`".into());
        }
        let total = super::exact_total(rows.iter().filter_map(|r| r.amount.as_deref()))
            .unwrap_or_else(|| "0.00".into());
        // Compared as numbers: `3720` and `3720.00` are the same money.
        if super::exact_total([want.as_str()]).as_deref() != Some(total.as_str()) {
            return Err(format!("expected an amount of {want}, got {total}"));
        }
    }
    let got: BTreeSet<String> = rows.into_iter().map(|r| r.key).collect();
    if let Some(keys) = &f.expect.keys {
        let want: BTreeSet<String> = keys.iter().cloned().collect();
        if got != want {
            return Err(format!("expected leads {want:?}, got {got:?}"));
        }
    }
    if let Some(n) = f.expect.count
        && got.len() != n
    {
        return Err(format!("expected {n} lead(s), got {}: {got:?}", got.len()));
    }
    if f.expect.keys.is_none() && f.expect.count.is_none() {
        return Err("`expect` needs `keys` or `count`".into());
    }
    Ok(())
}
