//! The lab as a test meets it: `tests/lab/lab up` once per test binary, the addresses `lab env`
//! prints, and the lab package's binaries (`cutover-linksim`, `cutover-testapp`) that cargo
//! built for this run.
//!
//! If the lab cannot start, the test fails with the lab's output: it never skips. This module
//! never runs cargo: cargo holds the build directory's lock while it runs the tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Addresses of the running lab.
#[derive(Debug, Clone)]
pub struct Lab {
    pub origin: String,
    pub destination: String,
    pub env: BTreeMap<String, String>,
}

/// The launcher, `tests/lab/lab` in the repository.
pub fn lab_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lab/lab")
}

/// Starts the lab (or reuses the running one) once per test binary.
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        run_lab(&["up"]);
        let env = parse_exports(&run_lab(&["env"]));
        let get = |k: &str| {
            env.get(k)
                .unwrap_or_else(|| panic!("`tests/lab/lab env` did not print {k}"))
                .clone()
        };
        Lab {
            origin: get("CUTOVER_ORIGIN_BOOTSTRAP"),
            destination: get("CUTOVER_DESTINATION_BOOTSTRAP"),
            env,
        }
    })
}

/// Runs the lab launcher; panics with its output when it fails.
pub fn run_lab(args: &[&str]) -> String {
    // The emulator binary cargo built for this test run: the lab must not run cargo itself
    // while cargo is running the tests.
    let out = Command::new(lab_script())
        .args(args)
        .env("CUTOVER_LINKSIM_BIN", lab_bin("cutover-linksim"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/lab/lab: {e}"));
    if !out.status.success() {
        panic!(
            "`tests/lab/lab {}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parses `export KEY=VALUE` lines (values may be single-quoted).
pub fn parse_exports(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// A binary of the lab package (`cutover-linksim`, `cutover-testapp`) as cargo built it for
/// the running test or bench.
///
/// Cargo tells only the tests of the package that owns a binary where it is
/// (`CARGO_BIN_EXE_<name>`), and cutover's tests run the lab's binaries. Cargo puts every
/// test and bench executable in `<target>/<profile>/deps/` and the binaries one level up, so
/// they are found beside the running executable; this follows `CARGO_TARGET_DIR`, `--release`
/// and `--target`. `cargo test` at the repository root builds them: the lab package has an
/// integration test, and cargo builds a package's binaries for its integration tests before it
/// runs any test.
pub fn lab_bin(name: &str) -> PathBuf {
    let profile_dir = profile_dir();
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        let release = if profile_dir.ends_with("release") {
            " --release"
        } else {
            ""
        };
        panic!(
            "the lab's binary {} is not built: run the suite with `cargo test` at the repository \
             root, or `cargo build{release} -p cutover-lab` first",
            path.display()
        );
    }
    path
}

/// A folder for files a test leaves behind for reading after a failure: `tmp/` beside the
/// profile folder, which is cargo's `CARGO_TARGET_TMPDIR` (`<target>/tmp`) unless a `--target`
/// triple adds a level.
pub fn target_tmp_dir() -> PathBuf {
    let profile_dir = profile_dir();
    profile_dir.parent().unwrap_or(&profile_dir).join("tmp")
}

/// `<target>/<profile>`: the folder above the `deps/` folder the running executable is in.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable knows its path");
    let dir = exe
        .parent()
        .expect("an executable lives in a folder")
        .to_path_buf();
    match dir.parent() {
        Some(up) if dir.ends_with("deps") => up.to_path_buf(),
        _ => dir,
    }
}
