//! Items: a source file split into the parts item-level keys are made of (DESIGN.md, "Items").
//!
//! [`split`] parses a file with its tree-sitter grammar (Rust, Python, TypeScript/TSX,
//! JavaScript, Go) and returns its **items**: each top-level function, each method inside an
//! `impl`/`trait`/class body, each type definition, the items of nested modules, and one
//! **header** item holding every other line (imports, module docs, constants, the opening and
//! closing lines of `impl` blocks and classes). Comments and attributes directly above an item
//! (doc comments, `#[derive]`, decorators) belong to it.
//!
//! Items are whole lines, so a line number inside an item maps to exactly one line of the file:
//! an item's lines are relative to its first line (the header's to its own lines, which are not
//! contiguous in the file; [`Item::absolute`] maps them back). A file whose items would share a
//! line (minified code, two functions on one line), that does not parse cleanly, or that has no
//! item besides its header is not split: it is analysed whole, and [`Whole`] says why.
//!
//! An item's id is the first [`ID_HEX`] hex digits of the sha256 of its language, kind and exact
//! text (carriage returns and tabs included): the same function text is the same id wherever
//! it lives, so a moved, reordered or renamed-file function is found again.

pub mod assemble;
mod walk;

use sha2::{Digest, Sha256};
use tree_sitter::{Node, Parser};

use walk::collect;

/// Hex digits of an item id: 64 bits. Ids are stored once per item entry and are what a file's
/// items are looked up by, so each digit costs every entry; 64 bits make an accidental
/// collision among a repository's items as unlikely as a blob-id prefix collision of git's own
/// abbreviations at a billion objects (~1e-2 at 600 million items), and a deliberate one buys an
/// attacker nothing a forged line in a shard would not (item entries are untrusted data, checked
/// like file entries).
pub const ID_HEX: usize = 16;

/// A language with a grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `.rs`
    Rust,
    /// `.py`, `.pyi`
    Python,
    /// `.ts`, `.mts`, `.cts`
    TypeScript,
    /// `.tsx`
    Tsx,
    /// `.js`, `.jsx`, `.mjs`, `.cjs`
    JavaScript,
    /// `.go`
    Go,
}

impl Lang {
    /// The language of `path`, by its extension; `None` where no grammar is built in.
    pub fn of(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.')?.1;
        Some(match ext {
            "rs" => Lang::Rust,
            "py" | "pyi" => Lang::Python,
            "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "js" | "jsx" | "mjs" | "cjs" => Lang::JavaScript,
            "go" => Lang::Go,
            _ => return None,
        })
    }

    /// Its name in item ids and prompts.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::JavaScript => "javascript",
            Lang::Go => "go",
        }
    }

    fn grammar(self) -> tree_sitter::Language {
        match self {
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every line that belongs to no other item.
    Header,
    /// A function (or a Rust macro definition) outside any type.
    Function,
    /// A function inside an `impl`, `trait` or class body.
    Method,
    /// A type definition (struct, enum, union, type alias, interface, Go type).
    Type,
}

impl Kind {
    /// Its name in item ids and replies.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::Function => "fn",
            Kind::Method => "method",
            Kind::Type => "type",
        }
    }
}

/// One item of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// [`ID_HEX`] hex digits (module docs).
    pub id: String,
    /// What it is.
    pub kind: Kind,
    /// Its name (`Type::method` for methods; empty for the header).
    pub name: String,
    /// Its exact text: its lines, joined by `\n` (each keeps a `\r` it had).
    pub text: String,
    /// Its lines in the file: runs of `(first line, number of lines)`, 1-based. One run for
    /// every item but the header.
    pub runs: Vec<(u32, u32)>,
    /// Its signature for the skeleton: the declaration without its body.
    pub signature: String,
}

impl Item {
    /// Its number of lines.
    pub fn line_count(&self) -> u32 {
        self.runs.iter().map(|r| r.1).sum()
    }

    /// The file's line for the item's line `rel` (1-based); `None` outside the item.
    pub fn absolute(&self, rel: u64) -> Option<u64> {
        let mut left = rel.checked_sub(1)?;
        for &(start, len) in &self.runs {
            if left < len as u64 {
                return Some(start as u64 + left);
            }
            left -= len as u64;
        }
        None
    }

    /// First line in the file.
    pub fn first_line(&self) -> u32 {
        self.runs.first().map(|r| r.0).unwrap_or(1)
    }
}

/// A file split into items.
#[derive(Debug, Clone)]
pub struct Split {
    /// Its language.
    pub lang: Lang,
    /// Its items in file order of their first lines, the header first.
    pub items: Vec<Item>,
}

impl Split {
    /// The file's skeleton, the context sent with its items: the file in its order with every
    /// item but the header reduced to its signature (the header's own lines as they are, so
    /// an `impl` or class line stands above its methods). When the header is itself sent
    /// (`header_sent`), its lines are left out here: they follow in full as an item.
    pub fn skeleton(&self, header_sent: bool) -> String {
        let mut parts: Vec<(u32, &str)> = Vec::new();
        for it in &self.items {
            if it.kind != Kind::Header {
                parts.push((it.first_line(), &it.signature));
                continue;
            }
            if header_sent {
                continue;
            }
            // The header's lines, run by run.
            let mut lines = it.text.split('\n');
            for &(start, len) in &it.runs {
                for k in 0..len {
                    if let Some(l) = lines.next() {
                        parts.push((start + k, l));
                    }
                }
            }
        }
        parts.sort_by_key(|p| p.0);
        let mut s = String::new();
        for (_, text) in parts {
            s.push_str(text);
            s.push('\n');
        }
        s
    }
}

