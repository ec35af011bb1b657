//! `--mask`: hides personal data in every export. ID numbers keep their region code (first six
//! characters) and last four; names keep the surname. Lead IDs are keyed hashes computed
//! before masking (`job::lead_key`), so a masked and an unmasked run give the same lead IDs
//! and a masked ID cannot be found again by hashing candidates.

use std::collections::HashSet;

use crate::engine::{RuleStatus, RunResult, fill_message};
use crate::job::catalog::Personal;

fn id_char(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c) || matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ')
}

/// Masks every run of 15 or 18 ID characters in a text: 320102********1238.
pub fn mask_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if id_char(chars[i]) {
            let start = i;
            while i < chars.len() && id_char(chars[i]) {
                i += 1;
            }
            let run = &chars[start..i];
            // A run of digits only; an X may only end it.
            let shaped = run[..run.len() - 1]
                .iter()
                .all(|c| !matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ'));
            if shaped && (run.len() == 18 || run.len() == 15) {
                out.extend(&run[..6]);
                out.extend(std::iter::repeat_n('*', run.len() - 10));
                out.extend(&run[run.len() - 4..]);
            } else {
                out.extend(run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Keeps the first character of a name: 张** .
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// IDs are masked in every text; a value that reads a name column (alone or mixed with an ID,
/// as `concat(name, id_card)`) keeps only its first character.
fn mask(value: &str, personal: Option<Personal>) -> String {
    match personal {
        Some(Personal::Name) => mask_name(&mask_ids(value)),
        _ => mask_ids(value),
    }
}

/// Masks the leads, rejected rows, rule failure messages and inspectors' notes of a run in
/// place. Evidence and rejected cells are masked by what their columns hold; free text (a key,
/// a failure message, a note, a reason) has its IDs masked and every name the run's name
/// columns show — a name no name column holds cannot be told from other words there.
pub fn apply(result: &mut RunResult) {
    let names = KnownNames::of(result);
    let free = |text: &str| names.mask(&mask_ids(text));
    for o in &mut result.outcomes {
        if let RuleStatus::Failed(e) = &mut o.status {
            *e = free(e);
        }
        for r in &mut o.rows {
            if let Some(note) = &mut r.disposition_note {
                *note = free(note);
            }
            r.key = free(&r.key);
            for (value, personal) in r.evidence.values_mut().zip(&o.rule.evidence_personal) {
                if let Some(v) = value {
                    *v = mask(v, *personal);
                }
            }
            r.message = o
                .rule
                .message
                .as_ref()
                .map(|m| mask_ids(&fill_message(m, &r.evidence)));
        }
    }
    for d in &mut result.datasets {
        for r in &mut d.rejected {
            for (i, cell) in r.content.iter_mut().enumerate() {
                *cell = mask(cell, r.personal.get(i).copied().flatten());
            }
            r.reason = free(&r.reason);
        }
        if let Some(e) = &mut d.error {
            *e = free(e);
        }
    }
}

/// The longest word looked for as a name in free text.
const MAX_NAME_CHARS: usize = 12;

/// The names a run shows in name columns (evidence reading one, rejected rows' name cells),
/// split into words, to find again in free text.
struct KnownNames {
    names: HashSet<String>,
    longest: usize,
}

impl KnownNames {
    fn of(result: &RunResult) -> KnownNames {
        let mut names = HashSet::new();
        let mut add = |value: &str| {
            for word in value.split(|c: char| c.is_whitespace() || c.is_ascii_punctuation()) {
                // A surname alone (one character) would mask that character everywhere; a
                // word longer than any name is not looked for (it would slow every search).
                let len = word.chars().count();
                if (2..=MAX_NAME_CHARS).contains(&len) && !word.chars().any(|c| c.is_ascii_digit())
                {
                    names.insert(word.to_string());
                }
            }
        };
        for o in &result.outcomes {
            for r in &o.rows {
                for (value, personal) in r.evidence.values().zip(&o.rule.evidence_personal) {
                    if let (Some(v), Some(Personal::Name)) = (value, personal) {
                        add(v);
                    }
                }
            }
        }
        for d in &result.datasets {
            for r in &d.rejected {
                for (i, cell) in r.content.iter().enumerate() {
                    if r.personal.get(i).copied().flatten() == Some(Personal::Name) {
                        add(cell);
                    }
                }
            }
        }
        let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        KnownNames { names, longest }
    }

    /// `text` with each known name masked, the longest match first at each place.
    fn mask(&self, text: &str) -> String {
        if self.names.is_empty() {
            return text.to_string();
        }
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'chars: while i < chars.len() {
            for len in (2..=self.longest.min(chars.len() - i)).rev() {
                let end = chars.get(i + len).map_or(text.len(), |c| c.0);
                let word = &text[chars[i].0..end];
                if self.names.contains(word) {
                    out.push_str(&mask_name(word));
                    i += len;
                    continue 'chars;
                }
            }
            out.push(chars[i].1);
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_region_and_last_four() {
        assert_eq!(mask_ids("11010519491231002X"), "110105********002X");
        assert_eq!(mask_ids("a 110105491231002 b"), "a 110105*****1002 b");
        assert_eq!(
            mask_ids("320102195003011238~320102195003011338"),
            "320102********1238~320102********1338"
        );
        // Bank accounts (19 digits) and short numbers are not IDs.
        assert_eq!(mask_ids("6217320136000000662"), "6217320136000000662");
        assert_eq!(mask_ids("2025-03"), "2025-03");
        assert_eq!(
            mask_ids("１１０１０５１９４９１２３１００２Ｘ"),
            "１１０１０５********００２Ｘ"
        );
    }

    #[test]
    fn names_keep_the_surname() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("欧阳明月"), "欧***");
    }
}
