//! The rule file model: one rule per YAML file, a common header and exactly one kind.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::Diagnostic;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable across runs: lead IDs derive from it.
    pub id: Spanned<String>,
    /// Chinese first, English beside it.
    pub title: String,
    pub description: String,
    pub severity: Severity,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub params: IndexMap<String, ParamSpec>,
    /// Columns shown to inspectors beside each lead, each with a label.
    #[serde(default)]
    pub evidence: Vec<EvidenceSpec>,
    /// Money at stake (涉及金额): an expression summed over each lead's rows, exactly.
    #[serde(default)]
    pub amount: Option<Spanned<String>>,
    /// A sentence per lead; `{label}` is replaced by that evidence value.
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    #[serde(default)]
    pub row_check: Option<RowCheckSpec>,
    #[serde(default)]
    pub duplicate: Option<DuplicateSpec>,
    #[serde(default, rename = "match")]
    pub matching: Option<MatchSpec>,
    #[serde(default)]
    pub aggregate: Option<AggregateSpec>,
    #[serde(default)]
    pub reconcile: Option<ReconcileSpec>,
    #[serde(default)]
    pub time_window: Option<TimeWindowSpec>,
    #[serde(default)]
    pub fuzzy_duplicate: Option<FuzzyDuplicateSpec>,
    #[serde(default)]
    pub sql: Option<SqlSpec>,
    #[serde(default)]
    pub link: Option<LinkSpec>,
    /// Small fixtures run by `crosscheck test` through the real loader and normalisers.
    #[serde(default)]
    pub tests: Vec<FixtureSpec>,
}

/// A rule fixture: rows in source headers per dataset, and the leads they must produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureSpec {
    pub name: Spanned<String>,
    /// dataset → rows, each a map from a source header to a cell value.
    pub given: IndexMap<String, Vec<IndexMap<String, Option<ParamValue>>>>,
    /// Parameter values for this fixture only (e.g. a smaller minimum sample, so that a
    /// statistical test can be shown on a few rows).
    #[serde(default)]
    pub params: IndexMap<String, ParamValue>,
    pub expect: ExpectSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The exact set of lead keys.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// The number of leads (distinct keys).
    #[serde(default)]
    pub count: Option<usize>,
    /// The money at stake over all the leads, as a calculator writes it (`"3720.00"`), for a
    /// rule that declares `amount`.
    #[serde(default)]
    pub amount: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub default: Spanned<ParamValue>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Int,
    Decimal,
    Text,
    Date,
    Bool,
}

/// A parameter value as YAML gives it; typed against the declared `ParamType` at compile time.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Text(s) => write!(f, "{s}"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSpec {
    pub label: String,
    pub expr: Spanned<String>,
}

