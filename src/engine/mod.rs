//! The engine: load each dataset a rule needs once, run the rules' plans in parallel, isolate
//! failures (one broken rule is a failed outcome, the others still run), and fold the leads
//! into a deterministic order. Progress goes through `Reporter`; drawing is the CLI's job.

pub mod fixtures;
pub mod spark;

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use indexmap::IndexMap;
use polars::prelude::*;
use rayon::prelude::*;

pub use crate::ingest::dispositions::Disposition;
use crate::ingest::{self, DatasetReport, RejectedRow};
pub use crate::job::lead_key::LeadKey;
use crate::job::{Job, Severity};
use crate::plan::{CompiledRule, lower};

/// The phases a run reports progress on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Loading,
    Rules,
    Writing,
}

/// Progress callbacks; the CLI draws them, tests ignore them.
pub trait Reporter: Sync {
    fn start(&self, _phase: Phase, _total: u64) {}
    fn advance(&self, _phase: Phase, _item: &str) {}
    fn finish(&self, _phase: Phase) {}
}

/// A reporter that shows nothing.
pub struct Silent;
impl Reporter for Silent {}

/// One flagged source record. Rows of the same rule and key form one lead.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadRow {
    pub rule_id: String,
    pub lead_id: String,
    pub severity: Severity,
    pub key: String,
    pub dataset: String,
    pub file: String,
    pub sheet: Option<String>,
    pub row: i64,
    /// The partner record (`file:row`) for match leads.
    pub partner: Option<String>,
    /// Evidence values by label, in the rule's order.
    pub evidence: IndexMap<String, Option<String>>,
    pub message: Option<String>,
    /// A fingerprint of all the evidence of this lead (every row): a lead cleared as a false
    /// positive is raised again only when this changes.
    pub evidence_hash: String,
    /// The inspectors' status carried forward from a dispositions file, and their note.
    pub disposition: Option<Disposition>,
    pub disposition_note: Option<String>,
    /// This row's money at stake, for a rule that declares `amount` (exact, as text).
    pub amount: Option<String>,
}

#[derive(Debug, Clone)]
pub enum RuleStatus {
    Ok,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct RuleOutcome {
    pub rule: CompiledRule,
    pub status: RuleStatus,
    pub rows: Vec<LeadRow>,
    pub elapsed_ms: u128,
    /// Leads of this run carrying each disposition (suppressed false positives included).
    pub dispositions: BTreeMap<Disposition, usize>,
    /// Lead IDs cleared as false positives whose evidence has not changed: not raised again
    /// (the manifest lists them, so that `diff` tells them from resolved leads).
    pub suppressed: Vec<String>,
}

impl RuleOutcome {
    /// Distinct leads (keys).
    pub fn lead_count(&self) -> usize {
        let mut keys: Vec<&str> = self.rows.iter().map(|r| r.key.as_str()).collect();
        keys.dedup();
        keys.len()
    }

    /// The money at stake over all this rule's leads (`None` without `amount`, and for a rule
    /// that failed: its leads, and so its money, are unknown, not zero).
    pub fn amount(&self) -> Option<String> {
        if !self.rule.has_amount
            || self.rule.amount_unknown.is_some()
            || matches!(self.status, RuleStatus::Failed(_))
        {
            return None;
        }
        let amounts: Vec<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.amount.as_deref())
            .collect();
        if amounts.is_empty() {
            return Some("0.00".into());
        }
        // `None` where a value is not a plain decimal: no total rather than a wrong one.
        exact_total(amounts)
    }
}

pub struct DatasetOutcome {
    pub name: String,
    pub report: Option<DatasetReport>,
    pub rejected: Vec<RejectedRow>,
    pub error: Option<String>,
}

/// Where the rules ran.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Polars,
    Spark {
        master: String,
        spark_version: String,
        runner_version: u32,
    },
}

pub struct RunResult {
    /// Where the rules ran.
    pub backend: Backend,
    /// When the run started (RFC 3339, local time).
    pub started_at: String,
    pub datasets: Vec<DatasetOutcome>,
    pub outcomes: Vec<RuleOutcome>,
    pub load_ms: u128,
    pub rules_ms: u128,
}

impl RunResult {
    pub fn failed_rules(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, RuleStatus::Failed(_)))
            .count()
    }
}

