//! Imports point one way (issue 9): a stage of the pipeline never imports the command line
//! (`cli`), the composition root (`app`), the operator API (`admin`) or what sits beside it
//! (`simulator`, `tools`). A new upward import fails this test: move what it needs into a leaf
//! instead.
//! `DEBTS` lists tolerated ones (none today) and may only shrink: a debt paid off but still
//! listed fails too.
//!
//! Sizes (issue 9): no function in `src/` over 80 lines, no file over 300 (its code before the
//! tests); `SIZE_EXCEPTIONS` lists the tolerated ones, and shrinks the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top layers: what the stages must not import.
const UPWARD: [&str; 5] = ["cli", "app", "admin", "simulator", "tools"];

/// Upward imports that exist today, (from, to), to be paid off by moving what they import into
/// leaves (as `context::AppState` and `http::document` were). None left.
const DEBTS: [(&str, &str); 0] = [];

/// The leaves: shared infrastructure and domain types, importing no stage.
const LEAVES: [&str; 2] = ["platform", "domain"];

/// What a leaf may import beyond the leaves, and why. None: the Genesys client left the shared
/// context for `admin::tenant`.
const LEAF_EXCEPTIONS: [(&str, &str); 0] = [];

/// Import cycles between top-level modules tolerated, and why. None: the command line (`cli`)
/// sits on top of `app` and `tools`, and `tools` start the service through `app`, one way.
const CYCLE_EXCEPTIONS: [(&str, &str); 0] = [];

/// Every file under `src`, with its path relative to `src`.
fn rust_files() -> Vec<(String, std::path::PathBuf)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, path));
            }
        }
    }
    files
}

/// Whether a file under `src` (path relative to it) holds only tests: `tests.rs`, `*_tests.rs`,
/// anything in a `tests/` folder.
fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "tests.rs" || name.ends_with("_tests.rs") || rel.contains("/tests/")
}

/// Top-level module of `src` → the top-level modules its non-test code names (`crate::x`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, path) in rust_files() {
        if !rel.ends_with(".rs") || is_test_file(&rel) {
            continue;
        }
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        // Test modules sit at the end of a file; what they import does not count.
        let code = text.split("\n#[cfg(test)]").next().unwrap();
        let named = edges.entry(top.clone()).or_default();
        for used in crate_paths(code) {
            if used != top {
                named.insert(used);
            }
        }
    }
    edges
}

/// Every `x` of `crate::x` and of `crate::{x, y::…}` in `code`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn stages_never_import_the_layers_above_them() {
    let edges = imports();
    let debts: BTreeSet<(String, String)> = DEBTS
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut upward = BTreeSet::new();
    for (from, to) in &edges {
        if UPWARD.contains(&from.as_str()) {
            continue;
        }
        for t in to {
            if UPWARD.contains(&t.as_str()) {
                upward.insert((from.clone(), t.clone()));
            }
        }
    }
    let new: Vec<_> = upward.difference(&debts).collect();
    assert!(
        new.is_empty(),
        "new upward imports (a stage importing the app, the operator API or a tool): {new:?}; move what they need into a leaf instead"
    );
    let paid: Vec<_> = debts.difference(&upward).collect();
    assert!(
        paid.is_empty(),
        "debts paid off: remove {paid:?} from DEBTS in tests/api/architecture.rs"
    );
}

