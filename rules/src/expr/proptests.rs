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

/// Metric names that are not the keywords `and`, `or`, `unless`.
fn metric() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}".prop_filter("keyword", |m| {
        !matches!(m.as_str(), "and" | "or" | "unless")
    })
}

fn selector() -> impl Strategy<Value = Selector> {
    (metric(), proptest::collection::vec(matcher(), 0..3))
        .prop_map(|(metric, matchers)| Selector { metric, matchers })
}

fn number() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |v| v.is_finite())
}

fn range_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(300_000i64),
        Just(90_000),
        Just(5_400_000),
        1i64..10_000_000
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        number().prop_map(Value::Number),
        selector().prop_map(Value::Series),
        (
            proptest::sample::select(Func::ALL.to_vec()),
            selector(),
            range_ms()
        )
            .prop_map(|(func, selector, range_ms)| Value::Func {
                func,
                selector,
                range_ms
            }),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            // The parser folds a sign on a literal into the number, so no Neg(Number).
            inner
                .clone()
                .prop_filter("neg literal", |v| !matches!(v, Value::Number(_)))
                .prop_map(|v| Value::Neg(Box::new(v))),
            (
                prop_oneof![
                    Just(ArithOp::Add),
                    Just(ArithOp::Sub),
                    Just(ArithOp::Mul),
                    Just(ArithOp::Div),
                    Just(ArithOp::Mod)
                ],
                inner.clone(),
                inner
            )
                .prop_map(|(op, l, r)| Value::Arith {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                }),
        ]
    })
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
    ]
}

fn condition() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        4 => (value(), cmp_op(), value())
            .prop_filter("a series", |(l, _, r)| l.reads_series() || r.reads_series())
            .prop_map(|(lhs, op, rhs)| Expr::Compare { lhs, op, rhs }),
        1 => (selector(), range_ms()).prop_map(|(selector, r)| Expr::Absent {
            selector,
            range_ms: Some(r)
        }),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        (
            prop_oneof![Just(LogicOp::And), Just(LogicOp::Or), Just(LogicOp::Unless)],
            inner.clone(),
            inner,
        )
            .prop_map(|(op, l, r)| Expr::Logic {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            })
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    prop_oneof![
        8 => condition(),
        1 => selector().prop_map(|selector| Expr::Absent { selector, range_ms: None }),
    ]
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
        src in "[a-z_{}()\\[\\]=~!<>,\"' .0-9e*/%+-]{0,40}"
    ) {
        let _ = parse(&src);
    }
}
