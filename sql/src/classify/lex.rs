//! A small PostgreSQL lexer for the classifier: tokens with byte spans,
//! statements split at top-level semicolons, and routing hints found in
//! comments.
//!
//! It knows exactly as much of PostgreSQL's lexical grammar as is needed
//! to never mistake the inside of a literal or a comment for code:
//! standard strings (`'it''s'`), escape strings (`E'\''`), prefixed
//! strings (`B'…'`, `X'…'`, `N'…'`, `U&'…'`), quoted identifiers
//! (`"a""b"`), dollar quotes (`$fn$ … $fn$`), `--` line comments and
//! nested `/* */` block comments. Everything else becomes a word
//! (identifier or keyword), a parameter (`$1`) or one punctuation byte.
//!
//! Invariants: it never panics and never recurses (nested comments use a
//! depth counter), it runs in time linear in the input, and every token
//! boundary sits on an ASCII byte (or the end), so slicing the input at a
//! token boundary is always valid UTF-8. An unterminated literal or
//! comment is reported as an error: the server would reject the text, and
//! the classifier then sends it to the primary.

use super::Hint;

/// What a token is; only the distinctions the classifier uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An unquoted identifier or keyword (also numbers: they never match
    /// a keyword, so they need no kind of their own).
    Word,
    /// A `"quoted"` identifier.
    Quoted,
    /// A string literal of any flavour, dollar-quoted included.
    Str,
    /// `$1`.
    Param,
    /// One byte of punctuation or operator.
    Punct,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Token<'a> {
    pub kind: Kind,
    /// The token's text as written (quotes included).
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

impl Token<'_> {
    /// Whether this is the unquoted keyword `kw` (ASCII, any case).
    pub fn is(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    pub fn is_punct(&self, c: u8) -> bool {
        self.kind == Kind::Punct && self.text.as_bytes().first() == Some(&c)
    }

    /// The identifier this token names: unquoted words fold to lower
    /// case, quoted ones keep their case with `""` undoubled.
    pub fn ident(&self) -> Option<String> {
        match self.kind {
            Kind::Word => Some(self.text.to_ascii_lowercase()),
            Kind::Quoted => {
                let inner = self.text.get(1..self.text.len().saturating_sub(1))?;
                Some(inner.replace("\"\"", "\""))
            }
            _ => None,
        }
    }
}

/// One statement of the input.
#[derive(Debug)]
pub(super) struct Stmt<'a> {
    /// From the first token to the last, without the terminating `;`.
    pub text: &'a str,
    pub tokens: Vec<Token<'a>>,
}

/// The lexed input.
#[derive(Debug)]
pub(super) struct Lexed<'a> {
    /// Non-empty statements only.
    pub statements: Vec<Stmt<'a>>,
    /// `rustydb:primary` wins over `rustydb:replica` when both appear.
    pub hint: Option<Hint>,
}

/// The input cannot be lexed (unterminated literal or comment).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LexError;

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    hint: Option<Hint>,
}

impl<'a> Lexer<'a> {
    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn note_comment(&mut self, from: usize, to: usize) {
        let Some(body) = self.src.get(from..to) else {
            return;
        };
        let lower = body.to_ascii_lowercase();
        if lower.contains("rustydb:primary") {
            self.hint = Some(Hint::Primary);
        } else if lower.contains("rustydb:replica") && self.hint.is_none() {
            self.hint = Some(Hint::Replica);
        }
    }

