//! promtool's expanding notation for input series, parsed as Prometheus's series-description
//! grammar does (promql/parser/generated_parser.y, `series_values`):
//!
//! - `a` — one sample; `a`, `-a`, `+a` with `a` a decimal number (`1`, `.5`, `2.5e3`) or `Inf`
//!   / `NaN` in any case; hexadecimal is not allowed here, as in promtool;
//! - `axn` — `n + 1` samples of `a` (the shorthand for `a+0xn`);
//! - `a+bxn` / `a-bxn` — `n + 1` samples `a, a+b, a+2b, ...`, each the previous plus `b`
//!   (repeated floating-point addition, as promtool computes them);
//! - `_` — one missing sample; `_xn` — `n` missing samples (not `n + 1`);
//! - `stale` — a staleness marker: the series stops there.
//!
//! Items are separated by whitespace; `n` is a whole decimal number.

/// One step of an input series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// A sample with this value.
    Value(f64),
    /// No sample at this step.
    Missing,
    /// The series stops here (Prometheus's stale marker).
    Stale,
}

/// A malformed series: what is wrong and where (byte offset in the values string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationError {
    /// Byte offset in the values string.
    pub offset: usize,
    /// A plain sentence.
    pub message: String,
}

fn err(offset: usize, message: impl Into<String>) -> NotationError {
    NotationError {
        offset,
        message: message.into(),
    }
}

/// Expands a values string into its steps.
pub fn expand(src: &str) -> Result<Vec<Point>, NotationError> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        item(&src[start..i], start, &mut out)?;
    }
    Ok(out)
}

const HELP: &str =
    "write numbers and the expanding notation, e.g. '1 2 3', '50+10x5', '1x4', '_x3', 'stale'";

/// One whitespace-separated item at byte `at`.
fn item(text: &str, at: usize, out: &mut Vec<Point>) -> Result<(), NotationError> {
    if text == "stale" {
        out.push(Point::Stale);
        return Ok(());
    }
    if let Some(rest) = text.strip_prefix('_') {
        if rest.is_empty() {
            out.push(Point::Missing);
            return Ok(());
        }
        let Some(n) = rest.strip_prefix('x') else {
            return Err(err(
                at + 1,
                format!("unexpected '{rest}' after '_': {HELP}"),
            ));
        };
        let n = repetitions(n, at + 2)?;
        out.extend(std::iter::repeat_n(Point::Missing, n));
        return Ok(());
    }
    let mut c = Cursor {
        s: text,
        pos: 0,
        at,
    };
    let first = c.signed_number(true)?;
    if c.done() {
        out.push(Point::Value(first));
        return Ok(());
    }
    let step = match c.peek() {
        Some('x') => 0.0,
        Some('+' | '-') => c.signed_number(false)?,
        _ => {
            return Err(err(
                at + c.pos,
                format!("unexpected '{}' in '{text}': {HELP}", &text[c.pos..]),
            ));
        }
    };
    if c.peek() != Some('x') {
        return Err(err(
            at + c.pos,
            format!(
                "expected 'x' and a count after '{}' (e.g. '{}x5')",
                &text[..c.pos],
                &text[..c.pos]
            ),
        ));
    }
    let n = repetitions(&text[c.pos + 1..], at + c.pos + 1)?;
    // n + 1 samples, each the previous plus the step, as promtool adds them.
    let mut v = first;
    for _ in 0..=n {
        out.push(Point::Value(v));
        v += step;
    }
    Ok(())
}

