//! Names that become paths: run ids, dataset names and rule ids name folders, files and sheets,
//! so each must be one safe name — never `..`, a path, or a control character.

/// The longest name accepted: file systems allow 255 bytes, and a name is joined with suffixes.
const MAX_CHARS: usize = 100;

/// `Ok` when `name` is safe as a single path component on every platform: letters (Chinese
/// too), digits, `-`, `_` and `.`, not starting with `.` or `-`, at most 100 characters.
/// Otherwise what is wrong with it, for a message that names the field.
pub fn check_safe_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.chars().count() > MAX_CHARS {
        return Err(format!("it is longer than {MAX_CHARS} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "it contains {}: use letters, digits, `-`, `_` and `.` only",
            describe(c)
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err("it starts with `.` or `-`".into());
    }
    Ok(())
}

fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_safe_names_pass() {
        for ok in [
            "2026Q2",
            "20260301-093000",
            "pension_paid_after_death",
            "第二轮",
            "r1.b",
        ] {
            assert_eq!(check_safe_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            "../../x",
            "/tmp/x",
            "a/b",
            "a\\b",
            "a\nb",
            "a b",
            ".hidden",
            "-x",
            "C:x",
            "a\0b",
            "a\u{202E}b",
        ] {
            assert!(check_safe_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_safe_name(&"x".repeat(101)).is_err());
    }
}
