//! Property tests of the expression language: canonical `Display` round-trips through the
//! parser, and no input makes the parser panic.

use proptest::prelude::*;

use super::*;

fn matcher() -> impl Strategy<Value = Matcher> {
    let plain = (
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        prop_oneof![Just(MatchOp::Equal), Just(MatchOp::NotEqual)],
        "\\PC{0,12}|[\"\\\\\n\t' a]{0,6}",
    );
    let regex = (
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        prop_oneof![Just(MatchOp::Regex), Just(MatchOp::NotRegex)],
        prop_oneof![
            Just(String::new()),
            Just("db.*".to_owned()),
            Just("x|y".to_owned()),
            Just(r"\d+\.\d+".to_owned()),
            Just("say \"hi\"".to_owned()),
            Just("/run(/.*)?".to_owned()),
        ],
    );
    prop_oneof![plain, regex].prop_map(|(name, op, value)| Matcher::new(name, op, value).unwrap())
}

fn expr() -> impl Strategy<Value = Expr> {
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        proptest::collection::vec(matcher(), 0..4),
        prop_oneof![
            Just(CmpOp::Gt),
            Just(CmpOp::Ge),
            Just(CmpOp::Lt),
            Just(CmpOp::Le),
            Just(CmpOp::Eq),
            Just(CmpOp::Ne),
        ],
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
    )
        .prop_map(|(metric, matchers, op, threshold)| Expr::Compare {
            selector: Selector { metric, matchers },
            op,
            threshold,
        })
}

proptest! {
    #[test]
    fn display_round_trips_through_parse(e in expr()) {
        let text = e.to_string();
        let back = parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&e), "text: {}", text);
        prop_assert_eq!(back.map(|b| b.to_string()), Ok(text));
    }

    #[test]
    fn parse_never_panics_and_errors_point_into_the_input(src in "\\PC{0,40}") {
        if let Err(e) = parse(&src) {
            prop_assert!(e.offset <= src.len());
            prop_assert!(src.is_char_boundary(e.offset));
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn parse_never_panics_on_expression_like_input(
        src in "[a-z_{}=~!<>,\"' .0-9e-]{0,30}"
    ) {
        let _ = parse(&src);
    }
}
