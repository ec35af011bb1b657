//! Errors people can act on: located diagnostics for job, catalog and rule files, and typed
//! errors for inputs. `anyhow` appears only in the CLI.

use std::fmt;
use std::path::{Path, PathBuf};

/// One located problem in a YAML file: what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the position is unknown.
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub help: Option<String>,
    /// The offending source line, for display under the message.
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, line: u64, column: u64, message: impl Into<String>) -> Self {
        let snippet = (line > 0)
            .then(|| fs_err::read_to_string(file).ok())
            .flatten()
            .and_then(|text| text.lines().nth(line as usize - 1).map(str::to_string));
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            message: clip(&message.into(), MESSAGE_CHARS),
            help: None,
            snippet,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(line) = &self.snippet {
            let gutter = self.line.to_string();
            // A window of the line around the column: a one-line file of megabytes is not
            // quoted whole.
            let at = self.column.saturating_sub(1) as usize;
            let from = at.saturating_sub(SNIPPET_CHARS / 2);
            let mut shown: String = line.chars().skip(from).take(SNIPPET_CHARS).collect();
            let mut column = at - from;
            if from > 0 {
                shown.insert(0, '…');
                column += 1;
            }
            if line.chars().count() > from + SNIPPET_CHARS {
                shown.push('…');
            }
            write!(f, "\n {gutter} | {shown}")?;
            let pad: String = shown
                .chars()
                .take(column)
                .map(|c| {
                    if c == '\t' {
                        '\t'
                    } else if c.len_utf8() > 1 {
                        '　'
                    } else {
                        ' '
                    }
                })
                .collect();
            write!(f, "\n {} | {pad}^", " ".repeat(gutter.len()))?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The most characters of a source line a diagnostic shows.
const SNIPPET_CHARS: usize = 120;
/// The most characters of a message: what a parser quotes from a file is capped there.
pub const MESSAGE_CHARS: usize = 1000;

/// `s` cut to `max` characters, saying how much was left out.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => format!(
            "{}… ({} more characters)",
            &s[..cut],
            s[cut..].chars().count()
        ),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Every problem found in a job, reported together.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
    /// An input file that cannot be read as declared.
    #[error("error: {}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error("error: {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file operation through fs-err, whose message already names the path.
    #[error("error: {0}")]
    File(#[from] std::io::Error),
    #[error("error: {0}")]
    Polars(#[from] polars::error::PolarsError),
    #[error("internal error (a bug in crosscheck, please report it): {0}")]
    Bug(String),
}

fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n\n");
    if diags.len() > 1 {
        out.push_str(&format!("\n\n{} errors", diags.len()));
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Edit distance between two names, for "did you mean" help.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // A name typed only in part ("land_lost") points at the shortest name containing it.
    if name.chars().count() >= 4
        && let Some(c) = candidates
            .iter()
            .filter(|c| c.contains(name))
            .min_by_key(|c| c.len())
    {
        return Some(c);
    }
    candidates
        .into_iter()
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(name.chars().count()) / 2).max(2))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10 MB one-line YAML file: the message quotes a window of the line, not the line.
    #[test]
    fn a_huge_line_is_quoted_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        let line = format!("id: {}", "x".repeat(10_000_000));
        std::fs::write(&path, &line).unwrap();
        let d = Diagnostic::new(&path, 1, 5_000_000, "y".repeat(2_000_000));
        let shown = d.to_string();
        assert!(shown.len() < 4_000, "{} bytes", shown.len());
        assert!(shown.contains("more characters"));
        // The caret still points under the column.
        let lines: Vec<&str> = shown.lines().collect();
        let (code, caret) = (lines[1], lines[2]);
        // " 1 | " then `…` and the 60 characters before the column.
        assert_eq!(caret.chars().position(|c| c == '^'), Some(66));
        assert_eq!(code.chars().nth(65), Some('x'));
        assert_eq!(code.chars().nth(66), Some('x'));
    }

    #[test]
    fn nearest_name_is_suggested() {
        assert_eq!(
            nearest("id_crad", ["name", "id_card", "region"]),
            Some("id_card")
        );
        assert_eq!(nearest("zzzzzz", ["name", "id_card"]), None);
    }
}