/// The count after `x`: a whole decimal number.
fn repetitions(text: &str, at: usize) -> Result<usize, NotationError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            at,
            format!("invalid repetition count '{text}' after 'x': write a whole number, e.g. x5"),
        ));
    }
    let n: usize = text
        .parse()
        .map_err(|_| err(at, format!("repetition count '{text}' is too large")))?;
    // A test series of millions of steps is a typo, and would exhaust memory.
    if n > 1_000_000 {
        return Err(err(
            at,
            format!("repetition count {n} is too large (at most 1000000)"),
        ));
    }
    Ok(n)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// A number with an optional sign (`optional_sign`) or a required one (a step).
    fn signed_number(&mut self, optional_sign: bool) -> Result<f64, NotationError> {
        let start = self.pos;
        let negative = match self.peek() {
            Some('-') => {
                self.pos += 1;
                true
            }
            Some('+') => {
                self.pos += 1;
                false
            }
            _ if optional_sign => false,
            _ => return Err(err(self.at + start, "expected '+' or '-' before the step")),
        };
        let v = self.number()?;
        Ok(if negative { -v } else { v })
    }

    /// A decimal number (digits, fraction, exponent) or `Inf` / `NaN`; what follows must not
    /// be a letter or digit, except the `x` of a repetition.
    fn number(&mut self) -> Result<f64, NotationError> {
        let rest = &self.s[self.pos..];
        let start = self.pos;
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if !word.is_empty() {
            let v = match word.to_ascii_lowercase().as_str() {
                "inf" => f64::INFINITY,
                "nan" => f64::NAN,
                _ => {
                    return Err(err(
                        self.at + start,
                        format!("'{word}' is not a number: {HELP}"),
                    ));
                }
            };
            self.pos += word.len();
            return Ok(v);
        }
        let b = rest.as_bytes();
        let mut i = 0;
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > s
        };
        let int = digits(&mut i);
        let mut frac = false;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            frac = digits(&mut i);
        }
        if !int && !frac {
            return Err(err(
                self.at + start,
                format!("expected a number in '{}': {HELP}", self.s),
            ));
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if digits(&mut j) {
                i = j;
            }
        }
        if let Some(&next) = b.get(i)
            && next != b'x'
            && next.is_ascii_alphanumeric()
        {
            return Err(err(
                self.at + start,
                format!("invalid number '{}': {HELP}", self.s),
            ));
        }
        let v = rest[..i]
            .parse()
            .map_err(|_| err(self.at + start, format!("invalid number '{}'", &rest[..i])))?;
        self.pos += i;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(src: &str) -> Vec<String> {
        expand(src)
            .unwrap()
            .iter()
            .map(|p| match p {
                Point::Value(v) => format!("{v}"),
                Point::Missing => "_".to_owned(),
                Point::Stale => "stale".to_owned(),
            })
            .collect()
    }

    /// The examples of promtool's documentation (configuration/unit_testing_rules.md).
    #[test]
    fn the_documented_examples() {
        assert_eq!(vals("-2+4x3"), ["-2", "2", "6", "10"]);
        assert_eq!(vals(" 1-2x4"), ["1", "-1", "-3", "-5", "-7"]);
        assert_eq!(vals(" 1x4"), ["1", "1", "1", "1", "1"]);
        assert_eq!(vals(" 1 _x3 stale"), ["1", "_", "_", "_", "stale"]);
        assert_eq!(vals("50+10x5"), ["50", "60", "70", "80", "90", "100"]);
        assert_eq!(vals("1 _ 3"), ["1", "_", "3"]);
    }

    #[test]
    fn numbers_as_promql_lexes_them() {
        assert_eq!(
            vals(".5 1e3 2.5E-1 +7 -0"),
            ["0.5", "1000", "0.25", "7", "-0"]
        );
        assert_eq!(vals("Inf -inf NaN"), ["inf", "-inf", "NaN"]);
        assert_eq!(vals("1e3x1"), ["1000", "1000"]);
        assert_eq!(vals("0x0"), ["0"], "x0 is one sample, not hexadecimal");
        assert_eq!(vals("_x0"), Vec::<String>::new());
        assert_eq!(vals(""), Vec::<String>::new());
    }

    #[test]
    fn steps_accumulate_by_repeated_addition() {
        // 0.1 + 0.1 + 0.1 is not 0.3 in floating point; promtool adds, so do we.
        let got = expand("0.1+0.1x3").unwrap();
        assert_eq!(got[3], Point::Value(0.1 + 0.1 + 0.1 + 0.1));
        assert_eq!(got[2], Point::Value(0.1 + 0.1 + 0.1));
    }

    #[test]
    fn malformed_notation_is_located() {
        let e = |s: &str| {
            let e = expand(s).unwrap_err();
            (e.offset, e.message)
        };
        assert_eq!(e("1 2 abc").0, 4);
        assert!(e("1 2 abc").1.starts_with("'abc' is not a number"));
        assert_eq!(e("1+2").0, 3);
        assert!(
            e("1+2")
                .1
                .starts_with("expected 'x' and a count after '1+2'")
        );
        assert_eq!(e("1x").0, 2);
        assert!(e("1x").1.starts_with("invalid repetition count ''"));
        assert_eq!(e("1x2.5").0, 2);
        assert_eq!(e("1x-3").0, 2);
        assert_eq!(e("_3").0, 1);
        assert_eq!(e("stalex2").0, 0);
        assert_eq!(e("0x1F").0, 2, "no hexadecimal in series values");
        assert_eq!(e("12abc").0, 0);
        assert_eq!(e("1 _x99999999").0, 4);
        assert_eq!(e("1++2x3").0, 2);
        assert_eq!(e("Infx3").0, 0);
    }
}