#[test]
fn leaves_import_no_stage() {
    let edges = imports();
    let mut wrong = Vec::new();
    for leaf in LEAVES {
        for to in edges.get(leaf).into_iter().flatten() {
            let allowed = LEAVES.contains(&to.as_str()) || LEAF_EXCEPTIONS.contains(&(leaf, to));
            if !allowed {
                wrong.push((leaf, to.clone()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "leaves importing a stage or a layer above: {wrong:?}; move what they need into a leaf"
    );
}

/// The top-level modules that reach `from` again, following imports from `from`.
fn cycle_through(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    // Depth-first search for a path back to `from`, skipping tolerated edges.
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        for next in edges.get(&last).into_iter().flatten() {
            if CYCLE_EXCEPTIONS.contains(&(last.as_str(), next.as_str())) {
                continue;
            }
            if next == from {
                return Some([path.clone(), vec![next.clone()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push([path.clone(), vec![next.clone()]].concat());
            }
        }
    }
    None
}

#[test]
fn top_level_modules_form_no_import_cycle() {
    let edges = imports();
    let cycles: Vec<_> = edges
        .keys()
        .filter_map(|m| cycle_through(&edges, m))
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of src/: {cycles:?}"
    );
}

#[test]
fn a_cycle_is_found_whatever_its_length() {
    let graph = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    let cyclic = graph(&[("a", "b"), ("b", "c"), ("c", "a")]);
    assert_eq!(cycle_through(&cyclic, "a").unwrap(), ["a", "b", "c", "a"]);
    assert!(cycle_through(&graph(&[("a", "b"), ("b", "c")]), "a").is_none());
    // No edge is tolerated any more: the command line's old loop is found too.
    assert_eq!(
        cycle_through(&graph(&[("tools", "app"), ("app", "tools")]), "app").unwrap(),
        ["app", "tools", "app"]
    );
}

#[test]
fn crate_paths_are_read_from_plain_and_grouped_uses() {
    let found = crate_paths("use crate::a::B;\nuse crate::{c, d::E};\nlet x = crate::f::g();");
    assert_eq!(found, ["a", "c", "d", "f"].map(String::from).into());
}

/// Every type the OpenAPI document describes has a name of its own: utoipa keys schemas by the
/// type's name (or its `#[schema(as = …)]`), so two types of one name would silently describe one
/// of them with the other's schema (schemathesis found `CampaignFigures` answered with the wrong
/// one).
#[test]
fn schema_names_are_unique() {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rel, path) in rust_files() {
        if rel.ends_with(".rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for name in schema_names(&text) {
                seen.entry(name).or_default().push(rel.clone());
            }
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(twice.is_empty(), "schema names used twice: {twice:?}");
}

/// The schema name of each type deriving `ToSchema` in `text`.
fn schema_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut pending = false;
    let mut alias: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[derive(") && line.contains("ToSchema") {
            pending = true;
        } else if line.starts_with("ToSchema") || line.ends_with(", ToSchema,") {
            // A derive rustfmt spread over lines.
            pending = true;
        }
        if pending && let Some(rest) = line.strip_prefix("#[schema(as = ") {
            alias = Some(rest.trim_end_matches(")]").to_owned());
        }
        let item = line
            .strip_prefix("pub struct ")
            .or_else(|| line.strip_prefix("pub enum "))
            .or_else(|| line.strip_prefix("struct "))
            .or_else(|| line.strip_prefix("enum "));
        if let Some(item) = item {
            if pending {
                let name: String = item
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.push(alias.take().unwrap_or(name));
            }
            pending = false;
            alias = None;
        }
    }
    names
}

#[test]
fn schema_names_are_read_from_derives_and_aliases() {
    let text = "#[derive(Debug, ToSchema)]\npub struct A {}\n#[derive(\n    Debug, Clone, ToSchema,\n)]\n#[schema(as = Bee)]\npub enum B {}\n#[derive(Debug)]\nstruct C;";
    assert_eq!(schema_names(text), ["A", "Bee"]);
}

/// Past these, a function holds several rules and a file several jobs: each asks to be split along
/// a seam, with names a newcomer understands (STYLE: "a function is a paragraph").
const MAX_FUNCTION_LINES: usize = 80;
const MAX_FILE_LINES: usize = 300;

/// Functions over `MAX_FUNCTION_LINES` tolerated for now, (file under `src`, function). It may only
/// shrink: a function split but still listed fails too.
const SIZE_EXCEPTIONS: [(&str, &str); 0] = [];

#[test]
fn functions_and_files_stay_within_their_sizes() {
    let mut over = Vec::new();
    let mut excused = BTreeSet::new();
    for (rel, path) in rust_files() {
        if !rel.ends_with(".rs") || is_test_file(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = code_lines(&text);
        if code.len() > MAX_FILE_LINES {
            over.push(format!("src/{rel}: {} lines", code.len()));
        }
        for (line, name, lines) in function_lengths(&code) {
            if lines <= MAX_FUNCTION_LINES {
                continue;
            }
            if SIZE_EXCEPTIONS.contains(&(rel.as_str(), name.as_str())) {
                excused.insert((rel.clone(), name));
            } else {
                over.push(format!("src/{rel}:{line} {name}: {lines} lines"));
            }
        }
    }
    over.sort();
    assert!(
        over.is_empty(),
        "over {MAX_FUNCTION_LINES} lines a function or {MAX_FILE_LINES} a file (code before #[cfg(test)]): \
         {over:#?}; split them along their seams"
    );
    let split: Vec<_> = SIZE_EXCEPTIONS
        .iter()
        .filter(|(rel, name)| !excused.contains(&(rel.to_string(), name.to_string())))
        .collect();
    assert!(
        split.is_empty(),
        "within the limit now: remove {split:?} from SIZE_EXCEPTIONS in tests/api/architecture.rs"
    );
}

/// The lines of a file that count: those before its first `#[cfg(test)]` (test modules sit at the
/// end). Split on `\n` as written, so a final newline counts as one more (empty) line.
fn code_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.split('\n').collect();
    let end = lines
        .iter()
        .position(|l| l.trim() == "#[cfg(test)]")
        .unwrap_or(lines.len());
    lines[..end].to_vec()
}

/// Every function with a body in `code`: (its first line, from 1; its name; its lines, from the
/// `fn` line to the closing brace). Braces are counted line by line, outside string and character
/// literals (one line long) and comments; a declaration ending in `;` has no body.
fn function_lengths(code: &[&str]) -> Vec<(usize, String, usize)> {
    let mut found = Vec::new();
    for (i, line) in code.iter().enumerate() {
        let Some(name) = function_name(line) else {
            continue;
        };
        let (mut depth, mut started) = (0_i64, false);
        let mut j = i;
        while j < code.len() {
            let s = without_literals_and_comment(code[j]);
            for c in s.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        started = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (started && depth <= 0) || (!started && s.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        if started {
            // A body still open where the counted code ends runs to one past its last line.
            found.push((i + 1, name, j - i + 1));
        }
    }
    found
}

/// The name of the function `line` starts, if it does: `[pub[(…)]] [const] [async] [unsafe] fn name`.
fn function_name(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub") {
        let after = match after.strip_prefix('(') {
            Some(inner) => &inner[inner.find(')')? + 1..],
            None => after,
        };
        let trimmed = after.trim_start();
        if trimmed.len() < after.len() {
            rest = trimmed;
        }
    }
    for word in ["const", "async", "unsafe"] {
        if let Some(after) = rest.strip_prefix(word) {
            let trimmed = after.trim_start();
            if trimmed.len() < after.len() {
                rest = trimmed;
            }
        }
    }
    let after = rest.strip_prefix("fn")?;
    let trimmed = after.trim_start();
    if trimmed.len() == after.len() {
        return None;
    }
    let name: String = trimmed
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// `line` with each string literal emptied (`"…"` → `""`, escapes honoured), then each
/// one-character literal (`'{'` → `''`), then cut at `//`: what is left is code.
fn without_literals_and_comment(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"'
            && let Some(end) = closing_quote(&chars, i + 1)
        {
            out.extend(['"', '"']);
            i = end + 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let mut code = Vec::new();
    let mut i = 0;
    while i < out.len() {
        if out[i] == '\'' && i + 2 < out.len() && out[i + 2] == '\'' {
            code.extend(['\'', '\'']);
            i += 3;
        } else {
            code.push(out[i]);
            i += 1;
        }
    }
    let code: String = code.into_iter().collect();
    code.split("//").next().unwrap_or("").to_owned()
}

/// The index of the quote that closes a string literal whose text starts at `from`, if it closes
/// on this line.
fn closing_quote(chars: &[char], from: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '"' => return Some(i),
            '\\' if i + 1 < chars.len() => i += 2,
            '\\' => return None,
            _ => i += 1,
        }
    }
    None
}

#[test]
fn function_lengths_count_braces_in_code_only() {
    let text = r#"//! A module.
pub(crate) async fn braces_in_literals(x: &str) -> String {
    let open = "{ {{ \" {"; // a comment with a {
    let close = '}';
    format!("{open}{close}}}")
}

trait T {
    fn declared(&self) -> u8;
    fn with_default(&self) -> u8 {
        if true { 1 } else { 2 }
    }
}

fn one_line() {}

#[cfg(test)]
mod tests {
    fn not_counted() {
    }
}
"#;
    let code = code_lines(text);
    assert_eq!(code.len(), 16, "the lines before #[cfg(test)]");
    let found = function_lengths(&code);
    let named = |n: &str| found.iter().find(|f| f.1 == n).cloned();
    assert_eq!(
        named("braces_in_literals"),
        Some((2, "braces_in_literals".into(), 5))
    );
    assert_eq!(named("with_default"), Some((10, "with_default".into(), 3)));
    assert_eq!(named("one_line"), Some((15, "one_line".into(), 1)));
    assert_eq!(named("declared"), None, "a declaration has no body");
    assert_eq!(named("not_counted"), None, "tests do not count");
    assert_eq!(found.len(), 3);
    assert_eq!(function_name("    pub fn f<T>()"), Some("f".into()));
    assert_eq!(
        function_name("pub(super) const unsafe fn g()"),
        Some("g".into())
    );
    assert_eq!(function_name("    let fnord = 1;"), None);
    assert_eq!(function_name("    // fn commented()"), None);
}
