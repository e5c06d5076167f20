//! The layers point down only (docs/design.md, STYLE.md): a module of a lower
//! layer never names a higher one. Reads every source file of each layer (its
//! code before the first `#[cfg(test)]`, and not its `tests/` directories, where
//! tests may build on anything) and fails on each `crate::X` that names a layer
//! above it.

use std::path::{Path, PathBuf};

/// Bottom to top. A layer may use every layer before it in this list.
const LAYERS: &[&[&str]] = &[
    &["spec", "alloc_count"],
    &["storage"],
    &["dma"],
    &["pi"],
    &["counters"],
    &["nvm"],
    &["controller"],
    &["transport"],
    &["control"],
    &["driver"],
    &["cli", "csum_cost"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        let name = e.file_name().unwrap().to_string_lossy().to_string();
        if e.is_dir() && name == "tests" || name.ends_with("_tests.rs") {
            continue;
        }
        if e.is_dir() || name.ends_with(".rs") {
            sources(&e, out);
        }
    }
}

/// `crate::NAME` references in the non-test part of `text`.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut refs = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            refs.push((n + 1, name));
        }
        // `use crate::{a, b}` names several at once.
        if let Some(i) = line.find("crate::{") {
            for part in line[i + "crate::{".len()..].split(',') {
                let name: String = part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                refs.push((n + 1, name));
            }
        }
    }
    refs
}

#[test]
fn no_layer_names_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for layer in LAYERS.iter().flat_map(|l| l.iter()) {
        let own = rank(layer).unwrap();
        let mut files = Vec::new();
        let dir = src.join(layer);
        let root = if dir.is_dir() { dir } else { src.join(format!("{layer}.rs")) };
        sources(&root, &mut files);
        assert!(!files.is_empty(), "layer {layer} has no sources");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (line, name) in crate_refs(&text) {
                match rank(&name) {
                    Some(r) if r > own => violations.push(format!("{}:{line}: {layer} names {name}", f.display())),
                    None if !name.is_empty() => violations
                        .push(format!("{}:{line}: {layer} names crate::{name}, which is in no layer", f.display())),
                    _ => {}
                }
            }
        }
    }
    assert!(violations.is_empty(), "upward or unplaced references:\n{}", violations.join("\n"));
}

#[test]
fn every_module_of_the_crate_is_in_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')) {
            assert!(rank(m).is_some(), "module {m} is in no layer of tests/layers.rs");
        }
    }
}

#[test]
fn the_checker_sees_an_upward_reference() {
    let refs = crate_refs("use crate::controller::Shared;\nuse crate::{spec, cli};\n#[cfg(test)]\nuse crate::cli::x;");
    let names: Vec<_> = refs.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["controller", "", "spec", "cli"], "test code after #[cfg(test)] is not read");
}