/// One dataset with an optional row filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub dataset: Spanned<String>,
    #[serde(default, rename = "where")]
    pub filter: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCheckSpec {
    /// One dataset, or several with the same column names (rows are unioned).
    pub sources: Vec<SourceSpec>,
    pub condition: Spanned<String>,
    pub key: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateSpec {
    pub sources: Vec<SourceSpec>,
    pub key: Vec<Spanned<String>>,
    /// Groups of at least this many records are flagged (2 unless given).
    #[serde(default)]
    pub min_count: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    Exists,
    NotExists,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    pub left: SourceSpec,
    /// The right dataset, with `on`, `condition` and `min_partners` — or several alternatives
    /// under `any`, each with its own.
    #[serde(default)]
    pub right: Option<SourceSpec>,
    /// Equalities between `l.` and `r.` expressions joined by AND.
    #[serde(default)]
    pub on: Option<Spanned<String>>,
    /// A condition on the pair (`l.` and `r.`), applied after the equi-join.
    #[serde(default)]
    pub condition: Option<Spanned<String>>,
    pub mode: MatchMode,
    /// exists: flag a left row only when it has at least this many partners (1 unless given).
    #[serde(default)]
    pub min_partners: Option<Spanned<u32>>,
    /// Alternative right sides: `exists` flags a left row when any of them holds (the evidence
    /// may say which: `alternative`), `not_exists` one that has a partner in none.
    #[serde(default)]
    pub any: Vec<MatchAlternative>,
    /// What one lead is, when not the kind's default: expressions whose values together
    /// make the lead key (over both sides where the kind has two).
    #[serde(default)]
    pub key: Option<Vec<Spanned<String>>>,
}

/// One right side of a `match` with alternatives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchAlternative {
    /// What `alternative` shows in evidence when this one holds (default: the dataset name).
    #[serde(default)]
    pub label: Option<String>,
    pub right: SourceSpec,
    pub on: Spanned<String>,
    #[serde(default)]
    pub condition: Option<Spanned<String>>,
    #[serde(default)]
    pub min_partners: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    pub source: SourceSpec,
    pub group_by: Vec<Spanned<String>>,
    /// name: aggregate expression — count(*), count(distinct x), sum(x), min, max, avg.
    pub measures: IndexMap<String, Spanned<String>>,
    pub having: Spanned<String>,
    /// What a lead lists: every member record (the default), or one row per group.
    #[serde(default)]
    pub rows: GroupRows,
    /// What one lead is, when not the kind's default: expressions whose values together
    /// make the lead key (over both sides where the kind has two).
    #[serde(default)]
    pub key: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRows {
    /// One row per member record: a shared account lists each person paid into it.
    #[default]
    Members,
    /// One row per group, pointing at the group's first record: for tests over a whole
    /// population (sequence gaps, Benford), where listing every member buries the lead.
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Flag when left − right exceeds the tolerance (book stock above measured stock).
    LeftAbove,
    /// Flag when right − left exceeds the tolerance.
    RightAbove,
    /// Flag a difference either way.
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// Keys present on one side only are flagged, whichever side.
    Both,
    Left,
    Right,
    /// Keys present on one side only are not flagged.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Differences up to this amount are normal.
    #[serde(default)]
    pub absolute: Option<f64>,
    /// Differences up to this share of one side's value are normal (0.03 = 3 %).
    #[serde(default)]
    pub relative: Option<f64>,
    /// Which side's value `relative` is a share of: `right` (the default) or `left` ("3 % of
    /// book stock" without swapping the sides).
    #[serde(default)]
    pub relative_to: RelativeTo,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelativeTo {
    Left,
    #[default]
    Right,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSpec {
    pub left: SourceSpec,
    pub right: SourceSpec,
    /// Equalities between `l.` and `r.` expressions joined by AND: the reconciliation key.
    pub on: Spanned<String>,
    /// Aggregate over the left rows of a key, e.g. `sum(book_tonnes)`.
    pub left_value: Spanned<String>,
    pub right_value: Spanned<String>,
    /// More aggregates per key, for evidence and `amount`: `{ paid: "sum(amount)" }`.
    #[serde(default)]
    pub left_measures: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub right_measures: IndexMap<String, Spanned<String>>,
    pub direction: Direction,
    #[serde(default)]
    pub tolerance: Option<Tolerance>,
    pub unmatched: Unmatched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// The right event follows the left one.
    After,
    /// Either order.
    Either,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    pub days: Option<f64>,
    #[serde(default)]
    pub hours: Option<f64>,
    #[serde(default)]
    pub minutes: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindowSpec {
    pub left: SourceSpec,
    /// Omitted: pairs within the left dataset.
    #[serde(default)]
    pub right: Option<SourceSpec>,
    pub on: Spanned<String>,
    /// The event time on each side: `l.weighed_at`, `r.weighed_at`.
    pub left_time: Spanned<String>,
    pub right_time: Spanned<String>,
    pub within: Window,
    #[serde(default = "order_after")]
    pub order: Order,
    #[serde(default)]
    pub condition: Option<Spanned<String>>,
    /// The guard: a key whose events would form more pairs than this stops the rule.
    #[serde(default = "default_max_pairs")]
    pub max_pairs: u64,
    /// What one lead is, when not the kind's default: expressions whose values together
    /// make the lead key (over both sides where the kind has two).
    #[serde(default)]
    pub key: Option<Vec<Spanned<String>>>,
}

fn order_after() -> Order {
    Order::After
}

fn default_max_pairs() -> u64 {
    1_000_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuzzyDuplicateSpec {
    pub source: SourceSpec,
    /// Records are compared only within a block sharing these values (e.g. name, birth date).
    pub block_on: Vec<Spanned<String>>,
    /// The identifier compared within a block, e.g. `coalesce(id_card, id_card_raw)`.
    pub id: Spanned<String>,
    /// Pairs whose IDs differ in more characters are not the same person.
    #[serde(default = "two")]
    pub max_diff: u32,
    /// Pairs scoring below this are not flagged (see the kind's documentation).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// What one lead is, when not the kind's default: expressions whose values together
    /// make the lead key (over both sides where the kind has two).
    #[serde(default)]
    pub key: Option<Vec<Spanned<String>>>,
}

fn two() -> u32 {
    2
}

fn default_threshold() -> f64 {
    0.6
}

/// Probabilistic record linkage (Fellegi–Sunter): two datasets, or one to deduplicate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub left: SourceSpec,
    /// Omitted: records of `left` are linked to each other (deduplication into clusters).
    #[serde(default)]
    pub right: Option<SourceSpec>,
    /// What identifies a record in the leads: one expression for both sides, or `left` and
    /// `right` (e.g. an ID number, a register's own record number).
    pub id: SidesSpec,
    /// Candidate pairs: each rule's equalities (`l.a = r.b AND …`); the rules' pairs are
    /// unioned and each pair scored once, tagged with the first rule that produced it.
    pub blocking: Vec<Spanned<String>>,
    /// The fields compared on each pair, each at a few levels of agreement.
    pub compare: Vec<CompareSpec>,
    /// Pairs whose match probability is at least this are leads (0.9 unless given).
    #[serde(default)]
    pub threshold: Option<Spanned<f64>>,
    /// The probability that two records drawn at random are one person; estimated from the
    /// data unless given.
    #[serde(default)]
    pub prior: Option<Spanned<f64>>,
    /// Fixed m and u probabilities per field (one per level, lowest level first), in place of
    /// the estimated ones.
    #[serde(default)]
    pub weights: IndexMap<String, FixedWeights>,
    /// Random record pairs drawn to estimate u (1,000,000 unless given).
    #[serde(default)]
    pub u_sample: Option<u64>,
    /// The guard: a blocking key whose records would form more pairs than this stops the rule.
    #[serde(default = "default_max_pairs")]
    pub max_pairs: u64,
    /// What one lead is, when not the kind's default: expressions whose values together
    /// make the lead key (over both sides where the kind has two).
    #[serde(default)]
    pub key: Option<Vec<Spanned<String>>>,
}

/// One expression for both sides, or one per side.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SidesSpec {
    Both(Spanned<String>),
    Each {
        left: Spanned<String>,
        right: Spanned<String>,
    },
}

impl SidesSpec {
    pub fn left(&self) -> &Spanned<String> {
        match self {
            SidesSpec::Both(e) => e,
            SidesSpec::Each { left, .. } => left,
        }
    }
    pub fn right(&self) -> &Spanned<String> {
        match self {
            SidesSpec::Both(e) => e,
            SidesSpec::Each { right, .. } => right,
        }
    }
}

/// One compared field of a `link`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// The field's name in evidence (`<field>_level`, `<field>_weight`) and the weights.
    pub field: Spanned<String>,
    /// How the values are compared: chinese_name, text, date, id, address, exact.
    #[serde(rename = "as")]
    pub method: CompareMethod,
    /// The same expression on both sides…
    #[serde(default)]
    pub column: Option<Spanned<String>>,
    /// …or one per side.
    #[serde(default)]
    pub left: Option<Spanned<String>>,
    #[serde(default)]
    pub right: Option<Spanned<String>>,
    /// Term frequencies: agreement on a common value (王, 李; a big town) weighs less than on
    /// a rare one. On by default for chinese_name, text and exact.
    #[serde(default)]
    pub term_frequency: Option<bool>,
    /// `text` and `address`: the similarities that make its partial levels, in place of the
    /// method's own (Jaro-Winkler 0.92 and 0.80; shared tokens 0.7 and 0.4).
    #[serde(default)]
    pub thresholds: Option<Spanned<Vec<f64>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareMethod {
    ChineseName,
    Text,
    Date,
    Id,
    Address,
    Exact,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedWeights {
    #[serde(default)]
    pub m: Option<Vec<f64>>,
    #[serde(default)]
    pub u: Option<Vec<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    /// A query over the registered datasets (Polars SQL), returning the flagged rows with
    /// `__file`, `__sheet` and `__row` when provenance is wanted.
    pub query: Spanned<String>,
    /// Columns of the query's result forming the lead key.
    pub key: Vec<Spanned<String>>,
    /// The dataset whose `__file`, `__sheet` and `__row` the query returns (default: the
    /// first dataset the query names).
    #[serde(default)]
    pub provenance: Option<Spanned<String>>,
}

/// A parsed rule file.
#[derive(Debug, Clone)]
pub struct RuleFile {
    pub path: PathBuf,
    pub spec: RuleSpec,
}

impl RuleFile {
    pub fn load(path: &Path) -> Result<RuleFile, Diagnostic> {
        let text = fs_err::read_to_string(path)
            .map_err(|e| Diagnostic::new(path, 0, 0, format!("cannot read the rule file: {e}")))?;
        let spec: RuleSpec = super::yaml::parse_strict(path, &text)?;
        // A rule id names sheets, files and bundle folders.
        super::names::check_safe_name(&spec.id.value).map_err(|why| {
            super::yaml::at(
                path,
                &spec.id,
                format!("rule id `{}`: {why}", spec.id.value.escape_debug()),
            )
            .with_help("a rule id is one name: letters, digits, `_`, `-` (e.g. dibao_owns_car)")
        })?;
        Ok(RuleFile {
            path: path.to_path_buf(),
            spec,
        })
    }

    pub fn id(&self) -> &str {
        &self.spec.id.value
    }
}