/// Carries inspectors' dispositions into this run: each lead gets its status and note; a lead
/// cleared as a false positive is dropped unless its evidence changed since (a record without
/// a fingerprint clears the lead whatever its evidence).
pub fn apply_dispositions(
    result: &mut RunResult,
    records: &BTreeMap<String, crate::ingest::dispositions::DispositionRecord>,
) {
    for o in &mut result.outcomes {
        let mut seen = std::collections::BTreeSet::new();
        let mut suppressed = std::collections::BTreeSet::new();
        for r in &mut o.rows {
            let Some(d) = records.get(&r.lead_id) else {
                continue;
            };
            if seen.insert(r.lead_id.clone()) {
                *o.dispositions.entry(d.status).or_default() += 1;
            }
            let unchanged = d
                .evidence_hash
                .as_ref()
                .is_none_or(|h| *h == r.evidence_hash);
            if d.status == Disposition::FalsePositive && unchanged {
                suppressed.insert(r.lead_id.clone());
            }
            r.disposition = Some(d.status);
            r.disposition_note = d.note.clone();
        }
        o.rows.retain(|r| !suppressed.contains(&r.lead_id));
        o.suppressed = suppressed.into_iter().collect();
    }
}

/// The share of inspected leads found true (confirmed or rectified) among those found true or
/// false: the rule's precision in the field.
pub fn precision(dispositions: &BTreeMap<Disposition, usize>) -> Option<f64> {
    let count = |d: Disposition| *dispositions.get(&d).unwrap_or(&0);
    let right = count(Disposition::Confirmed) + count(Disposition::Rectified);
    let wrong = count(Disposition::FalsePositive);
    (right + wrong > 0).then(|| right as f64 / (right + wrong) as f64)
}

/// A lead's ID: the same rule and key give the same ID in every round under the same lead key.
pub fn lead_id(secret: &LeadKey, rule_id: &str, key: &str) -> String {
    ingest::hex(&secret.mac(&[rule_id.as_bytes(), key.as_bytes()])[..8])
}

/// Scale of the fixed-point amounts below: 12 places, as `plan::exact` rounds a quotient.
const AMOUNT_SCALE: u32 = 12;

/// A plain decimal written as text (`1200.50`, `-3`, `0.125`) as an integer of 10^-12 units;
/// `None` for anything else (an exponent, a missing whole part, more than 12 places).
fn fixed_point(a: &str) -> Option<i128> {
    let (neg, digits) = match a.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, a),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > AMOUNT_SCALE as usize
    {
        return None;
    }
    let v = whole
        .parse::<i128>()
        .ok()?
        .checked_mul(10i128.pow(AMOUNT_SCALE))?
        + format!("{frac:0<12}").parse::<i128>().ok()?;
    Some(if neg { -v } else { v })
}

/// The exact sum of decimal amounts written as text (`1200.50`, `-3`, `0.125`), shown with at
/// least two places as amounts are written; `None` when there is none, or one is not a plain
/// decimal of at most 12 places.
pub fn exact_total<S: AsRef<str>>(amounts: impl IntoIterator<Item = S>) -> Option<String> {
    let mut total: i128 = 0;
    let mut any = false;
    for a in amounts {
        total = total.checked_add(fixed_point(a.as_ref())?)?;
        any = true;
    }
    if !any {
        return None;
    }
    let sign = if total < 0 { "-" } else { "" };
    let t = total.unsigned_abs();
    let unit = 10u128.pow(AMOUNT_SCALE);
    let frac = format!("{:012}", t % unit);
    let frac = frac.trim_end_matches('0');
    Some(format!("{sign}{}.{frac:0<2}", t / unit))
}

