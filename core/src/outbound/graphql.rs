//! Just enough GraphQL to know what a `ph_graphql` task would do, and what it costs.
//!
//! This is the guard behind "no vote or comment automation": a document is parsed
//! strictly (anything this parser does not understand is refused, never passed on), and
//! a mutation is allowed only when every top-level field is an allowlisted follow
//! mutation ([`ALLOWED_MUTATIONS`], the Product Hunt v2 schema's `userFollow` and its
//! undo) and neither the document nor its variables mention `vote` or `comment` in any
//! casing. A document containing a mutation is judged whole, so a query next to it that
//! reads `votesCount` is refused too: conservative on purpose. Fragments at a mutation's
//! top level are refused rather than expanded, and subscriptions are unsupported.
//!
//! The cost estimate approximates graphql-ruby's default complexity, which Product Hunt's
//! budget counts: one point per field, and a connection (a field selecting `edges` or
//! `nodes`) multiplies its children by its page size (`first`/`last`, from a literal or
//! the variables, else Product Hunt's default page of 20). Fragments are expanded. The
//! estimate only has to be close: the budget keeps a margin and reconciles with the
//! `X-Rate-Limit-Remaining` the server reports.

use std::collections::BTreeMap;

use serde_json::Value;

/// Mutations a task may send: following (and unfollowing) a user, nothing else.
pub const ALLOWED_MUTATIONS: &[&str] = &["userFollow", "userFollowUndo"];
/// Words that refuse any document containing a mutation.
pub const FORBIDDEN_WORDS: &[&str] = &["vote", "comment"];
/// Product Hunt's page size when a connection names none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphqlError {
    #[error("the GraphQL document does not parse: {0}")]
    Syntax(String),
    #[error("mutation {0:?} is not allowed: only {ALLOWED_MUTATIONS:?} may be sent, and nothing that votes or comments")]
    ForbiddenMutation(String),
    #[error("GraphQL {0} operations are not supported")]
    Unsupported(&'static str),
    #[error("operationName does not select exactly one operation of the document")]
    OperationName,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Punct(char),
    Spread,
    Number(String),
    Str,
}

fn tokenize(src: &str) -> Result<Vec<Token>, GraphqlError> {
    let err = |m: &str| GraphqlError::Syntax(m.to_owned());
    let bytes = src.as_bytes();
    let (mut i, mut out) = (0, Vec::new());
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'!' | b'$' | b'@' | b'=' | b'|'
            | b'&' => {
                out.push(Token::Punct(c as char));
                i += 1;
            }
            b'.' if src[i..].starts_with("...") => {
                out.push(Token::Spread);
                i += 3;
            }
            b'"' if src[i..].starts_with("\"\"\"") => {
                let end = src[i + 3..]
                    .match_indices("\"\"\"")
                    .find(|(at, _)| !src[..i + 3 + at].ends_with('\\'))
                    .ok_or_else(|| err("unterminated block string"))?;
                i += 3 + end.0 + 3;
                out.push(Token::Str);
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') | Some(b'\r') => return Err(err("unterminated string")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                out.push(Token::Str);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
                out.push(Token::Number(src[start..i].to_owned()));
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push(Token::Name(src[start..i].to_owned()));
            }
            _ => return Err(err("unexpected character")),
        }
    }
    Ok(out)
}

/// A page-size argument: a literal, a variable, or something else.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Int(u64),
    Var(String),
    Other,
}

