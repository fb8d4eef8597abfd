use super::*;

/// `(kind, name, first line, last line)` of every item but the header.
fn outline(s: &Split) -> Vec<(&'static str, String, u32, u32)> {
    s.items
        .iter()
        .filter(|i| i.kind != Kind::Header)
        .map(|i| {
            let (a, n) = i.runs[0];
            (i.kind.name(), i.name.clone(), a, a + n - 1)
        })
        .collect()
}

fn header(s: &Split) -> &Item {
    s.items.iter().find(|i| i.kind == Kind::Header).unwrap()
}

/// Every item's text is exactly the file's lines it claims, and every line is in one item.
fn check_lines(content: &str, s: &Split) {
    let lines: Vec<&str> = content.split('\n').collect();
    let mut seen = vec![0; lines.len()];
    for it in &s.items {
        let mut rel = 1;
        for (i, line) in it.text.split('\n').enumerate() {
            let abs = it.absolute(rel).unwrap() as usize;
            assert_eq!(line, lines[abs - 1], "item {} line {}", it.name, i + 1);
            seen[abs - 1] += 1;
            rel += 1;
        }
        assert_eq!(it.absolute(rel), None);
        assert_eq!(it.absolute(0), None);
        assert_eq!(it.id, item_id(s.lang, it.kind, &it.text));
    }
    for (i, n) in seen.iter().enumerate() {
        assert!(
            *n == 1 || (*n == 0 && lines[i].trim().is_empty()),
            "line {} claimed {n} times: {:?}",
            i + 1,
            lines[i]
        );
    }
}

const RUST: &str = r#"//! A small module.

use std::fmt;

const LIMIT: usize = 3;

/// A point.
#[derive(Debug, Clone)]
pub struct Point {
    x: i32,
    y: i32,
}

impl Point {
    /// Make one.
    pub fn new(x: i32, y: i32) -> Point {
        Point { x, y }
    }