/// A record shown beside several partners (a dibao household with two cars) is money paid
/// once: its amount stays on one row, the others' are blanked, so that the amount column adds
/// up to the lead's total. The amount kept is the largest its rows give — with `min_partners:
/// N`, the N-th largest: the amount that the N partners making it a lead all support (two
/// homes make a dibao household ineligible from the second's date, not the first's). `rows`
/// are sorted by key and record.
fn amount_once_per_record(rows: &mut [LeadRow], support: usize) {
    let same_record = |a: &LeadRow, b: &LeadRow| {
        a.row == b.row
            && a.key == b.key
            && a.file == b.file
            && a.dataset == b.dataset
            && a.sheet == b.sheet
    };
    let mut start = 0;
    while start < rows.len() {
        let end = start
            + rows[start..]
                .iter()
                .take_while(|r| same_record(r, &rows[start]))
                .count();
        if end - start > 1 {
            // Largest first; a value that is not a plain decimal ranks last; among equals the
            // first row keeps it.
            let mut order: Vec<usize> = (start..end).collect();
            order.sort_by_key(|&i| {
                (
                    std::cmp::Reverse(rows[i].amount.as_deref().and_then(fixed_point)),
                    i,
                )
            });
            let keep = order[support.clamp(1, order.len()) - 1];
            for (i, r) in rows[start..end].iter_mut().enumerate() {
                if start + i != keep {
                    r.amount = None;
                }
            }
        }
        start = end;
    }
}

/// Fills `{label}` placeholders from the evidence.
pub fn fill_message(template: &str, evidence: &IndexMap<String, Option<String>>) -> String {
    let mut out = template.to_string();
    for (label, value) in evidence {
        out = out.replace(&format!("{{{label}}}"), value.as_deref().unwrap_or(""));
    }
    out
}

/// The datasets a set of rules reads, loaded once: the rules' frames, row counts, and what
/// could not be loaded.
pub struct Loaded {
    pub started_at: String,
    pub datasets: Vec<DatasetOutcome>,
    pub frames: HashMap<String, LazyFrame>,
    pub rows: HashMap<String, u64>,
    /// The cache's files of the datasets it served whole.
    pub stored: HashMap<String, crate::ingest::cache::Stored>,
    /// Datasets that failed to load, with why: their rules fail with that reason.
    pub failed: HashMap<String, String>,
    /// Datasets the rules read that live on the Spark cluster: not loaded here, Spark reads
    /// and types them there (`load(…, on_cluster = true)` only).
    pub on_cluster: Vec<String>,
    pub load_ms: u128,
}

impl Loaded {
    /// Why a rule cannot run: a dataset it reads was not loaded.
    pub fn missing(&self, rule: &CompiledRule) -> Option<String> {
        rule.datasets.iter().find_map(|d| {
            self.failed
                .get(d)
                .map(|e| format!("dataset `{d}` could not be loaded: {e}"))
        })
    }
}

