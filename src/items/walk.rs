//! Walking a syntax tree for items: which nodes of each grammar are items, containers of
//! items (an `impl`, a trait, a class, a module) or neither, with their names and signatures.

use tree_sitter::Node;

use super::{Kind, Lang};

/// A node that will become an item: its kind, name and the rows it spans (0-based,
/// inclusive), with the comments and attributes above it.
pub(super) struct Found {
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) first: usize,
    pub(super) last: usize,
    /// Byte column where its first row's text starts, and where its last row's ends.
    pub(super) first_col: usize,
    pub(super) last_col: Option<usize>,
    pub(super) signature: String,
}

/// The last row a node's text is on (a node ending at column 0 ends on the row before).
pub(super) fn end_row(n: Node<'_>) -> usize {
    let end = n.end_position();
    if end.column == 0 && end.row > n.start_position().row {
        end.row - 1
    } else {
        end.row
    }
}

fn text_of<'a>(n: Node<'_>, src: &'a [u8]) -> &'a str {
    std::str::from_utf8(&src[n.byte_range()]).unwrap_or("")
}

/// What a node is, for the items: an item of some kind, a container whose body holds items,
/// or neither (its lines go to the header).
enum Role<'t> {
    Item(Kind, Node<'t>),
    Container(Node<'t>, String, bool),
    Other,
}

/// The role of `n` (a child of a file, module, or container body).
fn role<'t>(lang: Lang, n: Node<'t>, src: &[u8], in_type: bool) -> Role<'t> {
    let func = if in_type {
        Kind::Method
    } else {
        Kind::Function
    };
    let name = |n: Node<'_>, field: &str| {
        n.child_by_field_name(field)
            .map(|c| text_of(c, src).to_string())
            .unwrap_or_default()
    };
    match (lang, n.kind()) {
        (Lang::Rust, "function_item" | "function_signature_item" | "macro_definition") => {
            Role::Item(func, n)
        }
        (Lang::Rust, "struct_item" | "enum_item" | "union_item" | "type_item") => {
            Role::Item(Kind::Type, n)
        }
        (Lang::Rust, "impl_item") => {
            let ty = name(n, "type");
            let label = match n.child_by_field_name("trait") {
                Some(t) => format!("<{ty} as {}>", text_of(t, src)),
                None => ty,
            };
            container(n, label, true)
        }
        (Lang::Rust, "trait_item") => container(n, name(n, "name"), true),
        (Lang::Rust, "mod_item") => container(n, name(n, "name"), false),
        (Lang::Python, "function_definition") => Role::Item(func, n),
        (Lang::Python, "class_definition") => container(n, name(n, "name"), true),
        (Lang::Python, "decorated_definition") => match n.child_by_field_name("definition") {
            Some(d) if d.kind() == "function_definition" => Role::Item(func, n),
            Some(d) if d.kind() == "class_definition" => container(d, name(d, "name"), true),
            _ => Role::Other,
        },
        (
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript,
            "function_declaration" | "generator_function_declaration" | "function_signature",
        ) => Role::Item(func, n),
        (
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript,
            "method_definition" | "method_signature" | "abstract_method_signature",
        ) => Role::Item(Kind::Method, n),
        (
            Lang::TypeScript | Lang::Tsx,
            "interface_declaration" | "type_alias_declaration" | "enum_declaration",
        ) => Role::Item(Kind::Type, n),
        (
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript,
            "class_declaration" | "abstract_class_declaration",
        ) => container(n, name(n, "name"), true),
        (Lang::TypeScript | Lang::Tsx, "internal_module" | "module") => {
            container(n, name(n, "name"), false)
        }
        (Lang::TypeScript | Lang::Tsx | Lang::JavaScript, "export_statement") => {
            match n.child_by_field_name("declaration") {
                Some(d) => match role(lang, d, src, in_type) {
                    // The item spans `export` too.
                    Role::Item(k, _) => Role::Item(k, n),
                    other => other,
                },
                None => Role::Other,
            }
        }
        (Lang::TypeScript | Lang::Tsx | Lang::JavaScript, "lexical_declaration") => {
            // `const f = (…) => {…}` and `const f = function (…) {…}` are functions.
            let mut c = n.walk();
            let decls: Vec<Node<'t>> = n
                .named_children(&mut c)
                .filter(|d| d.kind() == "variable_declarator")
                .collect();
            let is_fn = decls.len() == 1
                && decls[0].child_by_field_name("value").is_some_and(|v| {
                    matches!(
                        v.kind(),
                        "arrow_function" | "function_expression" | "function"
                    )
                });
            if is_fn {
                Role::Item(func, n)
            } else {
                Role::Other
            }
        }
        (Lang::Go, "function_declaration") => Role::Item(Kind::Function, n),
        (Lang::Go, "method_declaration") => Role::Item(Kind::Method, n),
        (Lang::Go, "type_declaration") => Role::Item(Kind::Type, n),
        _ => Role::Other,
    }
}

