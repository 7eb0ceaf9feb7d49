//! A small HCL writer that produces the canonical `terraform fmt` layout: two-space indents,
//! `=` aligned across runs of single-line attributes, one blank line around blocks and multi-line
//! attributes. It only writes what the export needs (strings, raw expressions, lists, objects,
//! blocks, comments); it never parses. Numbers can only be written through [`Number`], which
//! holds Terraform's number syntax by construction.

use std::fmt::Write as _;

/// An expression on the right of `=`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Written as is: a reference (`var.region`), `true`, a function call.
    Raw(String),
    /// A number literal.
    Num(Number),
    /// A quoted string; escaped, with template sequences neutralised.
    Str(String),
    /// `[a, b]` on one line.
    List(Vec<Expr>),
    /// `{ key = value }`, one entry a line.
    Object(Vec<(String, Expr)>),
}

impl Expr {
    pub fn raw(s: impl Into<String>) -> Self {
        Expr::Raw(s.into())
    }
    pub fn str(s: impl Into<String>) -> Self {
        Expr::Str(s.into())
    }
    fn is_multiline(&self) -> bool {
        matches!(self, Expr::Object(items) if !items.is_empty())
    }
}

impl From<bool> for Expr {
    fn from(b: bool) -> Self {
        Expr::Raw(b.to_string())
    }
}

impl From<i64> for Expr {
    fn from(n: i64) -> Self {
        Expr::Num(Number(n.to_string()))
    }
}

/// A number in Terraform's literal syntax: an optional `-`, digits, an optional fraction and an
/// optional exponent (`5`, `-2`, `0.5`, `1e3`). Input spellings Terraform does not read but whose
/// value is plain (`+5`, `.5`, `5.`, `007`, `1E+3`) are rewritten to that syntax; anything else
/// (`inf`, `0x10`, `1_000`, `5 `) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

/// Longest number text accepted; far beyond any setting, short enough to quote in an error.
const MAX_NUMBER_CHARS: usize = 64;

impl Number {
    pub fn parse(s: &str) -> Option<Number> {
        if s.is_empty() || s.len() > MAX_NUMBER_CHARS {
            return None;
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return None;
        }
        let mut out = String::with_capacity(s.len() + 1);
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let is_zero = int.is_empty() && frac.is_empty();
        if negative && !is_zero {
            out.push('-');
        }
        out.push_str(if int.is_empty() { "0" } else { int });
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if let Some(exp) = exponent {
            let (exp_negative, exp_digits) = match exp.as_bytes().first() {
                Some(b'-') => (true, &exp[1..]),
                Some(b'+') => (false, &exp[1..]),
                _ => (false, exp),
            };
            if exp_digits.is_empty() || !digits(exp_digits) {
                return None;
            }
            let exp_digits = exp_digits.trim_start_matches('0');
            if !exp_digits.is_empty() && !is_zero {
                out.push('e');
                if exp_negative {
                    out.push('-');
                }
                out.push_str(exp_digits);
            }
        }
        Some(Number(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One item of a body.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Attr(String, Expr),
    Block(Block),
    Comment(String),
}

/// `kind "label" "label" { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
}

impl Block {
    pub fn new(kind: impl Into<String>, labels: &[&str]) -> Self {
        Block {
            kind: kind.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            body: Body::default(),
        }
    }
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<Expr>) -> Self {
        self.body.items.push(Item::Attr(key.into(), value.into()));
        self
    }
    pub fn block(mut self, block: Block) -> Self {
        self.body.items.push(Item::Block(block));
        self
    }

    /// Adds the nested block `make` builds, when `cond` holds.
    pub fn block_if(self, cond: bool, make: impl FnOnce() -> Block) -> Self {
        if cond { self.block(make()) } else { self }
    }
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.body.items.push(Item::Comment(text.into()));
        self
    }
    pub fn push(&mut self, item: Item) {
        self.body.items.push(item);
    }
}

/// The items of a file or a block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    pub items: Vec<Item>,
}

/// Escapes a string literal's content; `${` and `%{` are doubled so nothing is interpolated.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` is a valid HCL identifier (usable as a bare object key or a block label).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Object keys stay bare only when plainly an identifier without `-` (which a reader could take
/// for subtraction).
fn object_key(k: &str) -> String {
    if is_identifier(k) && !k.contains('-') {
        k.to_string()
    } else {
        quote(k)
    }
}

fn write_expr(out: &mut String, e: &Expr, indent: usize) {
    match e {
        Expr::Raw(s) => out.push_str(s),
        Expr::Num(n) => out.push_str(n.as_str()),
        Expr::Str(s) => out.push_str(&quote(s)),
        Expr::List(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, it, indent);
            }
            out.push(']');
        }
        Expr::Object(items) if items.is_empty() => out.push_str("{}"),
        Expr::Object(items) => {
            out.push_str("{\n");
            let keys: Vec<String> = items.iter().map(|(k, _)| object_key(k)).collect();
            let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
            for ((_, v), k) in items.iter().zip(&keys) {
                pad(out, indent + 1);
                out.push_str(k);
                spaces(out, width - k.chars().count() + 1);
                out.push_str("= ");
                write_expr(out, v, indent + 1);
                out.push('\n');
            }
            pad(out, indent);
            out.push('}');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    spaces(out, indent * 2);
}

