//! Maps an offset inside a decoded TOML string value back to a byte offset in the file, so an
//! error inside `expr` or `summary` points at the character in the file.
//!
//! Exact for literal strings (`'...'`, `'''...'''`) and for basic strings with single-character
//! escapes (`\"`, `\\`, `\n`, ...) and `\u`/`\U`/`\x` escapes. Approximate after a
//! line-ending backslash in a multi-line basic string, which swallows whitespace.

use std::ops::Range;

/// The byte offset in `src` of byte `decoded_offset` of the string value spanning `span`.
pub fn value_offset(src: &str, span: &Range<usize>, decoded_offset: usize) -> usize {
    let Some(raw) = src.get(span.clone()) else {
        return span.start;
    };
    let (delim_len, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else {
        // Not a string (e.g. a bare value): point at the value.
        return span.start;
    };
    let mut body = &raw[delim_len..];
    let mut start = span.start + delim_len;
    // TOML trims a newline right after the opening delimiter of a multi-line string.
    if delim_len == 3 {
        for nl in ["\r\n", "\n"] {
            if let Some(rest) = body.strip_prefix(nl) {
                body = rest;
                start += nl.len();
                break;
            }
        }
    }
    if literal {
        return (start + decoded_offset).min(span.end);
    }
    let mut decoded = 0;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if decoded >= decoded_offset {
            return start + i;
        }
        if c != '\\' {
            decoded += c.len_utf8();
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        let hex_digits = match e {
            'u' => 4,
            'U' => 8,
            'x' => 2,
            _ => 0,
        };
        if hex_digits == 0 {
            decoded += 1;
            continue;
        }
        let hex: String = (0..hex_digits)
            .filter_map(|_| chars.next().map(|(_, h)| h))
            .collect();
        decoded += u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .map_or(1, char::len_utf8);
    }
    (start + body.len()).min(span.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str, decoded: usize) -> usize {
        let start = src.find(['"', '\'']).unwrap();
        value_offset(src, &(start..src.len()), decoded)
    }

    #[test]
    fn literal_strings_are_exact() {
        let src = "expr = 'ab\\c'";
        assert_eq!(&src[at(src, 3)..at(src, 3) + 1], "c");
    }

    #[test]
    fn basic_string_escapes_are_skipped() {
        let src = r#"expr = "a\"b\u00e9c""#;
        // decoded: a " b é(2 bytes) c  -> 'c' is decoded byte 5
        assert_eq!(&src[at(src, 5)..at(src, 5) + 1], "c");
        assert_eq!(&src[at(src, 2)..at(src, 2) + 1], "b");
    }

    #[test]
    fn multiline_strings_skip_leading_newline() {
        let src = "expr = '''\nabc'''";
        assert_eq!(&src[at(src, 1)..at(src, 1) + 1], "b");
    }
}