    /// Skips whitespace and comments; fails on an unterminated comment.
    fn skip_trivia(&mut self) -> Result<(), LexError> {
        loop {
            match (self.at(self.pos), self.at(self.pos + 1)) {
                (Some(b), _) if b.is_ascii_whitespace() => self.pos += 1,
                (Some(b'-'), Some(b'-')) => {
                    let start = self.pos + 2;
                    let end = self.bytes[start..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(self.bytes.len(), |p| start + p);
                    self.note_comment(start, end);
                    self.pos = end;
                }
                (Some(b'/'), Some(b'*')) => {
                    let start = self.pos + 2;
                    let mut depth = 1usize;
                    let mut i = start;
                    while depth > 0 {
                        match (self.at(i), self.at(i + 1)) {
                            (None, _) => return Err(LexError),
                            (Some(b'/'), Some(b'*')) => {
                                depth += 1;
                                i += 2;
                            }
                            (Some(b'*'), Some(b'/')) => {
                                depth -= 1;
                                i += 2;
                            }
                            _ => i += 1,
                        }
                    }
                    self.note_comment(start, i - 2);
                    self.pos = i;
                }
                _ => return Ok(()),
            }
        }
    }

    /// A quoted run starting at `self.pos` (the opening quote): `q`
    /// doubled inside is an escaped quote; with `backslash`, `\x` is too.
    fn quoted(&mut self, q: u8, backslash: bool) -> Result<(), LexError> {
        let mut i = self.pos + 1;
        loop {
            match self.at(i) {
                None => return Err(LexError),
                Some(b'\\') if backslash => i += 2,
                Some(b) if b == q => {
                    if self.at(i + 1) == Some(q) {
                        i += 2;
                    } else {
                        self.pos = i + 1;
                        return Ok(());
                    }
                }
                Some(_) => i += 1,
            }
        }
    }

    /// `$tag$ … $tag$` at `self.pos`, if that is one; `Ok(false)` when
    /// the `$` starts something else.
    fn dollar_quote(&mut self) -> Result<bool, LexError> {
        let start = self.pos;
        let mut i = start + 1;
        if let Some(b) = self.at(i) {
            if is_ident_start(b) {
                while self.at(i).is_some_and(|b| is_ident_char(b) && b != b'$') {
                    i += 1;
                }
            }
        }
        if self.at(i) != Some(b'$') {
            return Ok(false);
        }
        let tag = &self.bytes[start..=i];
        let body = i + 1;
        let close = self.bytes[body..]
            .windows(tag.len())
            .position(|w| w == tag)
            .ok_or(LexError)?;
        self.pos = body + close + tag.len();
        Ok(true)
    }

    fn next_token(&mut self) -> Result<Option<Token<'a>>, LexError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(b) = self.at(start) else {
            return Ok(None);
        };
        let kind = match b {
            b'\'' => {
                self.quoted(b'\'', false)?;
                Kind::Str
            }
            b'"' => {
                self.quoted(b'"', false)?;
                Kind::Quoted
            }
            b'$' if self.at(start + 1).is_some_and(|d| d.is_ascii_digit()) => {
                self.pos += 1;
                while self.at(self.pos).is_some_and(|d| d.is_ascii_digit()) {
                    self.pos += 1;
                }
                Kind::Param
            }
            b'$' if self.dollar_quote()? => Kind::Str,
            b'$' => {
                self.pos += 1;
                Kind::Punct
            }
            b if is_ident_start(b) || b.is_ascii_digit() => {
                // A one-letter prefix glued to a quote is a literal:
                // E'…' (backslash escapes), B'…', X'…', N'…', U&'…'.
                let next = self.at(start + 1);
                let prefix = matches!(b.to_ascii_lowercase(), b'e' | b'b' | b'x' | b'n');
                if prefix && next == Some(b'\'') {
                    self.pos += 1;
                    self.quoted(b'\'', b.eq_ignore_ascii_case(&b'e'))?;
                    Kind::Str
                } else if b.eq_ignore_ascii_case(&b'u')
                    && next == Some(b'&')
                    && matches!(self.at(start + 2), Some(b'\'' | b'"'))
                {
                    self.pos += 2;
                    let q = self.at(self.pos).unwrap_or(b'\'');
                    self.quoted(q, false)?;
                    if q == b'"' {
                        Kind::Quoted
                    } else {
                        Kind::Str
                    }
                } else {
                    while self.at(self.pos).is_some_and(is_ident_char) {
                        self.pos += 1;
                    }
                    Kind::Word
                }
            }
            _ => {
                self.pos += 1;
                Kind::Punct
            }
        };
        let text = self.src.get(start..self.pos).ok_or(LexError)?;
        Ok(Some(Token {
            kind,
            text,
            start,
            end: self.pos,
        }))
    }
}