    #[inline]
    fn sum(&self) -> i32 {
        self.x + self.y
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

pub trait Shape {
    fn area(&self) -> f64;
    fn name(&self) -> &str {
        "shape"
    }
}

enum Color { Red, Green }

macro_rules! twice {
    ($e:expr) => { $e + $e };
}

mod inner {
    pub fn helper() -> u32 {
        1
    }
}

pub fn top(n: usize) -> usize {
    n.min(LIMIT) // clamp
}
"#;

#[test]
fn rust_items_are_functions_methods_types_and_nested_modules_items() {
    let s = split("src/point.rs", RUST).unwrap();
    assert_eq!(s.lang, Lang::Rust);
    assert_eq!(
        outline(&s),
        vec![
            ("type", "Point".into(), 7, 12),
            ("method", "Point::new".into(), 15, 18),
            ("method", "Point::sum".into(), 20, 23),
            ("method", "<Point as fmt::Display>::fmt".into(), 27, 29),
            ("method", "Shape::area".into(), 33, 33),
            ("method", "Shape::name".into(), 34, 36),
            ("type", "Color".into(), 39, 39),
            ("fn", "twice".into(), 41, 43),
            ("fn", "inner::helper".into(), 46, 48),
            ("fn", "top".into(), 51, 53),
        ]
    );
    let h = header(&s);
    assert!(h.text.starts_with("//! A small module."), "{}", h.text);
    assert!(h.text.contains("const LIMIT"));
    assert!(h.text.contains("impl Point {"));
    assert!(!h.text.contains("fn new"));
    check_lines(RUST, &s);
    let sk = s.skeleton(false);
    assert!(sk.contains("pub fn new(x: i32, y: i32) -> Point …"), "{sk}");
    assert!(!sk.contains("Point { x, y }"), "{sk}");
    // In file order: the impl line above its methods; the header left out when it is sent.
    let at = |t: &str| sk.find(t).unwrap();
    assert!(
        at("impl Point {") < at("pub fn new") && at("pub fn new") < at("fn sum"),
        "{sk}"
    );
    let without = s.skeleton(true);
    assert!(
        !without.contains("const LIMIT") && without.contains("pub fn top"),
        "{without}"
    );
}

#[test]
fn an_unchanged_function_keeps_its_id_when_a_neighbour_changes_or_it_moves() {
    let a = split("a.rs", RUST).unwrap();
    let edited = RUST.replace("self.x + self.y", "self.x - self.y");
    let b = split("a.rs", &edited).unwrap();
    let ids = |s: &Split| s.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    let (ia, ib) = (ids(&a), ids(&b));
    assert_eq!(ia.len(), ib.len());
    let changed: Vec<_> = ia.iter().zip(&ib).filter(|(x, y)| x != y).collect();
    assert_eq!(changed.len(), 1, "only `sum` changes");
    // The same function in another file, at another line: the same id.
    let top = a.items.iter().find(|i| i.name == "top").unwrap();
    let moved = format!("use x::y;\n\n\n{}\n", top.text);
    let m = split("elsewhere/b.rs", &moved).unwrap();
    assert!(m.items.iter().any(|i| i.id == top.id));
    // Another language or kind: another id.
    assert_ne!(
        item_id(Lang::Rust, Kind::Function, "x"),
        item_id(Lang::Go, Kind::Function, "x")
    );
    assert_ne!(
        item_id(Lang::Rust, Kind::Function, "x"),
        item_id(Lang::Rust, Kind::Method, "x")
    );
    assert_eq!(top.id.len(), ID_HEX);
}

const PYTHON: &str = r#""""Tools for points."""
import math
from typing import List

SCALE = 2


def distance(a, b):
    """Euclidean distance."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


class Path:
    """A path of points."""

    closed = False

    def __init__(self, points: List[tuple]):
        self.points = points

    @property
    def length(self):
        return sum(distance(a, b) for a, b in zip(self.points, self.points[1:]))


@cache
def unit():
    return Path([(0, 0), (1, 0)])


if __name__ == "__main__":
    print(unit().length)
"#;

#[test]
fn python_items_are_functions_methods_and_decorated_ones() {
    let s = split("tools/points.py", PYTHON).unwrap();
    assert_eq!(
        outline(&s),
        vec![
            ("fn", "distance".into(), 8, 10),
            ("method", "Path::__init__".into(), 18, 19),
            ("method", "Path::length".into(), 21, 23),
            ("fn", "unit".into(), 26, 28),
        ]
    );
    let h = header(&s);
    assert!(h.text.contains("class Path:"));
    assert!(h.text.contains("closed = False"));
    assert!(h.text.contains("if __name__"));
    check_lines(PYTHON, &s);
}

const TS: &str = r#"import { readFile } from "fs";

export interface Options {
  depth: number;
}

type Id = string;

export enum Mode { Fast, Slow }

/** Parse it. */
export function parse(text: string): Options {
  return { depth: text.length };
}

export const double = (n: number): number => {
  return n * 2;
};

const LIMIT = 10;

export class Reader {
  private path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<string> {
    return readFile(this.path, "utf8");
  }
}
"#;

#[test]
fn typescript_items_are_functions_arrow_functions_classes_methods_and_types() {
    for path in ["src/reader.ts", "src/reader.tsx"] {
        let s = split(path, TS).unwrap();
        assert_eq!(
            outline(&s),
            vec![
                ("type", "Options".into(), 3, 5),
                ("type", "Id".into(), 7, 7),
                ("type", "Mode".into(), 9, 9),
                ("fn", "parse".into(), 11, 14),
                ("fn", "double".into(), 16, 18),
                ("method", "Reader::constructor".into(), 25, 27),
                ("method", "Reader::read".into(), 29, 31),
            ],
            "{path}"
        );
        let h = header(&s);
        assert!(h.text.contains("const LIMIT = 10;"));
        assert!(h.text.contains("private path: string;"));
        check_lines(TS, &s);
    }
}

const JS: &str = r#"'use strict';
const path = require('path');

function join(a, b) {
  return path.join(a, b);
}

const twice = function (x) {
  return x * 2;
};

class Cache {
  get(key) {
    return this.map.get(key);
  }
}

module.exports = { join, twice, Cache };
"#;

#[test]
fn javascript_items_are_functions_function_values_and_methods() {
    let s = split("lib/cache.js", JS).unwrap();
    assert_eq!(
        outline(&s),
        vec![
            ("fn", "join".into(), 4, 6),
            ("fn", "twice".into(), 8, 10),
            ("method", "Cache::get".into(), 13, 15),
        ]
    );
    check_lines(JS, &s);
}

const GO: &str = r#"// Package geo does geometry.
package geo

import (
	"fmt"
	"math"
)

const Epsilon = 1e-9

// Point is a point.
type Point struct {
	X, Y float64
}

// Dist is the distance.
func Dist(a, b Point) float64 {
	return math.Hypot(a.X-b.X, a.Y-b.Y)
}

func (p Point) String() string {
	return fmt.Sprintf("(%g, %g)", p.X, p.Y)
}
"#;

#[test]
fn go_items_are_functions_methods_and_types() {
    let s = split("geo/geo.go", GO).unwrap();
    assert_eq!(
        outline(&s),
        vec![
            ("type", "Point".into(), 11, 14),
            ("fn", "Dist".into(), 16, 19),
            ("method", "String".into(), 21, 23),
        ]
    );
    assert!(header(&s).text.contains("package geo"));
    check_lines(GO, &s);
}

#[test]
fn bad_input_is_analysed_whole_or_split_at_the_right_lines() {
    // A syntax error: whole, with the line.
    assert!(matches!(
        split("a.rs", "fn ok() {}\n\nfn broken( {\n"),
        Err(Whole::Syntax(_))
    ));
    // Minified: two items on one line.
    assert_eq!(
        split("a.js", "function a(){return 1}function b(){return 2}\n").unwrap_err(),
        Whole::SharedLine(1)
    );
    assert_eq!(
        split("a.rs", "const X: u8 = 1; fn f() {}\n").unwrap_err(),
        Whole::SharedLine(1)
    );
    assert_eq!(
        split("a.rs", "//! only a header\nconst X: u8 = 1;\n").unwrap_err(),
        Whole::NoItems
    );
    assert_eq!(split("a.txt", "fn f() {}").unwrap_err(), Whole::NoGrammar);
    assert_eq!(split("a.rs", "").unwrap_err(), Whole::NoItems);
    // A BOM, CRLF line ends, tabs, a mix: the lines are the file's.
    for content in [
        "\u{feff}use a::b;\r\n\r\nfn f() {\r\n\tlet x = 1;\r\n}\r\n\r\nfn g() {}\n",
        "use a::b;\n\nfn f() {\r\n\tx();\n}\n// end\r\nfn g() {\n}",
    ] {
        let s = split("a.rs", content).unwrap();
        check_lines(content, &s);
        let names: Vec<_> = outline(&s).into_iter().map(|o| (o.1, o.2)).collect();
        assert_eq!(names[0], ("f".to_string(), 3), "{content:?}");
    }
    // Old Mac line ends (a lone CR) are not line ends to git or to the grammar: never a
    // panic, and whatever is split has the file's lines.
    let cr = "use a::b;\r\rfn f() {\r}\r\rfn g() {}\n";
    if let Ok(s) = split("a.rs", cr) {
        check_lines(cr, &s);
    }
    // A trailing comment after an item stays on its line; a statement after it does not.
    assert!(split("a.rs", "fn f() {} // fine\n").is_ok());
    assert_eq!(
        split("a.py", "def f():\n    pass\nx = 1\n").map(|s| outline(&s).len()),
        Ok(1)
    );
}