/// Loads every dataset the rules read (only the columns some rule reads), each once. With
/// `on_cluster` (a Spark run), datasets living on the cluster are left to Spark.
pub fn load(
    job: &Job,
    rules: &[CompiledRule],
    reporter: &dyn Reporter,
    on_cluster: bool,
) -> Loaded {
    let mut needed: Vec<String> = rules
        .iter()
        .flat_map(|r| r.datasets.iter().cloned())
        .collect();
    needed.sort();
    needed.dedup();
    let (cluster, needed): (Vec<String>, Vec<String>) = needed
        .into_iter()
        .partition(|d| on_cluster && job.catalog.cluster(d).is_some());
    // The columns each dataset must load: those some rule reads (all, for an `sql` rule).
    let mut wanted: HashMap<&str, Option<std::collections::BTreeSet<String>>> = HashMap::new();
    for rule in rules {
        let mut cols = Vec::new();
        let known = rule.plan.columns(&mut cols);
        // `l.id_card` reads `id_card`.
        let names: Vec<String> = cols
            .iter()
            .filter_map(|c| c.split_once('.').map(|(_, n)| n.to_string()))
            .chain(cols.iter().cloned())
            .collect();
        for d in &rule.datasets {
            let entry = wanted
                .entry(d.as_str())
                .or_insert_with(|| Some(Default::default()));
            match entry {
                Some(set) if known => set.extend(names.iter().cloned()),
                _ => *entry = None,
            }
        }
    }

    let started_at = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let t0 = Instant::now();
    reporter.start(Phase::Loading, needed.len() as u64);
    // One cache for all datasets; if its folder cannot be made, every dataset says why.
    let cache = job
        .cache_dir
        .as_deref()
        .map(|dir| {
            ingest::cache::Cache::new(dir).map(|c| if job.rehash { c.rehashing() } else { c })
        })
        .transpose();
    let loaded: Vec<(String, Result<ingest::LoadedDataset, String>)> = needed
        .par_iter()
        .map(|name| {
            let r = catch_unwind(AssertUnwindSafe(|| match &cache {
                Ok(cache) => ingest::load_dataset_cached(
                    &job.catalog,
                    name,
                    cache.as_ref(),
                    wanted.get(name.as_str()).and_then(Option::as_ref),
                ),
                Err(e) => Err(crate::error::Error::Input {
                    path: job.cache_dir.clone().unwrap_or_default(),
                    message: format!("cannot create the cache folder: {e}"),
                }),
            }))
            .map_err(|p| {
                format!(
                    "internal error (a bug in crosscheck) while loading: {}",
                    panic_text(&p)
                )
            })
            .and_then(|r| r.map_err(|e| e.to_string().trim_start_matches("error: ").to_string()));
            reporter.advance(Phase::Loading, name);
            (name.clone(), r)
        })
        .collect();
    reporter.finish(Phase::Loading);
    let load_ms = t0.elapsed().as_millis();

    let mut frames = HashMap::new();
    let mut rows = HashMap::new();
    let mut stored = HashMap::new();
    let mut datasets = Vec::new();
    let mut failed: HashMap<String, String> = HashMap::new();
    for (name, r) in loaded {
        match r {
            Ok(ds) => {
                frames.insert(name.clone(), ds.frame);
                rows.insert(name.clone(), ds.report.rows_loaded);
                if let Some(s) = ds.stored {
                    stored.insert(name.clone(), s);
                }
                datasets.push(DatasetOutcome {
                    name,
                    report: Some(ds.report),
                    rejected: ds.rejected,
                    error: None,
                });
            }
            Err(e) => {
                failed.insert(name.clone(), e.clone());
                datasets.push(DatasetOutcome {
                    name,
                    report: None,
                    rejected: Vec::new(),
                    error: Some(e),
                });
            }
        }
    }
    Loaded {
        started_at,
        datasets,
        frames,
        rows,
        stored,
        failed,
        on_cluster: cluster,
        load_ms,
    }
}

/// Loads every dataset the rules read, then runs every rule on Polars.
pub fn run(job: &Job, rules: &[CompiledRule], reporter: &dyn Reporter) -> RunResult {
    let loaded = load(job, rules, reporter, false);
    let (frames, rows, stored) = (&loaded.frames, &loaded.rows, &loaded.stored);
    let t1 = Instant::now();
    reporter.start(Phase::Rules, rules.len() as u64);
    let run_all = || -> Vec<RuleOutcome> {
        rules
            .par_iter()
            .map(|rule| {
                let start = Instant::now();
                let status_rows = match loaded.missing(rule) {
                    Some(e) => Err(e),
                    None => catch_unwind(AssertUnwindSafe(|| {
                        run_rule(rule, frames, rows, stored, &job.lead_key)
                    }))
                    .unwrap_or_else(|p| {
                        Err(format!(
                            "internal error (a bug in crosscheck): {}",
                            panic_text(&p)
                        ))
                    }),
                };
                reporter.advance(Phase::Rules, &rule.id);
                let (status, rows) = match status_rows {
                    Ok(rows) => (RuleStatus::Ok, rows),
                    Err(e) => (RuleStatus::Failed(e), Vec::new()),
                };
                RuleOutcome {
                    rule: rule.clone(),
                    status,
                    rows,
                    elapsed_ms: start.elapsed().as_millis(),
                    dispositions: BTreeMap::new(),
                    suppressed: Vec::new(),
                }
            })
            .collect()
    };
    let mut outcomes = match rule_pool() {
        Some(pool) => pool.install(run_all),
        None => run_all(),
    };
    reporter.finish(Phase::Rules);
    outcomes.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
    RunResult {
        started_at: loaded.started_at,
        datasets: loaded.datasets,
        outcomes,
        load_ms: loaded.load_ms,
        rules_ms: t1.elapsed().as_millis(),
        backend: Backend::Polars,
    }
}

