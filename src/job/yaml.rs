//! Strict YAML: unknown keys, unknown enum values and duplicate keys are errors with the
//! file, line and column.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::Spanned;

use crate::error::{Diagnostic, nearest};

/// Parses one YAML document strictly into `T`.
pub fn parse_strict<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = first_line_of(&e.to_string());
        let mut diag = Diagnostic::new(path, line, column, message.clone());
        if let Some(help) = suggest_for_unknown(&message) {
            diag = diag.with_help(help);
        }
        diag
    })
}

/// serde's message for an unknown field or variant lists what is expected; turn that into
/// the nearest valid name.
fn suggest_for_unknown(message: &str) -> Option<String> {
    let (kind, rest) = if let Some(r) = message.split_once("unknown field `") {
        ("key", r.1)
    } else if let Some(r) = message.split_once("unknown variant `") {
        ("value", r.1)
    } else {
        return None;
    };
    let (bad, expected) = rest.split_once('`')?;
    let expected = expected.trim_start_matches(',').trim();
    let expected = expected
        .strip_prefix("expected one of ")
        .or_else(|| expected.strip_prefix("expected "))
        .unwrap_or(expected);
    let names: Vec<&str> = expected
        .split(',')
        .map(|n| n.trim().trim_matches('`'))
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return None;
    }
    match nearest(bad, names.iter().copied()) {
        Some(n) => Some(format!(
            "did you mean `{n}`? valid {kind}s: {}",
            names.join(", ")
        )),
        None => Some(format!("valid {kind}s: {}", names.join(", "))),
    }
}

fn first_line_of(rendered: &str) -> String {
    // serde-saphyr renders a snippet under its message; ours renders its own.
    let line = rendered.lines().next().unwrap_or(rendered).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    // serde-saphyr starts with "line L column C: "; the diagnostic carries the position.
    let line = match line.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((pos, rest)) if pos.contains("column") => rest,
        _ => line,
    };
    // Drop a trailing " at line X column Y" — the diagnostic carries the position.
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// A located diagnostic for a spanned value.
pub fn at<T>(path: &Path, spanned: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(
        path,
        spanned.referenced.line(),
        spanned.referenced.column(),
        message,
    )
}
