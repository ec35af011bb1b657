//! A list for each team (分办): `run --split-by EXPR` writes, beside the full outputs, one
//! workbook per value of EXPR under `teams/`, each with only that value's leads. EXPR reads
//! the lead's rows — `key`, `region` (the first six digits of an ID key), `rule_id`,
//! `severity`, `dataset`, `file`, `sheet`, and any evidence label as a quoted name
//! (`"所属街道 / Street"`) — and a lead goes to the first non-empty value of its rows. Leads
//! whose value is empty go to `unassigned.xlsx`: never dropped.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::{Column, DataFrame, DataType, IntoLazy};

use crate::engine::{DatasetOutcome, RuleOutcome, RunResult};
use crate::error::{Error, Result};
use crate::job::catalog::ValueType;
use crate::plan::compile::CompiledRule;
use crate::plan::expr::{self, Expr, Scope};

/// The workbook of leads whose value is empty.
pub const UNASSIGNED: &str = "unassigned";

/// More teams than this is a split by the wrong value (`key`: a workbook per lead): refused
/// before anything is written.
pub const MAX_TEAMS: usize = 1000;

/// The fixed columns a split expression may read, besides evidence labels.
const LEAD_COLUMNS: [&str; 7] = [
    "key", "region", "rule_id", "severity", "dataset", "file", "sheet",
];

/// A checked `--split-by` expression.
pub struct SplitBy {
    text: String,
    expr: Expr,
    labels: Vec<String>,
}

/// One team's share of a run.
pub struct Team {
    /// The value of the split expression (`None` for the unassigned leads).
    pub value: Option<String>,
    /// The workbook's file name inside `teams/`.
    pub file: String,
    pub result: RunResult,
    pub leads: usize,
    pub rows: usize,
}

