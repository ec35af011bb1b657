//! One file per rule kind, each opening with what it flags, an example, its output and limits.

pub mod aggregate;
pub mod duplicate;
pub mod fuzzy_duplicate;
pub mod link;
pub mod matching;
pub mod reconcile;
pub mod reference;
pub mod row_check;
pub mod sql;
pub mod time_window;

use super::Expr;

/// Provenance columns carried through unions.
pub(crate) const CARRIED: [&str; 5] = ["__dataset", "__file", "__sheet", "__row", "__rid"];

/// The columns a set of expressions reads, plus provenance: what a union must keep.
pub(crate) fn read_columns<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Vec<String> {
    let mut out: Vec<String> = CARRIED.iter().map(|s| s.to_string()).collect();
    for e in exprs {
        e.columns(&mut out);
    }
    out
}
