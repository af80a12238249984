//! The README's anomaly tables against the catalogue (`tcpaudit explain`): every id is in a
//! table, with the severity the tool gives it.

use std::collections::BTreeMap;

use crate::util::*;

/// Every id with its severity and scope, as `tcpaudit explain` lists them.
fn catalogue() -> BTreeMap<String, (String, String)> {
    let out = tcpaudit().arg("explain").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (id, sev, scope) = (w.next()?, w.next()?, w.next()?);
            // The list ends before a blank line and a sentence.
            ["info", "notice", "warning", "error"]
                .contains(&sev)
                .then(|| (id.to_string(), (sev.to_string(), scope.to_string())))
        })
        .collect()
}

#[test]
fn the_readme_tables_give_every_anomaly_its_severity() {
    let ids = catalogue();
    assert!(ids.len() >= 49, "{} ids", ids.len());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut documented: BTreeMap<String, String> = BTreeMap::new();
    let mut wrong = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (first, severity) = (cells[1], cells[2]);
        // The severity column's first word ("error, notice when offload" is an error first).
        let sev = severity
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        if !["info", "notice", "warning", "error"].contains(&sev) {
            continue;
        }
        for id in first.split('`').skip(1).step_by(2) {
            let Some((want, _)) = ids.get(id) else {
                continue;
            };
            if want != sev {
                wrong.push(format!("{id}: README says {sev}, explain says {want}"));
            }
            documented.insert(id.to_string(), sev.to_string());
        }
    }
    assert!(
        wrong.is_empty(),
        "severities disagree:\n{}",
        wrong.join("\n")
    );
    let missing: Vec<&String> = ids
        .keys()
        .filter(|id| !documented.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "ids in no README table: {missing:?}");
}

/// The README's first expectation file is what a new user copies: it must pass on a healthy
/// capture (and fail on one with a flood).
#[test]
fn the_readmes_first_expectation_passes_on_a_healthy_capture() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let at = readme
        .find("The smallest expectation file")
        .expect("README: the smallest expectation file");
    let block = &readme[at..];
    let start = block.find("```toml\n").unwrap() + "```toml\n".len();
    let toml = &block[start..start + block[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("expect.toml"), toml).unwrap();
    std::fs::copy(
        fixture("recordings/normal_http.pcap"),
        dir.path().join("normal_http.pcap"),
    )
    .unwrap();
    tcpaudit().arg("check").arg(dir.path()).assert().success();
    std::fs::copy(
        fixture("generated/flood.pcap"),
        dir.path().join("flood.pcap"),
    )
    .unwrap();
    tcpaudit().arg("check").arg(dir.path()).assert().code(1);
}

/// Every long option `--help` lists for a command is in the man page and the README: the
/// hand-written pages cannot fall behind the parser.
#[test]
fn every_option_is_in_the_man_page_and_the_readme() {
    let root = env!("CARGO_MANIFEST_DIR");
    let man = std::fs::read_to_string(format!("{root}/man/tcpaudit.1")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut missing = Vec::new();
    let mut seen = 0;
    for cmd in ["analyze", "live", "check", "ladder"] {
        let out = tcpaudit().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        let options: std::collections::BTreeSet<&str> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .filter(|w| !["--help", "--version"].contains(w))
            .collect();
        for opt in options {
            seen += 1;
            if !man.contains(&opt.replace('-', "\\-")) {
                missing.push(format!("man page: {cmd} {opt}"));
            }
            if !readme.contains(&format!("{opt}`")) && !readme.contains(&format!("{opt} ")) {
                missing.push(format!("README: {cmd} {opt}"));
            }
        }
    }
    assert!(seen > 40, "only {seen} options found in --help");
    assert!(
        missing.is_empty(),
        "undocumented options:\n{}",
        missing.join("\n")
    );
}

/// man/tcpaudit.1 is what `tcpaudit man` generates from the option definitions (run the tests
/// with `TCPAUDIT_UPDATE_MAN=1` to refresh it), and groff renders it without a warning.
#[test]
fn the_man_page_is_generated_from_the_options_and_renders_cleanly() {
    let root = env!("CARGO_MANIFEST_DIR");
    let path = format!("{root}/man/tcpaudit.1");
    let out = tcpaudit().arg("man").output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    if std::env::var_os("TCPAUDIT_UPDATE_MAN").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(
        page == generated,
        "man/tcpaudit.1 is out of date: run `TCPAUDIT_UPDATE_MAN=1 cargo test man_page`"
    );
    for section in [
        "ANALYZE OPTIONS",
        "LIVE OPTIONS",
        "CHECK OPTIONS",
        "EXIT STATUS",
    ] {
        assert!(page.contains(section), "{section}");
    }
    if !require(
        std::process::Command::new("groff")
            .arg("-v")
            .output()
            .is_ok(),
        "groff is not installed (apt-get install groff-base)",
    ) {
        return;
    }
    let render = std::process::Command::new("groff")
        .args(["-man", "-ww", "-z", &path])
        .output()
        .unwrap();
    assert!(render.status.success());
    let warnings = String::from_utf8_lossy(&render.stderr);
    assert!(warnings.is_empty(), "groff warns:\n{warnings}");
    if require(
        std::process::Command::new("man")
            .arg("--version")
            .output()
            .is_ok(),
        "man is not installed (apt-get install man-db)",
    ) {
        let man = std::process::Command::new("man")
            .args(["-l", &path])
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .unwrap();
        assert!(man.status.success());
        assert!(
            String::from_utf8_lossy(&man.stderr).is_empty(),
            "{}",
            String::from_utf8_lossy(&man.stderr)
        );
        // Overstrike bold (`E\x08E`) comes out into a pipe: keep the last of each pair.
        let text = String::from_utf8_lossy(&man.stdout);
        let mut plain = String::new();
        for c in text.chars() {
            if c == '\x08' {
                plain.pop();
            } else {
                plain.push(c);
            }
        }
        assert!(plain.contains("EXIT STATUS"), "{plain}");
    }
}

/// The README's tables of the CSV and Parquet columns list every column of each table, in
/// order, with its meaning as the code documents it.
#[test]
fn the_readme_lists_every_flat_column() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Formats for other tools")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    for (title, columns) in [
        ("The connection table", tcpaudit::report::CONNECTION),
        ("The anomaly table", tcpaudit::report::ANOMALY),
        ("The application table", tcpaudit::report::APP),
    ] {
        let table = section
            .split(title)
            .nth(1)
            .unwrap_or_else(|| panic!("{title}"));
        let rows: Vec<&str> = table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .collect();
        assert_eq!(rows.len(), columns.len(), "{title}");
        for (row, c) in rows.iter().zip(columns) {
            assert!(
                row.starts_with(&format!("| `{}` |", c.name)),
                "{title}: {row} vs {}",
                c.name
            );
            assert!(row.contains(c.doc), "{title}: {row} lacks '{}'", c.doc);
            assert_eq!(row.contains("or null"), c.nullable, "{title}: {row}");
        }
    }
}
