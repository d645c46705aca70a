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
///
/// `origin` and `destination` are the listeners the fixtures use (topics, records, group
/// members, the emulator, the test application): PLAINTEXT, and a super user in the secure lab.
/// The agent is pointed at the clusters by [`Lab::agent_env`], which in the secure lab is its
/// own SASL_SSL listener and principal, with only the ACLs `docs/security.md` lists.
#[derive(Debug, Clone)]
pub struct Lab {
    pub origin: String,
    pub destination: String,
    pub env: BTreeMap<String, String>,
    /// Set when the lab is the secure one (`tests/lab/lab up --secure`).
    pub secure: Option<Secure>,
}

/// What the agent needs to reach the secure lab: SASL_SSL listeners (SCRAM-SHA-512 on the
/// origin, OAUTHBEARER with an unsecured JWT on the destination, so that every test crosses
/// both), the lab's CA, a client certificate (mutual TLS, on both clusters and on the REST
/// API), and the REST API's Basic credentials.
#[derive(Debug, Clone)]
pub struct Secure {
    pub origin: String,
    pub destination: String,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub user: String,
    pub password: String,
    pub rest_user: String,
    pub rest_password: String,
}

/// Whether this test binary runs against the secure lab: `CUTOVER_LAB_SECURE=1`, or a test
/// binary named `secure` (`tests/secure/main.rs`, which compiles the same tests again).
pub fn secure_mode() -> bool {
    if std::env::var("CUTOVER_LAB_SECURE").is_ok_and(|v| v == "1") {
        return true;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|name| name == "secure" || name.starts_with("secure-"))
}

impl Lab {
    /// The `CUTOVER_*` variables that point the `cutover` binary at both clusters as the agent:
    /// the plain listeners, or in the secure lab the SASL_SSL ones with the agent's principal
    /// and client certificate.
    pub fn agent_env(&self) -> Vec<(&'static str, String)> {
        let Some(s) = &self.secure else {
            return vec![
                ("CUTOVER_ORIGIN_BOOTSTRAP", self.origin.clone()),
                ("CUTOVER_DESTINATION_BOOTSTRAP", self.destination.clone()),
            ];
        };
        let path = |p: &PathBuf| p.display().to_string();
        vec![
            ("CUTOVER_ORIGIN_BOOTSTRAP", s.origin.clone()),
            ("CUTOVER_ORIGIN_SECURITY_PROTOCOL", "SASL_SSL".into()),
            ("CUTOVER_ORIGIN_SASL_MECHANISMS", "SCRAM-SHA-512".into()),
            ("CUTOVER_ORIGIN_SASL_USERNAME", s.user.clone()),
            ("CUTOVER_ORIGIN_SASL_PASSWORD", s.password.clone()),
            ("CUTOVER_ORIGIN_SSL_CA_LOCATION", path(&s.ca)),
            (
                "CUTOVER_ORIGIN_SSL_CERTIFICATE_LOCATION",
                path(&s.client_cert),
            ),
            ("CUTOVER_ORIGIN_SSL_KEY_LOCATION", path(&s.client_key)),
            ("CUTOVER_DESTINATION_BOOTSTRAP", s.destination.clone()),
            ("CUTOVER_DESTINATION_SECURITY_PROTOCOL", "SASL_SSL".into()),
            ("CUTOVER_DESTINATION_SASL_MECHANISMS", "OAUTHBEARER".into()),
            (
                "CUTOVER_DESTINATION_ENABLE_SASL_OAUTHBEARER_UNSECURE_JWT",
                "true".into(),
            ),
            (
                "CUTOVER_DESTINATION_SASL_OAUTHBEARER_CONFIG",
                format!("principal={}", s.user),
            ),
            ("CUTOVER_DESTINATION_SSL_CA_LOCATION", path(&s.ca)),
            (
                "CUTOVER_DESTINATION_SSL_CERTIFICATE_LOCATION",
                path(&s.client_cert),
            ),
            ("CUTOVER_DESTINATION_SSL_KEY_LOCATION", path(&s.client_key)),
            ("CUTOVER_LINK_USERNAME", s.rest_user.clone()),
            ("CUTOVER_LINK_PASSWORD", s.rest_password.clone()),
            ("CUTOVER_LINK_CA_FILE", path(&s.ca)),
            ("CUTOVER_LINK_CERT_FILE", path(&s.client_cert)),
            ("CUTOVER_LINK_KEY_FILE", path(&s.client_key)),
        ]
    }
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
        let secure = secure_mode().then(|| Secure {
            origin: get("CUTOVER_LAB_ORIGIN_SECURE_BOOTSTRAP"),
            destination: get("CUTOVER_LAB_DESTINATION_SECURE_BOOTSTRAP"),
            ca: get("CUTOVER_LAB_CA_FILE").into(),
            server_cert: get("CUTOVER_LAB_SERVER_CERT").into(),
            server_key: get("CUTOVER_LAB_SERVER_KEY").into(),
            client_cert: get("CUTOVER_LAB_CLIENT_CERT").into(),
            client_key: get("CUTOVER_LAB_CLIENT_KEY").into(),
            user: get("CUTOVER_LAB_AGENT_USER"),
            password: get("CUTOVER_LAB_AGENT_PASSWORD"),
            rest_user: get("CUTOVER_LAB_REST_USER"),
            rest_password: get("CUTOVER_LAB_REST_PASSWORD"),
        });
        Lab {
            origin: get("CUTOVER_ORIGIN_BOOTSTRAP"),
            destination: get("CUTOVER_DESTINATION_BOOTSTRAP"),
            env,
            secure,
        }
    })
}

/// Runs the lab launcher; panics with its output when it fails.
pub fn run_lab(args: &[&str]) -> String {
    // The emulator binary cargo built for this test run: the lab must not run cargo itself
    // while cargo is running the tests.
    let mut command = Command::new(lab_script());
    command
        .args(args)
        .env("CUTOVER_LINKSIM_BIN", lab_bin("cutover-linksim"));
    if secure_mode() {
        command.env("CUTOVER_LAB_SECURE", "1");
    }
    let out = command
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
