//! Parser tests: every form of the language, and every refusal at its offset with its sentence.

use super::*;

fn err(src: &str) -> (usize, String) {
    let e = parse(src).unwrap_err();
    (e.offset, e.message)
}

fn cmp(src: &str) -> (String, Vec<(String, MatchOp, String)>, CmpOp, f64) {
    let Expr::Compare {
        lhs: Value::Series(selector),
        op,
        rhs: Value::Number(threshold),
    } = parse(src).unwrap()
    else {
        panic!("not a simple comparison: {src}");
    };
    let ms = selector
        .matchers
        .into_iter()
        .map(|m| (m.name, m.op, m.value))
        .collect();
    (selector.metric, ms, op, threshold)
}

#[test]
fn parses_each_comparison_operator() {
    for (s, op) in [
        (">", CmpOp::Gt),
        (">=", CmpOp::Ge),
        ("<", CmpOp::Lt),
        ("<=", CmpOp::Le),
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
    ] {
        let (_, _, got, t) = cmp(&format!("m {s} 40"));
        assert_eq!((got, t), (op, 40.0), "{s}");
    }
}

#[test]
fn parses_all_matcher_kinds_and_trailing_comma() {
    let (metric, ms, _, _) = cmp(r#"disk_used_percent{a="1", b!="2", c=~"x.*", d!~'y',} > 90"#);
    assert_eq!(metric, "disk_used_percent");
    let ops: Vec<_> = ms.iter().map(|m| m.1).collect();
    assert_eq!(
        ops,
        vec![
            MatchOp::Equal,
            MatchOp::NotEqual,
            MatchOp::Regex,
            MatchOp::NotRegex
        ]
    );
    assert_eq!(ms[3].2, "y");
}

#[test]
fn parses_without_braces_empty_braces_and_tight_spacing() {
    assert_eq!(cmp("m>1").0, "m");
    assert!(cmp("m{}>1").1.is_empty());
    assert_eq!(cmp("\tm { a = \"b\" }\n>\n1 ").1.len(), 1);
    assert_eq!(cmp("job:rate_5m:sum > 1").0, "job:rate_5m:sum");
}

#[test]
fn parses_signed_and_scientific_numbers() {
    assert_eq!(cmp("m > -1").3, -1.0);
    assert_eq!(cmp("m > +2").3, 2.0);
    assert_eq!(cmp("m > 0.5").3, 0.5);
    assert_eq!(cmp("m > 1e3").3, 1000.0);
    assert_eq!(cmp("m > 1.5e-3").3, 0.0015);
}

#[test]
fn decodes_escapes_in_label_values() {
    let (_, ms, _, _) = cmp(r#"m{a="q\"b\\s\nn"} > 1"#);
    assert_eq!(ms[0].2, "q\"b\\s\nn");
}

#[test]
fn parses_every_window_function() {
    for func in Func::ALL {
        let e = parse(&format!("{}(m{{a=\"b\"}}[90s]) >= 2", func.name())).unwrap();
        let Expr::Compare {
            lhs:
                Value::Func {
                    func: got,
                    selector,
                    range_ms,
                },
            ..
        } = e
        else {
            panic!("{e:?}");
        };
        assert_eq!(
            (got, selector.metric.as_str(), range_ms),
            (func, "m", 90_000)
        );
    }
}

#[test]
fn arithmetic_binds_as_in_promql() {
    // * before +, left to right, unary minus tighter than *.
    let e = parse("a + b * c - d / -e % 2 > 0").unwrap();
    assert_eq!(e.to_string(), "a + b * c - d / -e % 2 > 0");
    let Expr::Compare { lhs, .. } = e else {
        panic!()
    };
    let Value::Arith {
        op: ArithOp::Sub,
        lhs: first,
        rhs: second,
    } = lhs
    else {
        panic!("{lhs:?}")
    };
    assert!(matches!(
        *first,
        Value::Arith {
            op: ArithOp::Add,
            ..
        }
    ));
    assert!(matches!(
        *second,
        Value::Arith {
            op: ArithOp::Mod,
            ..
        }
    ));
    assert_eq!(
        parse("disk_used_bytes / disk_total_bytes > 0.9")
            .unwrap()
            .to_string(),
        "disk_used_bytes / disk_total_bytes > 0.9"
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let e = parse("a > 1 or b > 2 and c > 3 unless d > 4").unwrap();
    let Expr::Logic {
        op: LogicOp::Or,
        rhs,
        ..
    } = e
    else {
        panic!("{e:?}")
    };
    let Expr::Logic {
        op: LogicOp::Unless,
        lhs,
        ..
    } = *rhs
    else {
        panic!()
    };
    assert!(matches!(
        *lhs,
        Expr::Logic {
            op: LogicOp::And,
            ..
        }
    ));
}

#[test]
fn absent_with_and_without_range() {
    assert_eq!(
        parse(r#"absent(up{job="x"})"#).unwrap(),
        Expr::Absent {
            selector: Selector {
                metric: "up".into(),
                matchers: vec![Matcher::new("job", MatchOp::Equal, "x").unwrap()]
            },
            range_ms: None
        }
    );
    let e = parse("absent(up[5m]) or up == 0").unwrap();
    assert!(matches!(
        e,
        Expr::Logic {
            op: LogicOp::Or,
            ..
        }
    ));
}

#[test]
fn reports_errors_at_their_offset() {
    assert_eq!(
        err("m foo"),
        (
            2,
            "expected a comparison operator (> >= < <= == !=) after the selector, found 'foo'"
                .into()
        )
    );
    assert_eq!(
        err("m"),
        (
            1,
            "expected a comparison operator (> >= < <= == !=) after the selector, found the end of the expression".into()
        )
    );
    assert_eq!(err(r#"m{a="x} > 1"#), (2 + 2, "unterminated string".into()));
    assert_eq!(err("m > 1 2").0, 6);
    assert!(err("m > 1 2").1.contains("after the threshold"));
    assert_eq!(err("> 1").0, 0);
    assert_eq!(err("m{a=1} > 1").0, 4);
    assert_eq!(err("m{a:b=\"1\"} > 1").0, 2);
    assert_eq!(err("m{a=\"1\" b=\"2\"} > 1").0, 8);
    assert_eq!(
        err("m = 1").1,
        "'=' is not a comparison: use '==' to compare with a number"
    );
    assert_eq!(err("m > 1e999").1, "number '1e999' is out of range");
    assert_eq!(err("m >").0, 3);
}

#[test]
fn bad_input_is_refused_with_a_sentence() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "frobnicate(m[5m]) > 1",
            0,
            "unknown function 'frobnicate': expected one of avg_over_time",
        ),
        (
            "rate(m) > 1",
            5,
            "rate() needs a range, not the latest value: add a window, e.g. rate(m[5m])",
        ),
        (
            "rate(5) > 1",
            5,
            "rate() needs a range such as m[5m], found a number",
        ),
        (
            "rate(m[5m] + 1) > 1",
            5,
            "rate() needs a range of one metric",
        ),
        ("rate(m[5m], n[5m]) > 1", 0, "rate() takes one argument"),
        (
            "m[5m] > 1",
            0,
            "a range such as m[5m] must be the argument of a window function",
        ),
        (
            "avg_over_time(m[]) > 1",
            16,
            "a window needs a duration, e.g. [5m]",
        ),
        ("avg_over_time(m[5]) > 1", 16, "invalid duration '5'"),
        (
            "avg_over_time(m[5m) > 1",
            18,
            "expected ']' after the window's duration",
        ),
        ("avg_over_time(m[0s]) > 1", 16, "a window of '0s' is empty"),
        ("m > 1 and n", 10, "this is a value, not a condition"),
        ("m and n > 1", 0, "this is a value, not a condition"),
        (
            "(m > 1) + 2 > 3",
            0,
            "'+' needs numbers or series on both sides",
        ),
        ("m > 1 > 2", 0, "a condition cannot be compared"),
        ("1 > 2", 0, "this compares two numbers"),
        (
            "absent(m) and n > 1",
            0,
            "absent(...) without a range is about the whole selector",
        ),
        ("absent(5)", 7, "absent() takes a metric selector"),
        ("absent(m) > 1", 0, "a condition cannot be compared"),
        (
            "absent(m) + 1 > 1",
            0,
            "'+' needs numbers or series on both sides",
        ),
        (
            "and > 1",
            0,
            "'and' joins two conditions and cannot start one",
        ),
        ("(m > 1", 6, "expected ')' to close the '(' at offset 0"),
        ("m > 1)", 5, "unexpected ')': there is no '(' to close"),
        (
            "m > n x",
            6,
            "unexpected 'x': expected 'and', 'or', 'unless' or the end of the expression",
        ),
        (
            "m{a=~\"(\"} > 1",
            5,
            "invalid regular expression for label 'a'",
        ),
    ];
    let mut wrong = Vec::new();
    for (src, offset, start) in cases {
        match parse(src) {
            Ok(e) => wrong.push(format!("{src}: parsed as {e}")),
            Err(e) if e.offset != *offset || !e.message.starts_with(start) => {
                wrong.push(format!("{src}: got {} {:?}", e.offset, e.message))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn bad_regex_names_the_label() {
    let (off, msg) = err(r#"m{mount=~"(unclosed"} > 1"#);
    assert_eq!(off, 9);
    assert!(
        msg.starts_with("invalid regular expression for label 'mount': "),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn matchers_alone() {
    let m = parse_matchers(r#"{host="db1", role=~"db.*",}"#).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[1].op, MatchOp::Regex);
    assert!(parse_matchers("{}").unwrap().is_empty());
    let e = parse_matchers(r#"host="db1""#).unwrap_err();
    assert_eq!(e.offset, 0);
    let e = parse_matchers(r#"{host="db1"} x"#).unwrap_err();
    assert_eq!(e.offset, 13);
}