fn spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Whether an item must stand apart from its neighbours by blank lines.
fn stands_alone(item: &Item) -> bool {
    match item {
        Item::Block(_) => true,
        Item::Attr(_, e) => e.is_multiline(),
        Item::Comment(_) => false,
    }
}

fn write_body(out: &mut String, body: &Body, indent: usize) {
    let items = &body.items;
    let mut i = 0;
    while i < items.len() {
        if i > 0 && (stands_alone(&items[i]) || stands_alone(&items[i - 1])) {
            out.push('\n');
        }
        if stands_alone(&items[i]) {
            write_item(out, &items[i], indent, 0);
            i += 1;
            continue;
        }
        // A run of single-line attributes and comments: align `=` across the attributes.
        let end = items[i..]
            .iter()
            .position(stands_alone)
            .map_or(items.len(), |p| i + p);
        let width = items[i..end]
            .iter()
            .filter_map(|it| match it {
                Item::Attr(k, _) => Some(k.chars().count()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for it in &items[i..end] {
            write_item(out, it, indent, width);
        }
        i = end;
    }
}

fn write_item(out: &mut String, item: &Item, indent: usize, width: usize) {
    match item {
        Item::Comment(text) => {
            for line in text.lines() {
                pad(out, indent);
                out.push('#');
                if !line.is_empty() {
                    out.push(' ');
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Item::Attr(k, e) => {
            pad(out, indent);
            out.push_str(k);
            spaces(out, width.saturating_sub(k.chars().count()) + 1);
            out.push_str("= ");
            write_expr(out, e, indent);
            out.push('\n');
        }
        Item::Block(b) => {
            pad(out, indent);
            out.push_str(&b.kind);
            for l in &b.labels {
                out.push(' ');
                out.push_str(&quote(l));
            }
            if b.body.items.is_empty() {
                out.push_str(" {}\n");
            } else {
                out.push_str(" {\n");
                write_body(out, &b.body, indent + 1);
                pad(out, indent);
                out.push_str("}\n");
            }
        }
    }
}

/// Renders a whole file.
pub fn render(items: &[Item]) -> String {
    let mut out = String::new();
    write_body(
        &mut out,
        &Body {
            items: items.to_vec(),
        },
        0,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_runs_and_separates_blocks() {
        let b = Block::new("resource", &["oci_core_vcn", "main"])
            .attr("compartment_id", Expr::raw("var.compartment_ocid"))
            .attr("cidr_blocks", Expr::List(vec![Expr::raw("var.main_cidr")]))
            .attr(
                "freeform_tags",
                Expr::Object(vec![
                    ("managed-by".into(), Expr::str("galley")),
                    ("x".into(), Expr::str("y")),
                ]),
            )
            .block(Block::new("timeouts", &[]).attr("create", Expr::str("1h")));
        let got = render(&[Item::Block(b)]);
        let want = "resource \"oci_core_vcn\" \"main\" {\n  compartment_id = var.compartment_ocid\n  cidr_blocks    = [var.main_cidr]\n\n  freeform_tags = {\n    \"managed-by\" = \"galley\"\n    x            = \"y\"\n  }\n\n  timeouts {\n    create = \"1h\"\n  }\n}\n";
        assert_eq!(got, want);
    }

    #[test]
    fn numbers_are_written_in_terraform_syntax_or_refused() {
        for (input, want) in [
            ("5", "5"),
            ("+5", "5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-2.50", "-2.5"),
            ("007", "7"),
            ("0", "0"),
            ("-0", "0"),
            ("0.0", "0"),
            ("1E+3", "1e3"),
            ("2.5e-03", "2.5e-3"),
            ("1e0", "1"),
            ("12345678901234567890", "12345678901234567890"),
        ] {
            assert_eq!(
                Number::parse(input).map(|n| n.0).as_deref(),
                Some(want),
                "{input}"
            );
        }
        for bad in [
            "", "+", "-", ".", "e5", "5e", "5e+", "inf", "NaN", "0x10", "1_000", " 5", "5 ", "--5",
            "5..0", "1e5.0", "٣",
        ] {
            assert_eq!(Number::parse(bad), None, "{bad:?} accepted");
        }
        assert_eq!(Number::parse(&"9".repeat(65)), None);
    }

    #[test]
    fn strings_cannot_inject_templates_or_break_quotes() {
        assert_eq!(quote("a\"b\\c${x}%{y}\n"), r#""a\"b\\c$${x}%%{y}\n""#);
    }
}
