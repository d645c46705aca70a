//! Helpers for the config's tests: environments, loading a TOML text, asserting problems, and
//! a temp folder.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Config, Env};
use crate::error::{Error, Result};

pub(super) fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The variables `tests/lab/lab env` prints, including those that are not configuration.
pub(super) fn lab_env() -> Env {
    env(&[
        ("CUTOVER_ORIGIN_BOOTSTRAP", "127.0.0.1:39001"),
        ("CUTOVER_DESTINATION_BOOTSTRAP", "127.0.0.1:39002"),
        ("CUTOVER_ORIGIN_CLUSTER_ID", "origin-id-Q"),
        ("CUTOVER_DESTINATION_CLUSTER_ID", "dest-id-Z"),
        ("CUTOVER_LINK_NAME", "cutover-lab"),
        ("CUTOVER_LINK_REST_URL", "http://127.0.0.1:39003/kafka/v3"),
        (
            "CUTOVER_LINK_ADMIN_URL",
            "http://127.0.0.1:39003/linksim/v1",
        ),
        ("CUTOVER_LAB_STATE", "/tmp/lab/.state"),
        ("CUTOVER_CONFIG", "ignored.toml"),
        ("CUTOVER_LOG", "info"),
    ])
}

pub(super) fn from_toml(text: &str, env: &Env) -> Result<Config> {
    Config::from_sources(Some((text, Path::new("/nonexistent/cutover.toml"))), env)
}

pub(super) fn problems(result: Result<Config>) -> Vec<String> {
    match result {
        Err(Error::ConfigProblems(p)) => p,
        Err(other) => panic!("expected config problems, got {other}"),
        Ok(c) => panic!("expected config problems, got {c:?}"),
    }
}

pub(super) fn assert_problem(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "no problem contains {needle:?} in {problems:#?}"
    );
}

/// A folder of its own under the system temp folder, removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cutover-config-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the temp folder is writable");
        TempDir(dir)
    }

    pub(super) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).expect("the temp folder is writable");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
