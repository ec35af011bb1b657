//! Compiling rule files against the catalog's schemas: every expression parsed and typed,
//! every name resolved, every problem of every rule reported together with file:line:col.

use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::Plan;
use super::expr::{self, Expr, ExprError, Lit, Scope};
use crate::error::{Diagnostic, nearest};
use crate::job::catalog::{Catalog, Personal, ValueType};
use crate::job::rule::{EvidenceSpec, ParamType, ParamValue, RuleFile, SourceSpec};
use crate::job::{Job, Severity, yaml};

/// A rule ready to run: its header and its logical plan.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub kind: &'static str,
    pub path: PathBuf,
    /// Parameter values in force (defaults overridden by the job), as text.
    pub params: Vec<(String, String)>,
    pub datasets: Vec<String>,
    pub evidence_labels: Vec<String>,
    /// The type of each evidence value (the workbook writes numbers and dates as such).
    pub evidence_types: Vec<ValueType>,
    /// Evidence values holding names or ID numbers, which `--mask` hides.
    pub evidence_personal: Vec<Option<Personal>>,
    /// The rule declares `amount`: its value per row is the `__ev` column after the evidence.
    pub has_amount: bool,
    /// Why the rule's money cannot be counted in this job (a `default: as_of` parameter its
    /// `amount` reads, and no `as_of`): its leads run, their amounts are unknown.
    pub amount_unknown: Option<String>,
    /// How many partners make a lead (`match`'s `min_partners`; 1 otherwise): a record shown
    /// beside several counts once, at the amount that many of its rows support.
    pub amount_support: usize,
    pub message: Option<String>,
    pub plan: Plan,
}

/// The rule kinds, as written in rule files.
pub const KINDS: [&str; 9] = [
    "row_check",
    "duplicate",
    "match",
    "aggregate",
    "reconcile",
    "time_window",
    "fuzzy_duplicate",
    "sql",
    "link",
];

/// Compiles every enabled rule of a job; all diagnostics of all rules are returned together.
pub fn compile_rules(job: &Job) -> Compiled {
    let mut diagnostics = job.problems.clone();
    if let Some(a) = &job.as_of
        && let Err(e) = expr::param_literal(&ParamValue::Text(a.clone()), ParamType::Date)
    {
        diagnostics.push(
            Diagnostic::new(&job.path, 0, 0, format!("as_of `{a}`: {e}"))
                .with_help("the date the extracts were taken, e.g. `as_of: 2025-12-31`"),
        );
    }
    let mut rules = Vec::new();
    for rule in job.rules.iter().filter(|r| r.spec.enabled) {
        let overrides = job.params.get(rule.id());
        let before = diagnostics.len();
        let compiled = compile_rule(
            rule,
            &job.catalog,
            overrides,
            job.as_of.as_deref(),
            &mut diagnostics,
        );
        // A rule file with any problem (including a duplicate id) does not run.
        let clean = diagnostics[..before].iter().all(|d| d.file != rule.path)
            && diagnostics.len() == before;
        if let (Some(c), true) = (compiled, clean) {
            rules.push(c);
        }
    }
    Compiled { rules, diagnostics }
}

