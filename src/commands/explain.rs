//! `crosscheck explain RULE_ID`: a rule's logical plan, the optimised Polars plan it lowers to,
//! and which aggregates run on crosscheck's own group-by — from schemas alone, no data.

use std::path::Path;

use crate::error::Error;
use crate::plan;

/// The explanation of `rule_id`, as text.
pub fn explain(config: &Path, rule_id: &str) -> Result<String, Error> {
    let (job, rules) = super::load_and_compile(config)?;
    let Some(rule) = rules.iter().find(|r| r.id == rule_id) else {
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        let hint = crate::error::nearest(rule_id, ids.iter().copied())
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| format!("rules: {}", ids.join(", ")));
        return Err(Error::Input {
            path: config.to_path_buf(),
            message: format!("no enabled rule `{rule_id}`; {hint}"),
        });
    };
    let mut out = format!(
        "rule {} ({}) — {}\n\nlogical plan:\n{}\n",
        rule.id, rule.kind, rule.title, rule.plan
    );
    // The Polars plan needs schemas only: lower over empty frames of the catalog's types.
    let frames = crate::ingest::empty_frames(&job.catalog, &rule.datasets)?;
    let lf = plan::lower::lower(&rule.plan, &frames)?;
    out.push_str(&format!(
        "polars plan (optimised):\n{}\n",
        lf.describe_optimized_plan()?
    ));
    let own = plan::lower::own_group_bys(&rule.plan, &frames)?;
    if own > 0 {
        out.push_str(&format!(
            "\n{own} aggregate(s) grouped by one text column run on crosscheck's own group-by, \
             not on Polars' group_by shown: fed by the scan above, or reading the cache's files \
             itself when the cache serves the dataset\n"
        ));
    }
    Ok(out)
}
