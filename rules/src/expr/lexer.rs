//! The expression lexer: turns an `expr` string into tokens with byte offsets, on demand, so
//! the parser reports the first error by position whether it is lexical or grammatical.

use super::ExprError;

/// What a token is. A window's duration (`[5m]`) is not a token: the parser reads it raw with
/// [`Lexer::duration_text`] right after the `[`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A metric, label or (later) function name; may contain `:`, which the parser refuses in
    /// label names.
    Ident(String),
    /// An unsigned number literal; the sign is the parser's business.
    Number(f64),
    /// A quoted string with escapes already decoded.
    Str(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// `=`
    Assign,
    /// `=~`
    ReMatch,
    /// `!~`
    ReNotMatch,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Eof,
}

/// A token and where it is: `start..end` are byte offsets into the expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_char_at(&self, ahead_bytes: usize) -> Option<char> {
        self.src.get(self.pos + ahead_bytes..)?.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek_char().is_some_and(&pred) {
            self.bump();
        }
    }

    /// The next token; `Eof` forever once the input is used up.
    pub fn next_token(&mut self) -> Result<Token, ExprError> {
        self.eat_while(char::is_whitespace);
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let next = self.peek_char();
        let tok = match c {
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '=' => match next {
                Some('~') => self.two(Tok::ReMatch),
                Some('=') => self.two(Tok::EqEq),
                _ => Tok::Assign,
            },
            '!' => match next {
                Some('~') => self.two(Tok::ReNotMatch),
                Some('=') => self.two(Tok::Ne),
                _ => {
                    return Err(ExprError::new(
                        start,
                        "unexpected '!': expected '!=' or '!~'",
                    ));
                }
            },
            '>' if next == Some('=') => self.two(Tok::Ge),
            '>' => Tok::Gt,
            '<' if next == Some('=') => self.two(Tok::Le),
            '<' => Tok::Lt,
            '"' | '\'' => Tok::Str(self.string(c, start)?),
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                self.number(start)?
            }
            c if is_ident_start(c) => {
                self.eat_while(is_ident_continue);
                Tok::Ident(self.src[start..self.pos].to_owned())
            }
            other => {
                return Err(ExprError::new(
                    start,
                    format!("unexpected character '{other}'"),
                ));
            }
        };
        Ok(Token {
            tok,
            start,
            end: self.pos,
        })
    }

    /// The raw text of a window duration, read right after a `[`: letters and digits, spaces
    /// around skipped. Returns the text and its byte range.
    pub fn duration_text(&mut self) -> (String, usize, usize) {
        self.eat_while(char::is_whitespace);
        let start = self.pos;
        self.eat_while(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '+');
        let end = self.pos;
        (self.src[start..end].to_owned(), start, end)
    }

    fn two(&mut self, tok: Tok) -> Tok {
        self.bump();
        tok
    }

    fn number(&mut self, start: usize) -> Result<Tok, ExprError> {
        self.eat_while(|c| c.is_ascii_digit());
        if self.peek_char() == Some('.') {
            self.bump();
            self.eat_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek_char(), Some('e' | 'E')) {
            let sign = matches!(self.peek_char_at(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if self
                .peek_char_at(digit_at)
                .is_some_and(|c| c.is_ascii_digit())
            {
                self.pos += digit_at;
                self.eat_while(|c| c.is_ascii_digit());
            }
        }
        // `40abc` or `5m` is one bad word, not a number followed by a name: say so as one.
        if self.peek_char().is_some_and(is_ident_continue) {
            self.eat_while(is_ident_continue);
            return Err(ExprError::new(
                start,
                format!("invalid number '{}'", &self.src[start..self.pos]),
            ));
        }
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Tok::Number(v)),
            _ => Err(ExprError::new(
                start,
                format!("number '{text}' is out of range"),
            )),
        }
    }

    /// Decodes a string whose opening `quote` was just consumed at `start`.
    fn string(&mut self, quote: char, start: usize) -> Result<String, ExprError> {
        let mut out = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => return Err(ExprError::new(start, "unterminated string")),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some(other) => {
                        return Err(ExprError::new(
                            at,
                            format!(
                                "unknown escape sequence '\\{other}' in string (use \\\\ for a backslash)"
                            ),
                        ));
                    }
                    None => return Err(ExprError::new(start, "unterminated string")),
                },
                Some(c) => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = l.next_token().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn lexes_operators_greedily() {
        assert_eq!(
            toks(">= > <= < == != = =~ !~"),
            vec![
                Tok::Ge,
                Tok::Gt,
                Tok::Le,
                Tok::Lt,
                Tok::EqEq,
                Tok::Ne,
                Tok::Assign,
                Tok::ReMatch,
                Tok::ReNotMatch
            ]
        );
    }

    #[test]
    fn lexes_numbers() {
        assert_eq!(
            toks("40 0.5 1e3 2.5E-2 .5"),
            vec![
                Tok::Number(40.0),
                Tok::Number(0.5),
                Tok::Number(1000.0),
                Tok::Number(0.025),
                Tok::Number(0.5)
            ]
        );
    }

    #[test]
    fn decodes_string_escapes() {
        assert_eq!(
            toks(r#""a\"b\\c\nd" 'x\'y'"#),
            vec![Tok::Str("a\"b\\c\nd".into()), Tok::Str("x'y".into())]
        );
    }

    #[test]
    fn lexes_arithmetic_and_reads_durations_raw() {
        assert_eq!(
            toks("a*b/c%d"),
            vec![
                Tok::Ident("a".into()),
                Tok::Star,
                Tok::Ident("b".into()),
                Tok::Slash,
                Tok::Ident("c".into()),
                Tok::Percent,
                Tok::Ident("d".into())
            ]
        );
        let mut l = Lexer::new("m[ 1h30m ]");
        assert_eq!(l.next_token().unwrap().tok, Tok::Ident("m".into()));
        assert_eq!(l.next_token().unwrap().tok, Tok::LBracket);
        assert_eq!(l.duration_text(), ("1h30m".to_owned(), 3, 8));
        assert_eq!(l.next_token().unwrap().tok, Tok::RBracket);
    }

    #[test]
    fn number_glued_to_letters_is_one_error() {
        let err = Lexer::new("40abc").next_token().unwrap_err();
        assert_eq!(err.message, "invalid number '40abc'");
        assert_eq!(err.offset, 0);
    }
}