/// The threads the rules run on. A rule lowers and optimises its plan recursively and may
/// run a query while it lowers (a join's small side, a text-key group-by); meanwhile rayon
/// may start another rule on the same thread, on top of that stack. Rayon's default 2 MiB
/// stacks overflowed in debug builds, so the rules get their own pool with 32 MiB stacks
/// (of address space: only the pages touched are memory), however the caller set up rayon's
/// global pool. `None` if the threads cannot be started: the rules then run on the global pool.
fn rule_pool() -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .stack_size(32 << 20)
        .thread_name(|i| format!("crosscheck-rule-{i}"))
        .build()
        .ok()
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs one rule's plan and turns its frame into sorted lead rows.
pub fn run_rule(
    rule: &CompiledRule,
    frames: &HashMap<String, LazyFrame>,
    rows: &HashMap<String, u64>,
    stored: &HashMap<String, crate::ingest::cache::Stored>,
    secret: &LeadKey,
) -> Result<Vec<LeadRow>, String> {
    // Polars' streaming engine, which the crate does not pick by itself: faster on the rule
    // phase and leaner in memory than the in-memory engine (benches/HISTORY.md).
    let df = lower::lower_sized(&rule.plan, frames, rows, stored)
        .and_then(|lf| {
            // A plan that reads a dataset twice (an aggregate joined back to its members)
            // would otherwise hold the shared part whole in memory; reading it twice streams.
            let mut opts = lf.get_current_optimizations();
            opts.remove(OptFlags::COMM_SUBPLAN_ELIM);
            lf.with_optimizations(opts)
                .collect_with_engine(Engine::Streaming)
        })
        .map(|r| r.unwrap_single())
        .map_err(|e| format!("rule `{}` failed while running: {e}", rule.id))?;
    leads_from_frame(rule, &df, secret)
}

