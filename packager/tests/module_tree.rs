//! The packager's modules form the tree packager/README.md describes ("Module tree"): every module of `src/` is in
//! the table, and uses (`crate::…`) only the modules its row allows, so no command reaches into another.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module name (file stem or folder name) → the modules it may use (`None`: every module).
fn allowed() -> BTreeMap<String, Option<BTreeSet<String>>> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = readme.split("<!-- modules:begin -->").nth(1).unwrap().split("<!-- modules:end -->").next().unwrap();
    let mut out = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').trim_end_matches('/').trim_end_matches(".rs").to_string();
        let uses = cells[3];
        let allowed = if uses == "every module" {
            None
        } else {
            Some(uses.split(',').map(|u| u.trim().trim_matches('`').to_string()).filter(|u| !u.is_empty() && u != "–").collect())
        };
        out.insert(name, allowed);
    }
    out
}

/// Every `.rs` file under `path` (or `path` itself).
fn files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        out.extend(files(&entry.unwrap().path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")));
    }
    out
}

/// The top-level modules named after `crate::` in `text`, `crate::{a, b::c}` groups included.
fn used(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.insert(ident(&group[i..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

#[test]
fn every_module_uses_only_what_the_readme_allows() {
    let allowed = allowed();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let Some(rule) = allowed.get(&name) else {
            problems.push(format!("src/{name} is not in the README's module tree"));
            continue;
        };
        let Some(rule) = rule else { continue };
        for file in files(&path) {
            let text = std::fs::read_to_string(&file).unwrap();
            for module in used(&text) {
                if module != name && !rule.contains(&module) {
                    problems.push(format!("{} uses crate::{module}, which its row does not allow", file.display()));
                }
            }
        }
    }
    for name in allowed.keys() {
        if !src().join(name).is_dir() && !src().join(format!("{name}.rs")).is_file() {
            problems.push(format!("the README's module tree lists `{name}`, which src/ does not have"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let text = "use crate::aws::{self, backoff::Backoff};\nuse crate::{config::{A, B}, output};\nlet x = crate::digest::hex(b);";
    let found: Vec<String> = used(text).into_iter().collect();
    assert_eq!(found, ["aws", "config", "digest", "output"]);
}