/// Closes the statement being collected, if it has any tokens.
fn finish<'a>(src: &'a str, tokens: &mut Vec<Token<'a>>, out: &mut Vec<Stmt<'a>>) {
    if let (Some(first), Some(last)) = (tokens.first(), tokens.last()) {
        let text = src.get(first.start..last.end).unwrap_or_default();
        out.push(Stmt {
            text,
            tokens: std::mem::take(tokens),
        });
    }
}

/// Lexes `src` into statements and the routing hint.
pub(super) fn lex(src: &str) -> Result<Lexed<'_>, LexError> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        hint: None,
    };
    let mut statements = Vec::new();
    let mut current: Vec<Token<'_>> = Vec::new();
    let mut depth = 0usize;
    while let Some(tok) = lexer.next_token()? {
        if tok.is_punct(b'(') {
            depth += 1;
        } else if tok.is_punct(b')') {
            depth = depth.saturating_sub(1);
        } else if tok.is_punct(b';') && depth == 0 {
            finish(src, &mut current, &mut statements);
            continue;
        }
        current.push(tok);
    }
    finish(src, &mut current, &mut statements);
    Ok(Lexed {
        statements,
        hint: lexer.hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<Vec<String>> {
        lex(src)
            .unwrap()
            .statements
            .iter()
            .map(|s| s.tokens.iter().map(|t| t.text.to_string()).collect())
            .collect()
    }

    #[test]
    fn literals_and_comments_hide_semicolons() {
        assert_eq!(
            words("select 'a;b', \"x;\"\"y\", $f$ ; $f$, E'\\';' ; -- c;\n select 1"),
            vec![
                vec![
                    "select",
                    "'a;b'",
                    ",",
                    "\"x;\"\"y\"",
                    ",",
                    "$f$ ; $f$",
                    ",",
                    "E'\\';'"
                ],
                vec!["select", "1"],
            ]
        );
        assert_eq!(words("/* a /* nested ; */ b; */ x"), vec![vec!["x"]]);
        assert_eq!(
            words("select (1;2); 3"),
            vec![vec!["select", "(", "1", ";", "2", ")"], vec!["3"]]
        );
        assert_eq!(words(" ; ;; "), Vec::<Vec<String>>::new());
        assert_eq!(
            words("select $1, a$b, $"),
            vec![vec!["select", "$1", ",", "a$b", ",", "$"]]
        );
    }

    #[test]
    fn unterminated_input_is_an_error() {
        for bad in [
            "select 'x",
            "select \"x",
            "/* x",
            "select $a$ x",
            "select E'\\'",
        ] {
            assert_eq!(lex(bad).err(), Some(LexError), "{bad}");
        }
    }

    #[test]
    fn hints_only_in_comments() {
        assert_eq!(
            lex("/* rustydb:primary */ select 1").unwrap().hint,
            Some(Hint::Primary)
        );
        assert_eq!(
            lex("select 1 -- RustyDB:Replica").unwrap().hint,
            Some(Hint::Replica)
        );
        assert_eq!(
            lex("/*rustydb:replica*/ select /* rustydb:primary */ 1")
                .unwrap()
                .hint,
            Some(Hint::Primary)
        );
        assert_eq!(lex("select '/* rustydb:primary */'").unwrap().hint, None);
    }

    #[test]
    fn statement_text_and_idents() {
        let l = lex("  SET search_path = a ;\n/* c */ RESET ALL").unwrap();
        assert_eq!(l.statements[0].text, "SET search_path = a");
        assert_eq!(l.statements[1].text, "RESET ALL");
        let q = lex("\"Foo\"\"x\" Bar é").unwrap();
        let t = &q.statements[0].tokens;
        assert_eq!(t[0].ident().as_deref(), Some("Foo\"x"));
        assert_eq!(t[1].ident().as_deref(), Some("bar"));
        assert_eq!(t[2].text, "é");
    }
}
