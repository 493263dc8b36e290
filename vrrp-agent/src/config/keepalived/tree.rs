//! Groups tokens into statements: the words of one line, optionally followed by a `{ ... }`
//! block (the `{` on the same line or the next) holding further statements. Built without
//! recursion, with a nesting limit, so no input can exhaust the stack.
//!
//! Imports `super::lexer`.

use super::lexer::{Kind, LexError, Token};

/// keepalived nests three levels at most; anything deeper is a mistake.
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub quoted: bool,
}

/// One line's words and its block, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stmt {
    pub line: usize,
    /// Never empty: the first is the keyword.
    pub words: Vec<Word>,
    pub block: Option<Vec<Stmt>>,
}

impl Stmt {
    pub(crate) fn keyword(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// The words after the keyword.
    pub(crate) fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// The texts of all words.
    pub(crate) fn texts(&self) -> Vec<&str> {
        self.words.iter().map(|w| w.text.as_str()).collect()
    }
}

struct Frame {
    stmts: Vec<Stmt>,
    current: Option<Stmt>,
    /// The statement whose block this is (`None` for the top level).
    owner: Option<Stmt>,
}

impl Frame {
    fn new(owner: Option<Stmt>) -> Self {
        Self {
            stmts: Vec::new(),
            current: None,
            owner,
        }
    }

    fn finish_current(&mut self) {
        if let Some(s) = self.current.take() {
            self.stmts.push(s);
        }
    }
}

/// The top-level statements of a token stream.
pub(crate) fn build(tokens: Vec<Token>) -> Result<Vec<Stmt>, LexError> {
    let mut frames = vec![Frame::new(None)];
    for token in tokens {
        let line = token.line;
        let err = |message: String| LexError { line, message };
        let Some(top) = frames.last_mut() else {
            return Err(err("internal: no open block".into()));
        };
        match token.kind {
            Kind::Word { text, quoted } => {
                let word = Word { text, quoted };
                match &mut top.current {
                    Some(cur) if cur.block.is_none() && cur.line == line => cur.words.push(word),
                    _ => {
                        top.finish_current();
                        top.current = Some(Stmt {
                            line,
                            words: vec![word],
                            block: None,
                        });
                    }
                }
            }
            Kind::Open => {
                let owner = match top.current.take() {
                    Some(cur) if cur.block.is_none() => cur,
                    other => {
                        top.current = other;
                        return Err(err("`{` without a keyword before it".into()));
                    }
                };
                if frames.len() >= MAX_DEPTH {
                    return Err(err(format!("blocks nested more than {MAX_DEPTH} deep")));
                }
                frames.push(Frame::new(Some(owner)));
            }
            Kind::Close => {
                if frames.len() < 2 {
                    return Err(err("`}` without a matching `{`".into()));
                }
                let Some(mut frame) = frames.pop() else {
                    return Err(err("internal: no open block".into()));
                };
                frame.finish_current();
                let Some(mut owner) = frame.owner.take() else {
                    return Err(err("internal: block without owner".into()));
                };
                owner.block = Some(frame.stmts);
                if let Some(parent) = frames.last_mut() {
                    parent.finish_current();
                    parent.current = Some(owner);
                }
            }
        }
    }
    if frames.len() > 1 {
        let owner = frames.last().and_then(|f| f.owner.as_ref());
        let (line, keyword) = owner.map_or((0, ""), |o| (o.line, o.keyword()));
        return Err(LexError {
            line,
            message: format!("missing `}}` to close the `{keyword}` block opened here"),
        });
    }
    let mut root = frames.pop().unwrap_or_else(|| Frame::new(None));
    root.finish_current();
    Ok(root.stmts)
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn tree(text: &str) -> Result<Vec<Stmt>, LexError> {
        build(lex(text)?)
    }

    #[test]
    fn blocks_open_on_the_same_or_the_next_line() {
        let t = tree("a x {\n b 1\n}\nc\n{\n d { e f }\n}\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].texts(), ["a", "x"]);
        let a = t[0].block.as_ref().unwrap();
        assert_eq!(a[0].texts(), ["b", "1"]);
        assert_eq!(a[0].line, 2);
        let c = t[1].block.as_ref().unwrap();
        assert_eq!(c[0].keyword(), "d");
        assert_eq!(c[0].block.as_ref().unwrap()[0].texts(), ["e", "f"]);
    }

    #[test]
    fn unbalanced_braces_name_their_line() {
        assert_eq!(tree("a {\n b\n").unwrap_err().line, 1);
        assert_eq!(tree("a\n}\n").unwrap_err().line, 2);
        assert_eq!(tree("{ a }").unwrap_err().line, 1);
        assert_eq!(tree(&"a {".repeat(100)).unwrap_err().line, 1);
    }
}
