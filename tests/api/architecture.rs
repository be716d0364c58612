//! Imports point one way (issue 9): a stage of the pipeline never imports the composition root
//! (`app`), the operator API (`admin`) or what sits beside it (`simulator`, `tools`). A new upward import fails this test: move what it needs into a leaf instead.
//! `DEBTS` lists tolerated ones (none today) and may only shrink: a debt paid off but still
//! listed fails too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top layers: what the stages must not import.
const UPWARD: [&str; 4] = ["app", "admin", "simulator", "tools"];

/// Upward imports that exist today, (from, to), to be paid off by moving what they import into
/// leaves (as `context::AppState` and `http::document` were). None left.
const DEBTS: [(&str, &str); 0] = [];

/// The leaves: shared infrastructure and domain types, importing no stage.
const LEAVES: [&str; 2] = ["platform", "domain"];

/// What a leaf may import beyond the leaves, and why. The context every handler and job shares
/// carries the Genesys client (and its events target and region); the client imports no other
/// stage than `normalize`'s pure types, so this makes no cycle.
const LEAF_EXCEPTIONS: [(&str, &str); 1] = [("platform", "genesys")];

/// Import cycles between top-level modules tolerated, and why: the tools are started by the
/// command line (`app`) and start the service the way `app` does (its settings and startup), as
/// an operator would. Nothing else may form a cycle.
const CYCLE_EXCEPTIONS: [(&str, &str); 1] = [("tools", "app")];

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

/// Top-level module of `src` → the top-level modules its non-test code names (`crate::x`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, path) in rust_files() {
        let name = path.file_name().unwrap().to_string_lossy();
        let test_file =
            name == "tests.rs" || name.ends_with("_tests.rs") || rel.contains("/tests/");
        if !rel.ends_with(".rs") || test_file {
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
fn a_cycle_is_found_and_a_tolerated_edge_is_not_one() {
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
    assert!(cycle_through(&graph(&[("tools", "app"), ("app", "tools")]), "app").is_none());
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
