//! The reference of every rule kind: each key (a list, a scalar or a map), its default, what
//! evidence may read, what one lead is, and which ends of windows and tolerances count. It is
//! printed by `crosscheck kinds` and stands in the README; tests check it against the keys the
//! rule parser accepts and against the README, so neither can drift from the engine.

/// One key of a kind.
pub struct KeyDoc {
    pub name: &'static str,
    /// `list`, `scalar` or `map`.
    pub shape: &'static str,
    /// `required`, or the value taken when the key is absent.
    pub default: &'static str,
    pub meaning: &'static str,
}

/// One kind.
pub struct KindDoc {
    pub kind: &'static str,
    pub keys: &'static [KeyDoc],
    /// Columns evidence (and `key`) may read besides the datasets' own.
    pub evidence: &'static str,
    /// What one lead is by default.
    pub lead: &'static str,
    /// Which ends of windows and tolerances count.
    pub bounds: &'static str,
}

const fn key(
    name: &'static str,
    shape: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> KeyDoc {
    KeyDoc {
        name,
        shape,
        default,
        meaning,
    }
}

const SOURCES: KeyDoc = key(
    "sources",
    "list",
    "required",
    "`{dataset, where}` per dataset; several are unioned on their shared columns",
);
const LEAD_KEY: KeyDoc = key(
    "key",
    "list",
    "the kind's lead",
    "expressions whose values make one lead (over `l.` and `r.` where there are two sides)",
);

pub const REFERENCE: &[KindDoc] = &[
    KindDoc {
        kind: "row_check",
        keys: &[
            SOURCES,
            key(
                "condition",
                "scalar",
                "required",
                "rows where it holds are flagged",
            ),
            key("key", "list", "required", "expressions making the lead key"),
        ],
        evidence: "the sources' columns",
        lead: "`key`",
        bounds: "as the condition writes them",
    },
    KindDoc {
        kind: "duplicate",
        keys: &[
            SOURCES,
            key("key", "list", "required", "the shared key"),
            key(
                "min_count",
                "scalar",
                "2",
                "groups of at least this many records",
            ),
        ],
        evidence: "the sources' columns, `group_size`",
        lead: "`key`",
        bounds: "`min_count` counts (at least)",
    },
    KindDoc {
        kind: "match",
        keys: &[
            key("left", "map", "required", "`{dataset, where}`"),
            key(
                "right",
                "map",
                "required without `any`",
                "`{dataset, where}`",
            ),
            key(
                "on",
                "scalar",
                "required without `any`",
                "equalities `l.x = r.y` joined by AND",
            ),
            key("condition", "scalar", "none", "on the pair (`l.`, `r.`)"),
            key("mode", "scalar", "required", "`exists` or `not_exists`"),
            key(
                "min_partners",
                "scalar",
                "1",
                "`exists`: at least this many partners",
            ),
            key(
                "any",
                "list",
                "none",
                "alternatives `{label, right, on, condition, min_partners}`; a lead when any holds",
            ),
            LEAD_KEY,
        ],
        evidence: "`l.` and `r.` columns (`l.` only for `not_exists`); with `any`, every alternative's `r.` columns and `alternative`",
        lead: "the left side of `on`",
        bounds: "`min_partners` counts (at least)",
    },
    KindDoc {
        kind: "aggregate",
        keys: &[
            key("source", "map", "required", "`{dataset, where}`"),
            key("group_by", "list", "required", "the group's expressions"),
            key(
                "measures",
                "map",
                "required",
                "`name: aggregate` (count, sum, avg, min, max, benford_mad, and expressions of them)",
            ),
            key(
                "having",
                "scalar",
                "required",
                "groups where it holds are flagged",
            ),
            key(
                "rows",
                "scalar",
                "members",
                "`members`: a row per member record; `group`: one row per group",
            ),
            LEAD_KEY,
        ],
        evidence: "the source's columns and the measures",
        lead: "the group values",
        bounds: "as `having` writes them; sums are exact decimals",
    },
    KindDoc {
        kind: "reconcile",
        keys: &[
            key("left", "map", "required", "`{dataset, where}`"),
            key("right", "map", "required", "`{dataset, where}`"),
            key(
                "on",
                "scalar",
                "required",
                "equalities `l.x = r.y`: the reconciliation key",
            ),
            key(
                "left_value",
                "scalar",
                "required",
                "an aggregate per key, e.g. `sum(x)`",
            ),
            key("right_value", "scalar", "required", "an aggregate per key"),
            key(
                "left_measures",
                "map",
                "none",
                "more aggregates per key over the left rows, by name, e.g. `{ paid: \"sum(amount)\" }`: for evidence and `amount`",
            ),
            key(
                "right_measures",
                "map",
                "none",
                "the same over the right rows",
            ),
            key(
                "direction",
                "scalar",
                "required",
                "`left_above`, `right_above` or `either`",
            ),
            key(
                "tolerance",
                "map",
                "none (any difference)",
                "`absolute`, `relative`, `relative_to` (`right`, the default, or `left`)",
            ),
            key(
                "unmatched",
                "scalar",
                "required",
                "keys on one side only: `both`, `left`, `right` or `none`",
            ),
        ],
        evidence: "`key1`… or the key columns by their left names, `left_value`, `right_value`, `difference` (left − right), `status`, the measures (NULL for a key absent from their side)",
        lead: "the key values joined by `|`",
        bounds: "a difference exactly at a tolerance is not flagged (more than each tolerance is)",
    },
    KindDoc {
        kind: "time_window",
        keys: &[
            key("left", "map", "required", "`{dataset, where}`"),
            key(
                "right",
                "map",
                "the left dataset",
                "`{dataset, where}`; omitted: pairs within `left`",
            ),
            key("on", "scalar", "required", "equalities `l.x = r.y`"),
            key(
                "left_time",
                "scalar",
                "required",
                "a date or datetime of `l.`",
            ),
            key(
                "right_time",
                "scalar",
                "required",
                "a date or datetime of `r.`",
            ),
            key(
                "within",
                "map",
                "required",
                "`days`, `hours`, `minutes` (added up)",
            ),
            key(
                "order",
                "scalar",
                "after",
                "`after` (right follows left) or `either`",
            ),
            key(
                "condition",
                "scalar",
                "none",
                "on the pair; may use `gap_hours`",
            ),
            key(
                "max_pairs",
                "scalar",
                "1000000",
                "a key forming more pairs stops the rule with an error naming it",
            ),
            LEAD_KEY,
        ],
        evidence: "`l.` and `r.` columns, `gap_hours` (right time − left time)",
        lead: "the left side of `on`",
        bounds: "both ends of the window count (a gap of exactly 72 hours is within 72 hours)",
    },
    KindDoc {
        kind: "fuzzy_duplicate",
        keys: &[
            key("source", "map", "required", "`{dataset, where}`"),
            key(
                "block_on",
                "list",
                "required",
                "records are compared within a block",
            ),
            key("id", "scalar", "required", "the identifier compared"),
            key(
                "max_diff",
                "scalar",
                "2",
                "IDs differing in more characters are not paired",
            ),
            key(
                "threshold",
                "scalar",
                "0.6",
                "pairs scoring below are not flagged",
            ),
            LEAD_KEY,
        ],
        evidence: "`l.` and `r.` columns, `score`, `char_diff`, `reasons`",
        lead: "`ID1~ID2`, sorted",
        bounds: "1 to `max_diff` characters apart; a score at `threshold` is flagged",
    },
    KindDoc {
        kind: "sql",
        keys: &[
            key(
                "query",
                "scalar",
                "required",
                "a query over the datasets (Polars SQL)",
            ),
            key(
                "key",
                "list",
                "required",
                "result columns making the lead key",
            ),
            key(
                "provenance",
                "scalar",
                "the first dataset the query reads",
                "the dataset whose `__file`, `__sheet`, `__row` the query returns",
            ),
        ],
        evidence: "the result's columns",
        lead: "`key`",
        bounds: "as the query writes them (run as written: decimals are not made exact)",
    },
    KindDoc {
        kind: "link",
        keys: &[
            key("left", "map", "required", "`{dataset, where}`"),
            key(
                "right",
                "map",
                "none",
                "`{dataset, where}`; without it `left` is deduplicated into clusters",
            ),
            key(
                "id",
                "scalar",
                "required",
                "what names a record in the leads (one each: empty or repeated stops the rule); or `{left, right}`",
            ),
            key(
                "blocking",
                "list",
                "required",
                "equalities `l.a = r.b AND …` making candidate pairs; unioned, a pair scored once",
            ),
            key(
                "compare",
                "list",
                "required",
                "`{field, as, column}` or `{field, as, left, right}`; `as`: chinese_name, text, date, id, address, exact; optional `term_frequency: false`, and for text and address `thresholds: [0.9, 0.7]` (the partial levels)",
            ),
            key(
                "threshold",
                "scalar",
                "0.9",
                "pairs with a match probability at least this are leads; for one run `--param RULE.threshold=…`",
            ),
            key(
                "prior",
                "scalar",
                "estimated",
                "the probability two random records are one person; for one run `--param RULE.prior=…`",
            ),
            key(
                "weights",
                "map",
                "estimated",
                "`{field: {m: […], u: […]}}`, one probability per level, lowest first; for one run `--param RULE.<field>.m=p1,p2,…`",
            ),
            key(
                "u_sample",
                "scalar",
                "1000000",
                "random record pairs drawn to estimate u (every pair when there are no more)",
            ),
            key(
                "max_pairs",
                "scalar",
                "1000000",
                "a blocking key forming more pairs stops the rule with an error naming it",
            ),
            LEAD_KEY,
        ],
        evidence: "`l.` and `r.` columns, `match_probability`, `match_weight`, `blocked_by`, `cluster`, `<field>_level`, `<field>_weight`",
        lead: "a pair `ID1~ID2`; deduplicating, a cluster (its IDs, sorted)",
        bounds: "a pair whose probability, as shown (four places), is at least `threshold` is a lead: 0.9000 at 0.9",
    },
];

/// The reference as Markdown: a table per kind.
pub fn markdown() -> String {
    let mut out = String::new();
    for k in REFERENCE {
        out.push_str(&format!("#### `{}`\n\n", k.kind));
        out.push_str("| key | shape | default | meaning |\n|---|---|---|---|\n");
        for key in k.keys {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                key.name, key.shape, key.default, key.meaning
            ));
        }
        out.push_str(&format!(
            "\nEvidence may read: {}. One lead: {}. Bounds: {}.\n\n",
            k.evidence, k.lead, k.bounds
        ));
    }
    out
}