fn container(n: Node<'_>, label: String, is_type: bool) -> Role<'_> {
    match n.child_by_field_name("body") {
        Some(body) => Role::Container(body, label, is_type),
        None => Role::Other,
    }
}

/// The name of an item node.
fn item_name(n: Node<'_>, src: &[u8]) -> String {
    let of = |n: Node<'_>| {
        n.child_by_field_name("name")
            .map(|c| text_of(c, src).to_string())
    };
    if let Some(d) = n
        .child_by_field_name("declaration")
        .or_else(|| n.child_by_field_name("definition"))
    {
        return item_name(d, src);
    }
    if let Some(name) = of(n) {
        return name;
    }
    let mut c = n.walk();
    let named: Vec<Node<'_>> = n.named_children(&mut c).collect();
    for child in named {
        match child.kind() {
            // Go: `type X struct {…}` holds a type_spec; JS/TS: `const f = …`.
            "type_spec" | "type_alias" | "variable_declarator" => {
                if let Some(name) = of(child) {
                    return name;
                }
            }
            _ => {}
        }
    }
    String::new()
}

/// The declaration of an item node without its body.
fn signature(n: Node<'_>, src: &[u8]) -> String {
    let target = n
        .child_by_field_name("declaration")
        .or_else(|| n.child_by_field_name("definition"))
        .unwrap_or(n);
    let text = text_of(n, src);
    let cut = target
        .child_by_field_name("body")
        .or_else(|| {
            // `const f = (…) => {…}`: the arrow function's body.
            let mut c = target.walk();
            let found = target
                .named_children(&mut c)
                .find(|d| d.kind() == "variable_declarator")
                .and_then(|d| d.child_by_field_name("value"))
                .and_then(|v| v.child_by_field_name("body"));
            found
        })
        .map(|b| b.start_byte() - n.start_byte());
    match cut {
        Some(at) if at <= text.len() => format!("{} …", text[..at].trim_end()),
        _ => {
            let first = text.lines().next().unwrap_or("");
            if text.lines().nth(1).is_some() {
                format!("{first} …")
            } else {
                first.to_string()
            }
        }
    }
}

/// Collect the items among the named children of `parent`, recursing into containers.
pub(super) fn collect(
    lang: Lang,
    parent: Node<'_>,
    src: &[u8],
    prefix: &str,
    in_type: bool,
    out: &mut Vec<Found>,
) {
    let mut cursor = parent.walk();
    let children: Vec<Node<'_>> = parent.named_children(&mut cursor).collect();
    for (i, &child) in children.iter().enumerate() {
        match role(lang, child, src, in_type) {
            Role::Item(kind, node) => {
                let name = item_name(node, src);
                let name = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}::{name}")
                };
                // Comments and attributes right above it, with no blank line between.
                let mut first = node.start_position().row;
                let mut first_col = node.start_position().column;
                let mut j = i;
                while j > 0 {
                    let prev = children[j - 1];
                    let attached = matches!(
                        prev.kind(),
                        "line_comment"
                            | "block_comment"
                            | "comment"
                            | "attribute_item"
                            | "decorator"
                    ) && end_row(prev) + 1 == first
                        && (j < 2 || end_row(children[j - 2]) < prev.start_position().row);
                    if !attached {
                        break;
                    }
                    first = prev.start_position().row;
                    first_col = prev.start_position().column;
                    j -= 1;
                }
                let end = node.end_position();
                out.push(Found {
                    kind,
                    name,
                    first,
                    first_col,
                    last_col: (end.row == end_row(node)).then_some(end.column),
                    last: end_row(node),
                    signature: signature(node, src),
                });
            }
            Role::Container(body, label, is_type) => {
                let inner = match (prefix.is_empty(), label.is_empty()) {
                    (_, true) => prefix.to_string(),
                    (true, false) => label,
                    (false, false) => format!("{prefix}::{label}"),
                };
                collect(lang, body, src, &inner, is_type, out);
            }
            Role::Other => {}
        }
    }
}