/// The rules that compiled, and every problem found (in rule files and the job).
pub struct Compiled {
    pub rules: Vec<CompiledRule>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn compile_rule(
    rule: &RuleFile,
    catalog: &Catalog,
    overrides: Option<&indexmap::IndexMap<String, ParamValue>>,
    as_of: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<CompiledRule> {
    let before = diags.len();
    let spec = &rule.spec;
    let mut params = Vec::new();
    let mut shown_params = Vec::new();
    let mut amount_unknown = None;
    for (name, p) in &spec.params {
        let mut value = overrides
            .and_then(|o| o.get(name))
            .unwrap_or(&p.default.value);
        // `default: as_of`: the job's date the extracts were taken, never a date frozen into
        // the rule (money counted to a stale month would be wrong without a sign).
        let job_date;
        if p.ty == ParamType::Date && *value == ParamValue::Text("as_of".into()) {
            match as_of {
                Some(a) => {
                    job_date = ParamValue::Text(a.to_string());
                    value = &job_date;
                }
                None => {
                    // Used by `amount` alone, the leads do not need it: they run, and their
                    // money is unknown (never counted to a guessed month). Used anywhere
                    // else, the leads would change without it: the rule does not run.
                    let text = fs_err::read_to_string(&rule.path).unwrap_or_default();
                    let in_amount = spec
                        .amount
                        .as_ref()
                        .map_or(0, |a| param_uses(&a.value, name));
                    let fix = format!(
                        "add `as_of: 2025-12-31` (your extracts' date) to the job file, or \
                         set `params: {{ {}: {{ {name}: 2025-12-31 }} }}`",
                        spec.id.value
                    );
                    if in_amount > 0 && param_uses(&text, name) == in_amount {
                        amount_unknown = Some(format!(
                            "its money is not counted: parameter `{name}` is the job's `as_of`, \
                             the date the extracts were taken, and the job has none; {fix}"
                        ));
                    } else {
                        diags.push(
                            yaml::at(
                                &rule.path,
                                &p.default,
                                format!(
                                    "parameter `{name}` is the job's `as_of`, the date the \
                                     extracts were taken, and the job has none"
                                ),
                            )
                            .with_help(fix),
                        );
                    }
                    // A date to compute with (an untyped NULL stops date functions); the
                    // amounts it gives are discarded (`amount_unknown`), and in the error case
                    // the rule does not run. Declared, its uses are not reported unknown too.
                    params.push((name.clone(), ValueType::Date, Lit::Date(0)));
                    continue;
                }
            }
        }
        match expr::param_literal(value, p.ty) {
            Ok((lit, ty)) => {
                shown_params.push((name.clone(), value.to_string()));
                params.push((name.clone(), ty, lit));
            }
            Err(e) => diags.push(yaml::at(
                &rule.path,
                &p.default,
                format!("parameter `{name}`: {e}"),
            )),
        }
    }
    let mut ctx = Ctx {
        path: &rule.path,
        catalog,
        params: std::rc::Rc::new(params),
        diags,
        datasets: Vec::new(),
        evidence_types: Vec::new(),
        evidence_exprs: Vec::new(),
        overrides,
    };
    if let Some(o) = overrides {
        let implicit = |name: &str| {
            spec.link
                .as_ref()
                .is_some_and(|l| super::kinds::link::takes_param(l, name))
        };
        for name in o
            .keys()
            .filter(|k| !spec.params.contains_key(*k) && !implicit(k))
        {
            ctx.diags.push(yaml::at(
                ctx.path,
                &spec.id,
                format!(
                    "the job sets parameter `{name}` that rule `{}` does not declare",
                    spec.id.value
                ),
            ));
        }
    }
    use super::kinds;
    // The amount is compiled as one more evidence expression, in the kind's own scope, and
    // read apart from the evidence (the last `__ev` column).
    let mut ev_specs = spec.evidence.clone();
    if let Some(a) = &spec.amount {
        ev_specs.push(EvidenceSpec {
            label: "涉及金额 / Amount".into(),
            expr: a.clone(),
        });
    }
    let ev = &ev_specs;
    let mut chosen: Vec<(&'static str, Option<Plan>)> = Vec::new();
    if let Some(k) = &spec.row_check {
        chosen.push(("row_check", kinds::row_check::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.duplicate {
        chosen.push(("duplicate", kinds::duplicate::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.matching {
        chosen.push(("match", kinds::matching::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.aggregate {
        chosen.push(("aggregate", kinds::aggregate::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.reconcile {
        chosen.push(("reconcile", kinds::reconcile::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.time_window {
        chosen.push(("time_window", kinds::time_window::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.fuzzy_duplicate {
        chosen.push((
            "fuzzy_duplicate",
            kinds::fuzzy_duplicate::plan(&mut ctx, k, ev),
        ));
    }
    if let Some(k) = &spec.sql {
        chosen.push(("sql", kinds::sql::plan(&mut ctx, k, ev)));
    }
    if let Some(k) = &spec.link {
        chosen.push(("link", kinds::link::plan(&mut ctx, k, ev, &spec.id)));
    }
    if chosen.len() != 1 {
        ctx.diags.push(yaml::at(
            ctx.path,
            &spec.id,
            format!(
                "a rule has exactly one kind ({}); this one has {}",
                KINDS.join(", "),
                chosen.len()
            ),
        ));
        return None;
    }
    let (kind, plan) = chosen.pop().expect("one kind");
    let labels: Vec<String> = spec.evidence.iter().map(|e| e.label.clone()).collect();
    if let Some(m) = &spec.message {
        for placeholder in template_names(&m.value) {
            if !labels.contains(&placeholder) {
                let mut d = yaml::at(
                    ctx.path,
                    m,
                    format!("message names `{{{placeholder}}}`, which is not an evidence label"),
                );
                if let Some(n) = nearest(&placeholder, labels.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{{{n}}}`?"));
                }
                ctx.diags.push(d);
            }
        }
    }
    let datasets = ctx.datasets.clone();
    let mut evidence_types = ctx.evidence_types.clone();
    let mut evidence_personal = ctx.evidence_personal();
    if let Some(a) = &spec.amount {
        let ty = evidence_types.pop();
        evidence_personal.pop();
        if !matches!(ty, Some(ValueType::Int | ValueType::Float) | None) {
            ctx.diags.push(yaml::at(
                ctx.path,
                a,
                format!(
                    "`amount` must be a number summed over a lead's rows; this is a {}",
                    ty.unwrap_or(ValueType::Null)
                ),
            ));
        }
    }
    if ctx.diags.len() > before {
        return None;
    }
    Some(CompiledRule {
        id: spec.id.value.clone(),
        title: spec.title.clone(),
        description: spec.description.clone(),
        severity: spec.severity,
        tags: spec.tags.clone(),
        kind,
        path: rule.path.clone(),
        params: shown_params,
        datasets,
        evidence_labels: labels,
        evidence_types,
        evidence_personal,
        has_amount: spec.amount.is_some(),
        amount_unknown,
        amount_support: spec
            .matching
            .as_ref()
            .and_then(|m| m.min_partners.as_ref())
            .map_or(1, |n| n.value.max(1) as usize),
        message: spec.message.as_ref().map(|m| m.value.clone()),
        plan: super::exact::exact(plan?, &|dataset| numeric_columns(ctx.catalog, dataset)),
    })
}

/// How many times text uses parameter `:name` (not a longer name it begins).
fn param_uses(text: &str, name: &str) -> usize {
    let needle = format!(":{name}");
    text.match_indices(&needle)
        .filter(|(i, _)| {
            text[i + needle.len()..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .count()
}

/// `{name}` placeholders in a message template.
pub fn template_names(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        match rest[i + 1..].find('}') {
            Some(j) => {
                out.push(rest[i + 1..i + 1 + j].to_string());
                rest = &rest[i + 2 + j..];
            }
            None => break,
        }
    }
    out
}

/// Source plans with their schemas, the columns all of them share, and a display name.
pub type Sources = (Vec<(Plan, Schema)>, Schema, String);
/// A dataset's columns and their types.
pub type Schema = Vec<(String, ValueType)>;

/// Per-rule compilation state shared by the kinds.
pub struct Ctx<'a> {
    pub path: &'a Path,
    pub catalog: &'a Catalog,
    pub params: std::rc::Rc<Vec<(String, ValueType, Lit)>>,
    pub diags: &'a mut Vec<Diagnostic>,
    pub datasets: Vec<String>,
    pub evidence_types: Vec<ValueType>,
    pub evidence_exprs: Vec<Expr>,
    /// The job's (and `--param`'s) values for the rule, as given: a `link` rule reads its
    /// threshold, prior and weights from them without declaring them.
    pub overrides: Option<&'a indexmap::IndexMap<String, ParamValue>>,
}

impl Ctx<'_> {
    /// For each evidence expression, the personal data it reads (by the columns it names).
    fn evidence_personal(&self) -> Vec<Option<Personal>> {
        let personal: Vec<(String, Personal)> = self
            .datasets
            .iter()
            .flat_map(|d| self.catalog.personal(d))
            .collect();
        self.evidence_exprs
            .iter()
            .map(|e| {
                let mut cols = Vec::new();
                e.columns(&mut cols);
                cols.iter()
                    .filter_map(|c| {
                        let bare = c
                            .strip_prefix("l.")
                            .or_else(|| c.strip_prefix("r."))
                            .unwrap_or(c);
                        personal.iter().find(|(n, _)| n == bare).map(|(_, p)| *p)
                    })
                    // `Name` first: an expression mixing a name and an ID is masked as both.
                    .min()
            })
            .collect()
    }

    /// The schema of a named dataset, or a diagnostic naming the nearest dataset.
    pub fn schema(&mut self, name: &Spanned<String>) -> Option<Vec<(String, ValueType)>> {
        match self.catalog.schema(&name.value) {
            Some(s) => {
                if !self.datasets.contains(&name.value) {
                    self.datasets.push(name.value.clone());
                }
                Some(s)
            }
            None => {
                let mut d = yaml::at(self.path, name, format!("unknown dataset `{}`", name.value));
                d = match nearest(
                    &name.value,
                    self.catalog.datasets.keys().map(String::as_str),
                ) {
                    Some(n) => d.with_help(format!(
                        "did you mean `{n}`? datasets are declared in {}",
                        self.catalog.path.display()
                    )),
                    None => d.with_help(format!(
                        "datasets in {}: {}",
                        self.catalog.path.display(),
                        self.catalog
                            .datasets
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                self.diags.push(d);
                None
            }
        }
    }

    pub fn scope<'s>(&self, columns: Vec<(String, ValueType)>, name: &'s str) -> Scope<'s> {
        Scope {
            columns,
            left: None,
            right: None,
            left_name: name,
            right_name: "",
            params: self.params.clone(),
            allow_aggregates: false,
        }
    }

    /// Compiles one expression; a problem becomes a located diagnostic.
    pub fn expr(&mut self, text: &Spanned<String>, scope: &Scope) -> Option<(Expr, ValueType)> {
        match expr::compile(&text.value, scope) {
            Ok(x) => Some(x),
            Err(e) => {
                self.diags.push(locate(self.path, text, e));
                None
            }
        }
    }

    /// An expression that must be a condition.
    pub fn condition(&mut self, text: &Spanned<String>, scope: &Scope) -> Option<Expr> {
        let (e, t) = self.expr(text, scope)?;
        if matches!(t, ValueType::Bool | ValueType::Null) {
            Some(e)
        } else {
            self.diags.push(locate(
                self.path,
                text,
                ExprError {
                    line: 1,
                    column: 1,
                    message: format!("this is a {t}, a condition must be true or false"),
                    help: Some("compare it, e.g. `x > 0` or `x IS NOT NULL`".into()),
                },
            ));
            None
        }
    }

    /// Evidence expressions, each cast to text.
    pub fn evidence(&mut self, evidence: &[EvidenceSpec], scope: &Scope) -> Option<Vec<Expr>> {
        let mut out = Vec::new();
        let mut types = Vec::new();
        let mut ok = true;
        for e in evidence {
            match self.expr(&e.expr, scope) {
                Some((x, t)) => {
                    out.push(Expr::ToText(Box::new(x)));
                    types.push(t);
                }
                None => ok = false,
            }
        }
        self.evidence_types = types;
        self.evidence_exprs = out.clone();
        ok.then_some(out)
    }

    /// Key expressions joined into one text key (NULL when any part is NULL).
    /// The lead key a rule's `key:` names, or the kind's `default` without one.
    pub fn lead_key(
        &mut self,
        key: Option<&Vec<Spanned<String>>>,
        scope: &Scope,
        default: Expr,
    ) -> Option<Expr> {
        match key {
            Some(k) if !k.is_empty() => self.key(k, scope),
            _ => Some(default),
        }
    }

    pub fn key(&mut self, key: &[Spanned<String>], scope: &Scope) -> Option<Expr> {
        let mut parts = Vec::new();
        for k in key {
            parts.push(Expr::ToText(Box::new(self.expr(k, scope)?.0)));
        }
        Some(key_of(parts))
    }

    /// One or more sources, filtered, with the columns all of them share; several sources are
    /// unioned after projecting to the columns the rule reads.
    pub fn sources(&mut self, sources: &[SourceSpec]) -> Option<Sources> {
        if sources.is_empty() {
            self.diags.push(Diagnostic::new(
                self.path,
                0,
                0,
                "`sources` lists no dataset",
            ));
            return None;
        }
        let mut plans = Vec::new();
        let mut common: Option<Vec<(String, ValueType)>> = None;
        for s in sources {
            let Some(schema) = self.schema(&s.dataset) else {
                continue;
            };
            let filter = match &s.filter {
                Some(w) => {
                    let scope = self.scope(schema.clone(), &s.dataset.value);
                    match self.condition(w, &scope) {
                        Some(c) => Some(c),
                        None => continue,
                    }
                }
                None => None,
            };
            common = Some(match common {
                None => schema.clone(),
                Some(c) => c.into_iter().filter(|col| schema.contains(col)).collect(),
            });
            plans.push((
                Plan::Scan {
                    dataset: s.dataset.value.clone(),
                }
                .filter(filter),
                schema,
            ));
        }
        if plans.len() != sources.len() {
            return None;
        }
        let names: Vec<&str> = sources.iter().map(|s| s.dataset.value.as_str()).collect();
        Some((plans, common.unwrap_or_default(), names.join(" + ")))
    }
}

/// The two sides of a pair kind (match, reconcile, time_window): each source's plan, its
/// columns and its name.
pub struct Sides {
    pub left: Plan,
    pub right: Plan,
    pub lcols: Schema,
    pub rcols: Schema,
    pub lname: String,
    pub rname: String,
}

impl Sides {
    /// Compiles both sources (reporting problems on each).
    pub fn of(ctx: &mut Ctx, left: &SourceSpec, right: &SourceSpec) -> Option<Sides> {
        let l = ctx.sources(std::slice::from_ref(left));
        let r = ctx.sources(std::slice::from_ref(right));
        let ((mut lp, lcols, lname), (mut rp, rcols, rname)) = (l?, r?);
        Some(Sides {
            left: lp.remove(0).0,
            right: rp.remove(0).0,
            lcols,
            rcols,
            lname,
            rname,
        })
    }

    /// The scope of `l.` / `r.` expressions, plus unqualified `extra` columns.
    pub fn scope<'s>(&'s self, ctx: &Ctx, extra: Schema) -> Scope<'s> {
        Scope {
            columns: extra,
            left: Some(&self.lcols),
            right: Some(&self.rcols),
            left_name: &self.lname,
            right_name: &self.rname,
            params: ctx.params.clone(),
            allow_aggregates: false,
        }
    }
}

/// `l.a = r.b AND …` → equi-join key pairs (left, right).
pub fn equi_keys(ctx: &mut Ctx, on: &Spanned<String>, pair: &Scope) -> Option<Vec<(Expr, Expr)>> {
    fn side(e: &Expr) -> Option<char> {
        let mut cols = Vec::new();
        e.columns(&mut cols);
        let l = cols.iter().all(|c| c.starts_with("l."));
        let r = cols.iter().all(|c| c.starts_with("r."));
        match (cols.is_empty(), l, r) {
            (false, true, false) => Some('l'),
            (false, false, true) => Some('r'),
            _ => None,
        }
    }
    fn split(e: &Expr, out: &mut Vec<(Expr, Expr)>) -> bool {
        match e {
            Expr::Bin(expr::BinOp::And, a, b) => split(a, out) && split(b, out),
            Expr::Bin(expr::BinOp::Eq, a, b) => match (side(a), side(b)) {
                (Some('l'), Some('r')) => {
                    out.push(((**a).clone(), (**b).clone()));
                    true
                }
                (Some('r'), Some('l')) => {
                    out.push(((**b).clone(), (**a).clone()));
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }
    let (e, _) = ctx.expr(on, pair)?;
    let mut out = Vec::new();
    if split(&e, &mut out) {
        Some(out)
    } else {
        ctx.diags.push(locate(ctx.path, on, ExprError {
            line: 1,
            column: 1,
            message: format!("`on` must be equalities between an l. and an r. expression joined by AND; got {e}"),
            help: Some("put other comparisons in `condition`".into()),
        }));
        None
    }
}

/// The same expression reading prefixed columns (`l.` / `r.`).
/// The two sides of a pair, their columns read as `l.` and `r.`.
pub fn l_and_r(left: Plan, right: Plan) -> (Box<Plan>, Box<Plan>) {
    let side = |input, prefix: &str| {
        Box::new(Plan::Prefix {
            input: Box::new(input),
            prefix: prefix.into(),
        })
    };
    (side(left, "l."), side(right, "r."))
}

pub fn prefixed(e: &Expr, prefix: &str) -> Expr {
    e.map_columns(&|c| format!("{prefix}{c}"))
}

/// Unions several source plans after projecting each to `columns`.
pub fn union_of(plans: Vec<(Plan, Vec<(String, ValueType)>)>, columns: &[String]) -> Plan {
    if plans.len() == 1 {
        return plans.into_iter().next().expect("one plan").0;
    }
    let project: Vec<(String, Expr)> = columns
        .iter()
        .map(|c| (c.clone(), Expr::Col(c.clone())))
        .collect();
    Plan::Union {
        inputs: plans
            .into_iter()
            .map(|(p, _)| Plan::Project {
                input: Box::new(p),
                columns: project.clone(),
            })
            .collect(),
    }
}

pub fn key_of(parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        parts.into_iter().next().expect("one part")
    } else {
        let mut args = Vec::new();
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 {
                args.push(Expr::Lit(Lit::Text("|".into())));
            }
            args.push(p);
        }
        Expr::Func(expr::Func::Concat, args)
    }
}

/// The partner record of a pair, as `file:row` of its `r.` side.
pub fn partner_of_right() -> Expr {
    Expr::Func(
        expr::Func::Concat,
        vec![
            Expr::Col("r.__file".into()),
            Expr::Lit(Lit::Text(":".into())),
            Expr::ToText(Box::new(Expr::Col("r.__row".into()))),
        ],
    )
}

/// The final projection every kind ends with: key, provenance of the flagged record (columns
/// under `prefix`), the partner's provenance, and the evidence.
pub fn lead_projection(
    input: Plan,
    key: Expr,
    prefix: &str,
    partner: Option<Expr>,
    evidence: Vec<Expr>,
) -> Plan {
    let col = |c: &str| Expr::Col(format!("{prefix}{c}"));
    let mut columns = vec![
        ("__key".to_string(), key),
        ("__dataset".to_string(), col("__dataset")),
        ("__file".to_string(), col("__file")),
        ("__sheet".to_string(), col("__sheet")),
        ("__row".to_string(), col("__row")),
        (
            "__partner".to_string(),
            partner.unwrap_or(Expr::Lit(Lit::Null)),
        ),
    ];
    for (i, e) in evidence.into_iter().enumerate() {
        columns.push((format!("__ev{i}"), e));
    }
    Plan::Project {
        input: Box::new(input),
        columns,
    }
}

/// Maps a position inside an expression to the rule file: the YAML scalar's own position,
/// plus an opening quote, plus the line inside a block scalar.
pub fn locate(path: &Path, text: &Spanned<String>, e: ExprError) -> Diagnostic {
    let (line, col) = (text.referenced.line(), text.referenced.column());
    let source = fs_err::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = source.lines().collect();
    let at = lines
        .get(line.saturating_sub(1) as usize)
        .and_then(|l| l.chars().nth(col.saturating_sub(1) as usize));
    let indent_of = |n: u64| -> u64 {
        lines
            .get(n.saturating_sub(1) as usize)
            .map(|l| (l.len() - l.trim_start().len()) as u64)
            .unwrap_or(0)
    };
    let (l, c) = match at {
        Some('|' | '>') => {
            let l = line + e.line;
            (l, indent_of(l) + e.column)
        }
        Some(q) if e.line == 1 => (line, col + u64::from(q == '"' || q == '\'') + e.column - 1),
        _ if e.line == 1 => (line, col + e.column - 1),
        _ => {
            let l = line + e.line - 1;
            (l, indent_of(l) + e.column)
        }
    };
    let mut d = Diagnostic::new(path, l, c, e.message);
    if let Some(h) = e.help {
        d = d.with_help(h);
    }
    d
}

/// A dataset's numeric columns with their decimal places (integers: none), for `exact`.
fn numeric_columns(catalog: &Catalog, dataset: &str) -> Vec<(String, super::exact::Places)> {
    use super::exact::Places;
    let mut out: Vec<(String, Places)> = catalog
        .schema(dataset)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, t)| *t == ValueType::Int)
        .map(|(n, _)| {
            (
                n,
                Places {
                    scale: 0,
                    decimal: false,
                    money: false,
                },
            )
        })
        .collect();
    let money = catalog.money_columns(dataset);
    out.extend(catalog.scales(dataset).into_iter().map(|(n, scale)| {
        let money = money.contains(&n);
        (
            n,
            Places {
                scale,
                decimal: true,
                money,
            },
        )
    }));
    out
}