/// Turns a rule's result frame (`__key`, provenance, `__partner`, `__ev0`…) into sorted lead
/// rows, whichever backend computed it.
pub fn leads_from_frame(
    rule: &CompiledRule,
    df: &DataFrame,
    secret: &LeadKey,
) -> Result<Vec<LeadRow>, String> {
    let text = |name: &str| -> Result<Vec<Option<String>>, String> {
        let c = df
            .column(name)
            .map_err(|e| e.to_string())?
            .cast(&DataType::String)
            .map_err(|e| e.to_string())?;
        Ok(c.str()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let keys = text("__key")?;
    let datasets = text("__dataset")?;
    let files = text("__file")?;
    let sheets = text("__sheet")?;
    let rows = text("__row")?;
    let partners = text("__partner")?;
    let evidence: Vec<Vec<Option<String>>> = (0..rule.evidence_labels.len())
        .map(|i| text(&format!("__ev{i}")))
        .collect::<Result<_, _>>()?;
    // Money the job cannot count (`amount_unknown`) is left blank, never a guess.
    let amounts = if rule.has_amount && rule.amount_unknown.is_none() {
        Some(text(&format!("__ev{}", rule.evidence_labels.len()))?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let key = keys[i].clone().ok_or_else(|| {
            format!(
                "rule `{}` produced a lead without a key (a bug in crosscheck)",
                rule.id
            )
        })?;
        let ev: IndexMap<String, Option<String>> = rule
            .evidence_labels
            .iter()
            .zip(&evidence)
            .map(|(l, col)| (l.clone(), col[i].clone()))
            .collect();
        out.push(LeadRow {
            rule_id: rule.id.clone(),
            lead_id: lead_id(secret, &rule.id, &key),
            severity: rule.severity,
            message: rule.message.as_ref().map(|m| fill_message(m, &ev)),
            evidence_hash: String::new(),
            disposition: None,
            disposition_note: None,
            key,
            dataset: datasets[i].clone().unwrap_or_default(),
            file: files[i].clone().unwrap_or_default(),
            sheet: sheets[i].clone(),
            row: rows[i].as_deref().and_then(|r| r.parse().ok()).unwrap_or(0),
            partner: partners[i].clone(),
            evidence: ev,
            amount: amounts.as_ref().and_then(|a| a[i].clone()),
        });
    }
    // Evidence breaks ties by comparing values in place (no allocation per comparison).
    out.sort_by(|a, b| {
        (&a.key, &a.dataset, &a.file, &a.sheet, a.row, &a.partner)
            .cmp(&(&b.key, &b.dataset, &b.file, &b.sheet, b.row, &b.partner))
            .then_with(|| a.evidence.values().cmp(b.evidence.values()))
    });
    out.dedup();
    if rule.has_amount {
        amount_once_per_record(&mut out, rule.amount_support);
    }
    // One fingerprint per lead over all its rows' evidence (rows are sorted, so it is stable).
    let mut start = 0;
    while start < out.len() {
        let end = start
            + out[start..]
                .iter()
                .take_while(|r| r.key == out[start].key)
                .count();
        // Keyed like the lead ID: a fingerprint of a masked lead's evidence must not be a
        // way to test guesses of what the mask hid.
        let evidence: Vec<String> = out[start..end]
            .iter()
            .map(|r| serde_json::to_string(&r.evidence).expect("strings serialise"))
            .collect();
        let parts: Vec<&[u8]> = evidence.iter().map(|e| e.as_bytes()).collect();
        let hash = ingest::hex(&secret.mac(&parts)[..8]);
        for r in &mut out[start..end] {
            r.evidence_hash = hash.clone();
        }
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{LeadRow, amount_once_per_record, exact_total};
    use crate::job::Severity;

    fn row(key: &str, record: i64, partner: &str, amount: &str) -> LeadRow {
        LeadRow {
            rule_id: "r".into(),
            lead_id: String::new(),
            severity: Severity::High,
            key: key.into(),
            dataset: "dibao_roll".into(),
            file: "dibao_roll.xlsx".into(),
            sheet: None,
            row: record,
            partner: Some(partner.into()),
            evidence: Default::default(),
            message: None,
            evidence_hash: String::new(),
            disposition: None,
            disposition_note: None,
            amount: Some(amount.into()),
        }
    }

    fn amounts(rows: &[LeadRow]) -> Vec<Option<&str>> {
        rows.iter().map(|r| r.amount.as_deref()).collect()
    }

    #[test]
    fn a_record_beside_several_partners_counts_once() {
        // Two cars: from the earlier one, once. Another household's row is its own.
        let mut rows = vec![
            row("A", 2, "v:1", "7000.00"),
            row("A", 2, "v:2", "34300.00"),
            row("B", 3, "v:3", "600"),
        ];
        amount_once_per_record(&mut rows, 1);
        assert_eq!(amounts(&rows), [None, Some("34300.00"), Some("600")]);
        assert_eq!(
            exact_total(rows.iter().filter_map(|r| r.amount.as_deref())).as_deref(),
            Some("34900.00")
        );
        // Three homes with two needed: from the second home, the second largest amount.
        let mut rows = vec![
            row("A", 2, "p:1", "46200.00"),
            row("A", 2, "p:2", "3500.00"),
            row("A", 2, "p:3", "9100.00"),
        ];
        amount_once_per_record(&mut rows, 2);
        assert_eq!(amounts(&rows), [None, None, Some("9100.00")]);
        // Equal amounts: the first row keeps it.
        let mut rows = vec![row("A", 2, "s:1", "700"), row("A", 2, "s:2", "700.00")];
        amount_once_per_record(&mut rows, 1);
        assert_eq!(amounts(&rows), [Some("700"), None]);
        // Different records of one lead (payments) each count.
        let mut rows = vec![row("A", 2, "d:1", "2100"), row("A", 3, "d:1", "2100")];
        amount_once_per_record(&mut rows, 1);
        assert_eq!(amounts(&rows), [Some("2100"), Some("2100")]);
    }

    #[test]
    fn amounts_sum_the_way_a_calculator_does() {
        // 0.1 + 0.2 is 0.3 here, not 0.30000000000000004.
        assert_eq!(exact_total(["0.1", "0.2"]).as_deref(), Some("0.30"));
        assert_eq!(
            exact_total(["2345.60", "2345.6", "-1.005"]).as_deref(),
            Some("4690.195")
        );
        assert_eq!(exact_total(["-3", "1"]).as_deref(), Some("-2.00"));
        // Beyond a double's 15–17 digits, still exact.
        assert_eq!(
            exact_total(["99999999999999999.99", "0.01"]).as_deref(),
            Some("100000000000000000.00")
        );
        // Not a plain decimal: no total rather than a wrong one.
        assert_eq!(exact_total(["1e3"]), None);
        assert_eq!(exact_total(["12", "abc"]), None);
        assert_eq!(exact_total([".5"]), None);
        assert_eq!(exact_total(std::iter::empty::<&str>()), None);
    }
}