#[derive(Debug, Clone, PartialEq)]
enum Selection {
    Field {
        name: String,
        page: Option<Arg>,
        children: Vec<Selection>,
    },
    Spread(String),
    Inline(Vec<Selection>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

#[derive(Debug, Clone, PartialEq)]
struct Operation {
    kind: OperationKind,
    name: Option<String>,
    selections: Vec<Selection>,
}

/// A parsed executable document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    operations: Vec<Operation>,
    fragments: BTreeMap<String, Vec<Selection>>,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn err(&self, what: &str) -> GraphqlError {
        GraphqlError::Syntax(format!("{what} at token {}", self.pos))
    }
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(&Token::Punct(c));
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn expect(&mut self, c: char) -> Result<(), GraphqlError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(&format!("expected '{c}'")))
        }
    }
    fn name(&mut self) -> Result<String, GraphqlError> {
        match self.next() {
            Some(Token::Name(n)) => Ok(n),
            _ => Err(self.err("expected a name")),
        }
    }
    fn peek_name(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Name(n)) => Some(n),
            _ => None,
        }
    }

    /// Skips a balanced `open … close` group.
    fn skip_group(&mut self, open: char, close: char) -> Result<(), GraphqlError> {
        self.expect(open)?;
        let mut depth = 1;
        while depth > 0 {
            match self.next() {
                Some(Token::Punct(c)) if c == open => depth += 1,
                Some(Token::Punct(c)) if c == close => depth -= 1,
                Some(_) => {}
                None => return Err(self.err("unbalanced brackets")),
            }
        }
        Ok(())
    }

    fn directives(&mut self) -> Result<(), GraphqlError> {
        while self.eat('@') {
            self.name()?;
            if self.peek() == Some(&Token::Punct('(')) {
                self.skip_group('(', ')')?;
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Arg, GraphqlError> {
        match self.peek() {
            Some(Token::Punct('$')) => {
                self.pos += 1;
                Ok(Arg::Var(self.name()?))
            }
            Some(Token::Punct('[')) => self.skip_group('[', ']').map(|_| Arg::Other),
            Some(Token::Punct('{')) => self.skip_group('{', '}').map(|_| Arg::Other),
            Some(Token::Number(n)) => {
                let v = n.parse().map(Arg::Int).unwrap_or(Arg::Other);
                self.pos += 1;
                Ok(v)
            }
            Some(Token::Str) | Some(Token::Name(_)) => {
                self.pos += 1;
                Ok(Arg::Other)
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn selection_set(&mut self, depth: usize) -> Result<Vec<Selection>, GraphqlError> {
        if depth > MAX_DEPTH {
            return Err(self.err("selections nested too deep"));
        }
        self.expect('{')?;
        let mut out = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Token::Spread) {
                self.pos += 1;
                match self.peek_name() {
                    Some("on") => {
                        self.pos += 1;
                        self.name()?;
                    }
                    Some(_) => {
                        let name = self.name()?;
                        self.directives()?;
                        out.push(Selection::Spread(name));
                        continue;
                    }
                    None => {}
                }
                self.directives()?;
                out.push(Selection::Inline(self.selection_set(depth + 1)?));
                continue;
            }
            let mut name = self.name()?;
            if self.eat(':') {
                name = self.name()?;
            }
            let mut page = None;
            if self.eat('(') {
                while !self.eat(')') {
                    let arg = self.name()?;
                    self.expect(':')?;
                    let value = self.value()?;
                    if arg == "first" || arg == "last" {
                        page = Some(value);
                    }
                }
            }
            self.directives()?;
            let children = if self.peek() == Some(&Token::Punct('{')) {
                self.selection_set(depth + 1)?
            } else {
                Vec::new()
            };
            out.push(Selection::Field {
                name,
                page,
                children,
            });
        }
        Ok(out)
    }

    fn document(&mut self) -> Result<Document, GraphqlError> {
        let mut doc = Document {
            operations: Vec::new(),
            fragments: BTreeMap::new(),
        };
        while self.peek().is_some() {
            if self.peek() == Some(&Token::Punct('{')) {
                let selections = self.selection_set(0)?;
                doc.operations.push(Operation {
                    kind: OperationKind::Query,
                    name: None,
                    selections,
                });
                continue;
            }
            let keyword = self.name()?;
            let kind = match keyword.as_str() {
                "query" => OperationKind::Query,
                "mutation" => OperationKind::Mutation,
                "subscription" => OperationKind::Subscription,
                "fragment" => {
                    let name = self.name()?;
                    if self.name()? != "on" {
                        return Err(self.err("expected 'on'"));
                    }
                    self.name()?;
                    self.directives()?;
                    let selections = self.selection_set(0)?;
                    doc.fragments.insert(name, selections);
                    continue;
                }
                _ => return Err(self.err("expected an operation or a fragment")),
            };
            let name = match self.peek_name() {
                Some(_) => Some(self.name()?),
                None => None,
            };
            if self.peek() == Some(&Token::Punct('(')) {
                self.skip_group('(', ')')?;
            }
            self.directives()?;
            let selections = self.selection_set(0)?;
            doc.operations.push(Operation {
                kind,
                name,
                selections,
            });
        }
        if doc.operations.is_empty() {
            return Err(GraphqlError::Syntax("the document has no operation".into()));
        }
        Ok(doc)
    }
}

impl Document {
    pub fn parse(src: &str) -> Result<Self, GraphqlError> {
        Parser {
            tokens: tokenize(src)?,
            pos: 0,
        }
        .document()
    }

    pub fn has_mutation(&self) -> bool {
        self.operations
            .iter()
            .any(|op| op.kind == OperationKind::Mutation)
    }

    /// Checks `operationName` against the document, as a GraphQL server would.
    pub fn check_operation_name(&self, name: Option<&str>) -> Result<(), GraphqlError> {
        let matching = self.operations.iter().filter(|op| match name {
            Some(n) => op.name.as_deref() == Some(n),
            None => true,
        });
        if matching.count() == 1 {
            Ok(())
        } else {
            Err(GraphqlError::OperationName)
        }
    }

    /// Refuses subscriptions and every mutation but the allowlisted follow mutations.
    /// `source` and `variables` are searched for the forbidden words when any
    /// operation is a mutation.
    pub fn check_allowed(&self, source: &str, variables: &Value) -> Result<(), GraphqlError> {
        for op in &self.operations {
            match op.kind {
                OperationKind::Query => {}
                OperationKind::Subscription => {
                    return Err(GraphqlError::Unsupported("subscription"))
                }
                OperationKind::Mutation => {
                    for selection in &op.selections {
                        match selection {
                            Selection::Field { name, .. }
                                if ALLOWED_MUTATIONS.contains(&name.as_str()) => {}
                            Selection::Field { name, .. } => {
                                return Err(GraphqlError::ForbiddenMutation(name.clone()))
                            }
                            Selection::Spread(_) | Selection::Inline(_) => {
                                return Err(GraphqlError::ForbiddenMutation("a fragment".into()))
                            }
                        }
                    }
                }
            }
        }
        if self.has_mutation() {
            let text = format!("{source}\n{variables}").to_ascii_lowercase();
            if let Some(word) = FORBIDDEN_WORDS.iter().find(|w| text.contains(*w)) {
                return Err(GraphqlError::ForbiddenMutation(format!(
                    "anything mentioning {word:?}"
                )));
            }
        }
        Ok(())
    }

    /// Estimated complexity of the operation a server would run (the named one, or the
    /// costliest when unnamed), at least 1.
    pub fn estimated_cost(&self, operation_name: Option<&str>, variables: &Value) -> u64 {
        self.operations
            .iter()
            .filter(|op| operation_name.is_none() || op.name.as_deref() == operation_name)
            .map(|op| self.cost_of(&op.selections, variables, 0))
            .max()
            .unwrap_or(0)
            .max(1)
    }

    fn cost_of(&self, selections: &[Selection], variables: &Value, depth: usize) -> u64 {
        if depth > MAX_DEPTH {
            return 0;
        }
        selections.iter().fold(0u64, |sum, s| {
            let cost = match s {
                Selection::Field { name: _, page, children } => {
                    let inner = self.cost_of(children, variables, depth + 1);
                    let is_connection = children.iter().any(|c| {
                        matches!(c, Selection::Field { name, .. } if name == "edges" || name == "nodes")
                    });
                    let multiplier = match page {
                        Some(Arg::Int(n)) => *n,
                        Some(Arg::Var(v)) => variables.get(v).and_then(Value::as_u64).unwrap_or(DEFAULT_PAGE_SIZE),
                        Some(Arg::Other) => DEFAULT_PAGE_SIZE,
                        None if is_connection => DEFAULT_PAGE_SIZE,
                        None => 1,
                    };
                    multiplier.saturating_mul(inner).saturating_add(1)
                }
                Selection::Spread(name) => self
                    .fragments
                    .get(name)
                    .map_or(0, |f| self.cost_of(f, variables, depth + 1)),
                Selection::Inline(inner) => self.cost_of(inner, variables, depth + 1),
            };
            sum.saturating_add(cost)
        })
    }
}

#[cfg(test)]
mod tests;
