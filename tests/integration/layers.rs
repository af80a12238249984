//! The source tree keeps its shape: every `crate::` import points to a lower layer (no cycles,
//! no core module reaching the front end), every module has its place in the order, and no
//! source file grows past what a person reads in one sitting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import only modules of a lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("base", 0),
    ("time", 1),
    ("wire", 2),
    ("capture", 3),
    ("tcp", 3),
    ("proto", 3),
    ("compat", 4),
    ("detect", 5),
    ("event", 6),
    ("flow", 7),
    ("analyzer", 8),
    ("run", 9),
    ("report", 9),
    ("config", 9),
    ("cli", 10),
    ("check", 10),
    ("monitor", 10),
    ("app", 11),
];

/// Files whose only content is tests, which may reach anything they need to drive the code.
fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    matches!(name, "tests.rs" | "testkit.rs" | "testutil.rs")
}

/// Longest source file, in lines.
const MAX_LINES: usize = 650;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its trailing `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn imports_point_down_the_layers_and_files_stay_short() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(&src)
            .expect("under src/")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path).expect("readable source");
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!("{rel}: {lines} lines (at most {MAX_LINES})"));
        }
        let top = rel.split('/').next().unwrap_or("").trim_end_matches(".rs");
        if matches!(top, "lib" | "main") || is_test_file(&rel) {
            continue;
        }
        let Some(&mine) = rank.get(top) else {
            problems.push(format!("{rel}: module `{top}` has no place in LAYERS"));
            continue;
        };
        let code = code(&text);
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == top || name.is_empty() {
                continue;
            }
            match rank.get(name.as_str()) {
                Some(&theirs) if theirs < mine => {}
                Some(_) => problems.push(format!("{rel}: `{top}` imports `{name}`, not below it")),
                None if name == "testutil" => {}
                None => problems.push(format!(
                    "{rel}: imports `{name}`, which has no place in LAYERS"
                )),
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
