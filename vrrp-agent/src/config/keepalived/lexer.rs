//! Splits keepalived.conf text into tokens with their line numbers, as keepalived reads it:
//! whitespace-separated words, `{` and `}` (also when attached to a word), double-quoted
//! strings as one word without the quotes, `#` and `!` starting a comment outside quotes
//! (`\#` and `\!` are literal), and a trailing `\` continuing the line.
//!
//! Imports nothing of this crate; returns the message and line of an error.

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A word; `quoted` when written in double quotes (then it may contain anything).
    Word {
        text: String,
        quoted: bool,
    },
    Open,
    Close,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    /// 1-based; a continued line keeps the number of the line it started on.
    pub line: usize,
}

/// An unterminated quote: its line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: usize,
    pub message: String,
}

/// The tokens of `text`.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, LexError> {
    let mut tokens = Vec::new();
    let mut stmt_line = 1usize;
    let mut continued = false;
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx.saturating_add(1);
        if !continued {
            stmt_line = line_no;
        }
        continued = lex_line(raw, stmt_line, &mut tokens)?;
    }
    Ok(tokens)
}

/// Tokens of one physical line; returns whether it ends in a continuation `\`.
fn lex_line(raw: &str, line: usize, out: &mut Vec<Token>) -> Result<bool, LexError> {
    let mut chars = raw.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token {
                kind: Kind::Word {
                    text: std::mem::take(word),
                    quoted: false,
                },
                line,
            });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' | '!' => break,
            '\\' => match chars.peek().copied() {
                Some(next @ ('#' | '!')) => {
                    chars.next();
                    word.push(next);
                }
                None => {
                    flush(&mut word, out);
                    return Ok(true);
                }
                Some(_) => word.push(c),
            },
            '"' => {
                flush(&mut word, out);
                let mut quoted = String::new();
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    quoted.push(q);
                }
                if !closed {
                    return Err(LexError {
                        line,
                        message: "unterminated quote: expected a closing `\"` on the same line"
                            .into(),
                    });
                }
                out.push(Token {
                    kind: Kind::Word {
                        text: quoted,
                        quoted: true,
                    },
                    line,
                });
            }
            '{' | '}' => {
                flush(&mut word, out);
                out.push(Token {
                    kind: if c == '{' { Kind::Open } else { Kind::Close },
                    line,
                });
            }
            c if c.is_whitespace() => flush(&mut word, out),
            c => word.push(c),
        }
    }
    flush(&mut word, out);
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, usize)> {
        lex(text)
            .unwrap()
            .into_iter()
            .map(|t| match t.kind {
                Kind::Word { text, .. } => (text, t.line),
                Kind::Open => ("{".into(), t.line),
                Kind::Close => ("}".into(), t.line),
            })
            .collect()
    }

    #[test]
    fn braces_split_from_words_and_comments_end_lines() {
        let got = words("a{b}\n# x\nc ! d\ne\\#f \"g h # i\"");
        let want = [
            ("a", 1),
            ("{", 1),
            ("b", 1),
            ("}", 1),
            ("c", 3),
            ("e#f", 4),
            ("g h # i", 4),
        ];
        let want: Vec<(String, usize)> = want.iter().map(|(s, l)| (s.to_string(), *l)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn continuation_keeps_the_first_line() {
        let got = words("a \\\n b\nc");
        assert_eq!(got, vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 3)]);
    }

    #[test]
    fn unterminated_quote_is_an_error_with_its_line() {
        let err = lex("a\nnotify \"/bin/x").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
