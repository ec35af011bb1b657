//! `--mask`: hides personal data in every export. ID numbers keep their region code (first six
//! characters) and last four; names keep the surname. Lead IDs are computed before masking, so
//! a masked and an unmasked run give the same lead IDs.

use crate::engine::{RunResult, fill_message};
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

fn mask(value: &str, personal: Option<Personal>) -> String {
    match personal {
        Some(Personal::Name) => mask_name(value),
        _ => mask_ids(value),
    }
}

/// Masks the leads and rejected rows of a run in place.
pub fn apply(result: &mut RunResult) {
    for o in &mut result.outcomes {
        for r in &mut o.rows {
            r.key = mask_ids(&r.key);
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
            r.reason = mask_ids(&r.reason);
        }
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