impl SplitBy {
    /// Checks the expression against the lead columns and the rules' evidence labels, before
    /// any data is read.
    pub fn compile(text: &str, rules: &[CompiledRule]) -> Result<SplitBy> {
        let mut labels: Vec<String> = Vec::new();
        for r in rules {
            for l in &r.evidence_labels {
                if !labels.contains(l) && !LEAD_COLUMNS.contains(&l.as_str()) {
                    labels.push(l.clone());
                }
            }
        }
        let columns: Vec<(String, ValueType)> = LEAD_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(labels.iter().cloned())
            .map(|c| (c, ValueType::Text))
            .collect();
        let scope = Scope {
            columns,
            left: None,
            right: None,
            left_name: "",
            right_name: "",
            params: std::rc::Rc::new(Vec::new()),
            allow_aggregates: false,
        };
        let (expr, _) = expr::compile(text, &scope).map_err(|e| Error::Input {
            path: "--split-by".into(),
            message: format!(
                "`{text}`, column {}: {}{}",
                e.column,
                e.message,
                e.help.map(|h| format!(" ({h})")).unwrap_or_default()
            ) + "; it reads key, region, rule_id, severity, dataset, file, sheet, or an evidence \
                 label in double quotes, e.g. --split-by region or --split-by '\"所属街道 / Street\"'",
        })?;
        Ok(SplitBy {
            text: text.to_string(),
            expr,
            labels,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Splits a run (already masked when `--mask` is on: the values, and so the file names,
    /// are computed from what the teams may see).
    pub fn split(&self, result: &RunResult) -> Result<Vec<Team>> {
        let value_of = self.values(result)?;
        // Each lead's team: the first non-empty value among its rows, in row order.
        let mut team_of: BTreeMap<(&str, &str), Option<String>> = BTreeMap::new();
        let mut i = 0;
        for o in &result.outcomes {
            for r in &o.rows {
                let v = value_of[i]
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty());
                let slot = team_of
                    .entry((o.rule.id.as_str(), r.lead_id.as_str()))
                    .or_insert(None);
                if slot.is_none() {
                    *slot = v.map(str::to_string);
                }
                i += 1;
            }
        }
        // The teams by value, the unassigned leads last.
        let mut values: Vec<Option<String>> = team_of
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        values.sort_by_key(|v| v.is_none());
        if values.len() > MAX_TEAMS {
            return Err(Error::Input {
                path: "--split-by".into(),
                message: format!(
                    "`{}` gives {} teams, more than {MAX_TEAMS}: split by a coarser value \
                     (region, a county or department column); nothing was written",
                    self.text,
                    values.len()
                ),
            });
        }
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut teams = Vec::new();
        for value in &values {
            let base = match value {
                Some(v) => safe_name(v),
                None => UNASSIGNED.to_string(),
            };
            // Two values with one safe name (`a/b`, `a_b`) get their own files.
            let mut file = format!("{base}.xlsx");
            let mut n = 2;
            while !used.insert(file.to_lowercase()) {
                file = format!("{base}~{n}.xlsx");
                n += 1;
            }
            // Every rule stays, a failed one shown as failed in every team's summary; the data
            // quality counts are the run's, its rejected rows (other teams' people) are not.
            // Leads cleared as false positives are not raised, so no team can be told apart
            // for them: the full workbook counts them.
            let part = RunResult {
                backend: result.backend.clone(),
                started_at: result.started_at.clone(),
                datasets: result
                    .datasets
                    .iter()
                    .map(|d| DatasetOutcome {
                        name: d.name.clone(),
                        report: d.report.clone(),
                        rejected: Vec::new(),
                        error: d.error.clone(),
                    })
                    .collect(),
                outcomes: result
                    .outcomes
                    .iter()
                    .map(|o| RuleOutcome {
                        rule: o.rule.clone(),
                        status: o.status.clone(),
                        rows: Vec::new(),
                        elapsed_ms: o.elapsed_ms,
                        dispositions: Default::default(),
                        suppressed: Vec::new(),
                    })
                    .collect(),
                load_ms: result.load_ms,
                rules_ms: result.rules_ms,
            };
            teams.push(Team {
                value: value.clone(),
                file,
                result: part,
                leads: 0,
                rows: 0,
            });
        }
        // Each row to its lead's team, in one pass over the run.
        let index: BTreeMap<&Option<String>, usize> =
            values.iter().enumerate().map(|(t, v)| (v, t)).collect();
        for (k, o) in result.outcomes.iter().enumerate() {
            for r in &o.rows {
                let t = index[&team_of[&(o.rule.id.as_str(), r.lead_id.as_str())]];
                teams[t].result.outcomes[k].rows.push(r.clone());
            }
        }
        for team in &mut teams {
            for o in &mut team.result.outcomes {
                let mut seen = BTreeSet::new();
                for r in &o.rows {
                    if let Some(d) = r.disposition
                        && seen.insert(r.lead_id.as_str())
                    {
                        *o.dispositions.entry(d).or_default() += 1;
                    }
                }
            }
            team.leads = team.result.outcomes.iter().map(|o| o.lead_count()).sum();
            team.rows = team.result.outcomes.iter().map(|o| o.rows.len()).sum();
        }
        Ok(teams)
    }

    /// The expression's value for every lead row, in outcome and row order.
    fn values(&self, result: &RunResult) -> Result<Vec<Option<String>>> {
        let mut cols: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
        for o in &result.outcomes {
            for r in &o.rows {
                let fixed = [
                    Some(r.key.clone()),
                    super::report::region_of(&r.key).map(str::to_string),
                    Some(o.rule.id.clone()),
                    Some(o.rule.severity.as_str().to_string()),
                    Some(r.dataset.clone()),
                    Some(r.file.clone()),
                    r.sheet.clone(),
                ];
                for (c, v) in LEAD_COLUMNS.iter().zip(fixed) {
                    cols.entry(c).or_default().push(v);
                }
                for l in &self.labels {
                    cols.entry(l.as_str())
                        .or_default()
                        .push(r.evidence.get(l).cloned().flatten());
                }
            }
        }
        let height: usize = result.outcomes.iter().map(|o| o.rows.len()).sum();
        if height == 0 {
            return Ok(Vec::new());
        }
        let columns: Vec<Column> = cols
            .into_iter()
            .map(|(name, values)| Column::new(name.into(), values))
            .collect();
        let bug = |e: polars::error::PolarsError| {
            Error::Bug(format!("--split-by `{}` on the leads: {e}", self.text))
        };
        let df = DataFrame::new_infer_height(columns).map_err(bug)?;
        let out = df
            .lazy()
            .select([
                crate::plan::lower::expr(&Expr::ToText(Box::new(self.expr.clone())))
                    .cast(DataType::String)
                    .alias("__team"),
            ])
            .collect()
            .map_err(bug)?;
        let c = out.column("__team").map_err(bug)?;
        Ok(c.str()
            .map_err(bug)?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    }
}

/// A value as a file name that stays inside `teams/` on every system: path separators,
/// control and reserved characters become `_`; no leading dot; Windows' device names are
/// prefixed; at most 80 characters.
pub fn safe_name(value: &str) -> String {
    let mut s: String = value
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(80)
        .collect();
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    let s = s.trim_end_matches([' ', '.']).to_string();
    let stem = s.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if s.is_empty() {
        "_".into()
    } else if reserved || s.eq_ignore_ascii_case(UNASSIGNED) {
        // A real value spelled like the unassigned file does not take its place.
        format!("_{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn team_file_names_stay_inside_the_folder() {
        assert_eq!(safe_name("玄武区"), "玄武区");
        assert_eq!(safe_name("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(safe_name(".hidden"), "_hidden");
        assert_eq!(safe_name("a\\b:c*?\"<>|\n"), "a_b_c______");
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name("com1.txt"), "_com1.txt");
        assert_eq!(safe_name("unassigned"), "_unassigned");
        assert_eq!(safe_name("   "), "_");
        assert_eq!(safe_name("trailing. "), "trailing");
        assert_eq!(safe_name(&"长".repeat(100)).chars().count(), 80);
    }
}