/// Why a file is analysed whole rather than by items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Whole {
    /// No grammar for its extension.
    #[error("no grammar for this language")]
    NoGrammar,
    /// The parser found a syntax error.
    #[error("it does not parse cleanly (line {0})")]
    Syntax(u32),
    /// Two items, or an item and the header, share a line (minified or generated code).
    #[error("two items share line {0}")]
    SharedLine(u32),
    /// Nothing but a header.
    #[error("it has no functions or types to split it into")]
    NoItems,
    /// The parser gave up (it has a time and size bound of its own).
    #[error("the parser gave up on it")]
    Parser,
}

/// The id of an item of `kind` with `text` in `lang`.
pub fn item_id(lang: Lang, kind: Kind, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(lang.name().as_bytes());
    h.update([0]);
    h.update(kind.name().as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    let mut id = hex::encode(h.finalize());
    id.truncate(ID_HEX);
    id
}

/// Split `content`, the text of `path`, into items.
pub fn split(path: &str, content: &str) -> Result<Split, Whole> {
    let lang = Lang::of(path).ok_or(Whole::NoGrammar)?;
    split_as(lang, content)
}

/// [`split`] with the language given.
pub fn split_as(lang: Lang, content: &str) -> Result<Split, Whole> {
    // A byte-order mark is not part of any grammar: the parser reads past it (same rows).
    let body = content.strip_prefix('\u{feff}').unwrap_or(content);
    let skip = content.len() - body.len();
    let mut parser = Parser::new();
    parser
        .set_language(&lang.grammar())
        .map_err(|_| Whole::Parser)?;
    let tree = parser.parse(body, None).ok_or(Whole::Parser)?;
    let root = tree.root_node();
    if root.has_error() {
        return Err(Whole::Syntax(first_error_row(root) as u32 + 1));
    }
    let src = body.as_bytes();
    let mut found = Vec::new();
    collect(lang, root, src, "", false, &mut found);
    if found.is_empty() {
        return Err(Whole::NoItems);
    }
    found.sort_by_key(|f| f.first);
    let lines: Vec<&str> = content.split('\n').collect();
    // Whole lines only: an item must start on a line nothing else ends on.
    let mut owner: Vec<Option<usize>> = vec![None; lines.len()];
    for (i, f) in found.iter().enumerate() {
        let last = f.last.min(lines.len() - 1);
        for (row, slot) in owner.iter_mut().enumerate().take(last + 1).skip(f.first) {
            if slot.is_some() {
                return Err(Whole::SharedLine(row as u32 + 1));
            }
            *slot = Some(i);
        }
    }
    // Another node's text before an item on its first line, or after it on its last
    // (`x = 1; fn f() {}`), shares that line too; a comment after it is its own.
    for f in &found {
        // Rows count `\n`, as `lines` does; a row past the end would mean they disagree.
        let Some(line) = lines.get(f.first) else {
            return Err(Whole::Parser);
        };
        let col = f.first_col + if f.first == 0 { skip } else { 0 };
        if !line.get(..col).is_some_and(|p| p.trim().is_empty()) {
            return Err(Whole::SharedLine(f.first as u32 + 1));
        }
        if let Some(col) = f.last_col {
            let col = col + if f.last == 0 { skip } else { 0 };
            let rest = lines.get(f.last).and_then(|l| l.get(col..)).map(str::trim);
            let own = rest.is_some_and(|r| {
                r.is_empty() || r.starts_with("//") || (lang == Lang::Python && r.starts_with('#'))
            });
            if !own {
                return Err(Whole::SharedLine(f.last as u32 + 1));
            }
        }
    }
    let mut items = Vec::with_capacity(found.len() + 1);
    // The header: every line no item owns, except blank lines at its edges.
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut text = String::new();
    let header_rows: Vec<usize> = (0..lines.len()).filter(|&r| owner[r].is_none()).collect();
    let nonblank = |r: &usize| !lines[*r].trim().is_empty();
    let lo = header_rows.iter().position(nonblank);
    let hi = header_rows.iter().rposition(nonblank);
    if let (Some(lo), Some(hi)) = (lo, hi) {
        for &r in &header_rows[lo..=hi] {
            match runs.last_mut() {
                Some((start, len)) if (*start + *len) as usize == r + 1 => *len += 1,
                _ => runs.push((r as u32 + 1, 1)),
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(lines[r]);
        }
        items.push(Item {
            id: item_id(lang, Kind::Header, &text),
            kind: Kind::Header,
            name: String::new(),
            text,
            runs,
            signature: String::new(),
        });
    }
    for f in found {
        let last = f.last.min(lines.len() - 1);
        let text = lines[f.first..=last].join("\n");
        items.push(Item {
            id: item_id(lang, f.kind, &text),
            kind: f.kind,
            name: f.name,
            text,
            runs: vec![(f.first as u32 + 1, (last - f.first + 1) as u32)],
            signature: f.signature,
        });
    }
    Ok(Split { lang, items })
}

fn first_error_row(n: Node<'_>) -> usize {
    if n.is_error() || n.is_missing() {
        return n.start_position().row;
    }
    let mut cursor = n.walk();
    for child in n.children(&mut cursor) {
        if child.has_error() {
            return first_error_row(child);
        }
    }
    n.start_position().row
}

#[cfg(test)]
mod tests;
