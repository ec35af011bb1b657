use super::*;

fn scope(cols: &[(&str, ValueType)], params: &[(String, ValueType, Lit)]) -> Scope<'static> {
    Scope {
        columns: cols.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
        left: None,
        right: None,
        left_name: "ds",
        right_name: "",
        params: std::rc::Rc::new(params.to_vec()),
        allow_aggregates: false,
    }
}

#[test]
fn date_column_compares_with_a_date_literal() {
    let s = scope(&[("death_date", ValueType::Date)], &[]);
    let (e, t) = compile("death_date >= '2024-03-01'", &s).unwrap();
    assert_eq!(t, ValueType::Bool);
    assert_eq!(e.to_string(), "(death_date >= DATE '2024-03-01')");
}

#[test]
fn date_compared_with_text_column_is_an_error_with_position() {
    let s = scope(
        &[("death_date", ValueType::Date), ("name", ValueType::Text)],
        &[],
    );
    let err = compile("death_date = name", &s).unwrap_err();
    assert!(
        err.message.contains("comparison between a date and a text"),
        "{err:?}"
    );
    assert_eq!((err.line, err.column), (1, 14));
}

#[test]
fn unknown_column_suggests_the_nearest() {
    let s = scope(&[("id_card", ValueType::Text)], &[]);
    let err = compile("id_crad IS NULL", &s).unwrap_err();
    assert_eq!(err.message, "unknown column `id_crad` in dataset `ds`");
    assert_eq!(err.help.as_deref(), Some("did you mean `id_card`?"));
    assert_eq!(err.column, 1);
}

#[test]
fn params_are_typed_literals() {
    let params = vec![(
        "min_price".to_string(),
        ValueType::Float,
        Lit::Float(50000.0),
    )];
    let s = scope(&[("price", ValueType::Float)], &params);
    let (e, _) = compile("price >= :min_price", &s).unwrap();
    assert_eq!(e.to_string(), "(price >= 50000.0)");
}

#[test]
fn every_listed_function_is_known_to_the_compiler() {
    let mut s = scope(&[("x", ValueType::Float)], &[]);
    s.allow_aggregates = true;
    for f in FUNCTIONS {
        // Arity or type errors are fine here; only "unknown function" would be wrong.
        if let Err(e) = compile(&format!("{f}(x)"), &s) {
            assert!(
                !e.message.contains("unknown function"),
                "{f}: {}",
                e.message
            );
        }
    }
    let err = compile("median(x)", &s).unwrap_err();
    assert!(err.message.contains("unknown function `median`"));
}

#[test]
fn syntax_errors_have_positions() {
    let s = scope(&[("a", ValueType::Int)], &[]);
    let err = compile("a >= (3", &s).unwrap_err();
    assert!(err.message.starts_with("syntax error"), "{err:?}");
    assert_eq!(err.line, 1);
}
