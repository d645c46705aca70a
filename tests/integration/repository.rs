//! The repository's own shape, as issue-level promises that a grep could check: it stands
//! alone (nothing reads outside it), the pure core imports no I/O module, the layers point one
//! way, and no source file holds two concepts' worth of code.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (relative to the repository) whose name ends in one of `exts`.
fn files(dir: &str, exts: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                // Build output and fetched jars are not the repository's text.
                if !matches!(name, "target" | ".state" | "node_modules") {
                    walk(&path, exts, out);
                }
            } else if exts.iter().any(|e| name.ends_with(e)) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), exts, &mut out);
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The folder beside the repository that development checkouts have and users' clones do not
/// (written in two parts so that this file does not name it itself).
const OUTSIDE: &str = concat!("..", "/shared");

#[test]
fn nothing_in_the_repository_reads_outside_it() {
    let mut offenders = Vec::new();
    for dir in ["src", "tests", "lab", "benches", "docs", "scenarios", ".ci"] {
        for path in files(dir, &[".rs", ".md", ".toml", ".py", ".sh", "run", "lab"]) {
            if read(&path).contains(OUTSIDE) {
                offenders.push(relative(&path));
            }
        }
    }
    for top in ["Cargo.toml", "README.md"] {
        if read(&root().join(top)).contains(OUTSIDE) {
            offenders.push(top.to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "these read {OUTSIDE}, which a clone does not have: {offenders:?}"
    );
}

/// The crate modules a file's code names (first path segment after `crate::`); comments,
/// which may mention any module, are left out.
fn crate_imports(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

#[test]
fn the_pure_core_imports_only_the_model_and_the_rule() {
    let mut core = vec![
        root().join("src/rule.rs"),
        root().join("src/promotion.rs"),
        root().join("src/lag.rs"),
        root().join("src/translation.rs"),
    ];
    core.extend(files("src/promotion", &[".rs"]));
    core.push(root().join("src/cutover/machine.rs"));
    core.extend(files("src/cutover/machine", &[".rs"]));
    for path in core {
        let imports = crate_imports(&read(&path));
        let io: Vec<&String> = imports
            .iter()
            .filter(|m| !matches!(m.as_str(), "model" | "rule" | "cutover"))
            .collect();
        assert!(io.is_empty(), "{} imports {io:?}", relative(&path));
    }
    // Within `cutover`, the machine may name only itself, never the driver.
    for path in files("src/cutover/machine", &[".rs"]) {
        assert!(
            !read(&path).contains("crate::cutover::driver"),
            "{}",
            relative(&path)
        );
    }
    assert!(!read(&root().join("src/cutover/machine.rs")).contains("crate::cutover::driver"));
}

#[test]
fn layers_point_one_way() {
    // hooks are configured by config, never the reverse.
    for path in files("src/hooks", &[".rs"]) {
        assert!(
            !crate_imports(&read(&path)).contains(&"config".to_string()),
            "{} imports config",
            relative(&path)
        );
    }
    // The simulator drives the command layer; the grammar is the only part of the CLI it
    // reads (to parse a scenario's command lines), and it never reaches the scenario command.
    for path in files("src/sim", &[".rs"]) {
        let text = read(&path);
        for line in text.lines().filter(|l| l.contains("crate::cli")) {
            assert!(
                line.contains("crate::cli::Cli") || line.contains("crate::cli::{Cli"),
                "{}: {line}",
                relative(&path)
            );
        }
        assert!(!text.contains("cmd::scenario"), "{}", relative(&path));
    }
    // The command layer reaches the simulator only from the scenario command.
    for path in files("src/cmd", &[".rs"]) {
        let name = relative(&path);
        if !name.ends_with("scenario.rs") && !name.ends_with("dispatch.rs") {
            assert!(
                !crate_imports(&read(&path)).contains(&"sim".to_string()),
                "{name}"
            );
        }
    }
    // The grammar is only the grammar.
    let cli = read(&root().join("src/cli.rs"));
    assert_eq!(
        crate_imports(&cli),
        Vec::<String>::new(),
        "cli.rs imports crate modules"
    );
}

#[test]
fn no_source_file_holds_more_than_about_900_lines_of_code() {
    let mut big = Vec::new();
    for dir in ["src", "lab/src"] {
        for path in files(dir, &[".rs"]) {
            let text = read(&path);
            // Unit tests beside the code do not count: they may make a file long.
            let code = text.split("\n#[cfg(test)]").next().unwrap_or("");
            let lines = code.lines().count();
            if lines > 950 {
                big.push(format!("{} ({lines} lines of code)", relative(&path)));
            }
        }
    }
    assert!(big.is_empty(), "one concept per file: {big:?}");
}
