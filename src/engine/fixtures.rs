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
            let failure = fixture_rule(catalog, file, rule, f, as_of)
                .and_then(|r| run_one(catalog, &r, f))
                .err();
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

/// The rule as a fixture runs it: as the job compiled it, or compiled again with the
/// fixture's own `params`.
fn fixture_rule(
    catalog: &Catalog,
    file: &RuleFile,
    rule: &CompiledRule,
    f: &FixtureSpec,
    as_of: Option<&str>,
) -> Result<CompiledRule, String> {
    if f.params.is_empty() {
        return Ok(rule.clone());
    }
    let mut diags = Vec::new();
    match crate::plan::compile::compile_rule(file, catalog, Some(&f.params), as_of, &mut diags) {
        Some(r) if diags.is_empty() => Ok(r),
        _ => Err(diags
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

fn run_one(catalog: &Catalog, rule: &CompiledRule, f: &FixtureSpec) -> Result<(), String> {
    let frames = fixture_frames(catalog, rule, f)?;
    let rows = super::run_rule(
        rule,
        &frames,
        &HashMap::new(),
        &HashMap::new(),
        &super::LeadKey::fixed(),
    )?;
    check(rule, f, rows)
}

/// Each dataset the rule reads, from the fixture's rows through the real loader (empty where
/// the fixture gives none).
fn fixture_frames(
    catalog: &Catalog,
    rule: &CompiledRule,
    f: &FixtureSpec,
) -> Result<HashMap<String, polars::prelude::LazyFrame>, String> {
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
    Ok(frames)
}

/// The fixture's expectations against the leads a rule gave.
fn check(rule: &CompiledRule, f: &FixtureSpec, rows: Vec<super::LeadRow>) -> Result<(), String> {
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

/// Runs every fixture of `rules` on Spark in one spark-submit: each fixture a bundle of its own
/// (its rows as the rule's inputs), the runner taking them one after another in one session.
/// An `sql` rule's query runs as written on each engine, so a fixture that passes here and
/// fails there is a dialect difference the leads would show. `dir` holds the bundles (the
/// caller removes it).
pub fn run_fixtures_on_spark(
    job: &crate::job::Job,
    rules: &[(&RuleFile, &CompiledRule)],
    spark_submit: &std::path::Path,
    master: &str,
    dir: &std::path::Path,
) -> crate::error::Result<Vec<FixtureOutcome>> {
    use super::{DatasetOutcome, Loaded};
    let catalog = &job.catalog;
    let mut outcomes: Vec<FixtureOutcome> = Vec::new();
    // (outcome index, rule as the fixture compiles it, fixture, loaded, bundle).
    let mut pending = Vec::new();
    crate::private::create_private_dir(dir)?;
    for (file, rule) in rules {
        for (k, f) in file.spec.tests.iter().enumerate() {
            let variant = fixture_rule(catalog, file, rule, f, job.as_of.as_deref());
            let prepared = variant.and_then(|v| {
                let frames = fixture_frames(catalog, &v, f)?;
                let mut datasets = Vec::new();
                let mut rows = HashMap::new();
                for (name, frame) in &frames {
                    let height =
                        frame.clone().collect().map_err(|e| e.to_string())?.height() as u64;
                    rows.insert(name.clone(), height);
                    datasets.push(DatasetOutcome {
                        name: name.clone(),
                        report: Some(ingest::DatasetReport {
                            name: name.clone(),
                            title: None,
                            files: Vec::new(),
                            rows_read: height,
                            rows_loaded: height,
                            rows_rejected: 0,
                            id_quality: Default::default(),
                            columns_loaded: Vec::new(),
                            bytes_loaded: 0,
                        }),
                        rejected: Vec::new(),
                        error: None,
                    });
                }
                Ok((v, frames, datasets, rows))
            });
            outcomes.push(FixtureOutcome {
                rule_id: rule.id.clone(),
                name: f.name.value.clone(),
                file: file.path.clone(),
                line: f.name.referenced.line(),
                failure: None,
            });
            match prepared {
                Err(why) => outcomes.last_mut().expect("pushed").failure = Some(why),
                Ok((v, frames, datasets, rows)) => {
                    let loaded = Loaded {
                        started_at: String::new(),
                        datasets,
                        frames,
                        rows,
                        stored: HashMap::new(),
                        failed: HashMap::new(),
                        on_cluster: Vec::new(),
                        load_ms: 0,
                    };
                    let bundle_dir = dir.join(format!("{}-{k}", v.id));
                    let bundle = super::spark::write_bundle(
                        job,
                        std::slice::from_ref(&v),
                        &loaded,
                        &bundle_dir,
                        Some(master),
                    )?;
                    pending.push((outcomes.len() - 1, v, f, loaded, bundle));
                }
            }
        }
    }
    if pending.is_empty() {
        return Ok(outcomes);
    }
    let list: Vec<serde_json::Value> = pending
        .iter()
        .map(|(_, _, _, _, b)| {
            serde_json::json!({
                "manifest": b.dir.join("manifest.json"),
                "results": b.dir.join("results"),
            })
        })
        .collect();
    let list_path = dir.join("fixtures.json");
    std::io::Write::write_all(
        &mut crate::private::create_private_file(&list_path)?,
        serde_json::to_string(&list).expect("serialises").as_bytes(),
    )?;
    let log_path = dir.join("spark.log");
    let log = crate::private::create_private_file(&log_path)?;
    // Fixtures are a few rows: one shuffle partition each, not Spark's 200.
    let mut cmd = super::spark::submit_command(
        spark_submit,
        master,
        &["--conf".into(), "spark.sql.shuffle.partitions=1".into()],
    );
    cmd.arg(pending[0].4.dir.join("runner.py"))
        .arg("--many")
        .arg(&list_path)
        .stdout(log.try_clone()?)
        .stderr(log);
    super::spark::submit_and_wait(&mut cmd, spark_submit, master, &log_path)?;
    for (at, v, f, loaded, bundle) in pending {
        let result = super::spark::collect(
            job,
            std::slice::from_ref(&v),
            loaded,
            &bundle.rules,
            &bundle.refused,
            &bundle.dir.join("results"),
            master.to_string(),
            &super::Silent,
        )?;
        let outcome = result.outcomes.into_iter().next();
        outcomes[at].failure = match outcome {
            None => Some("the rule did not run on Spark".into()),
            Some(o) => match o.status {
                super::RuleStatus::Failed(e) => Some(e),
                super::RuleStatus::Ok => check(&v, f, o.rows).err(),
            },
        };
    }
    Ok(outcomes)
}
