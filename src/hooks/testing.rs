//! Helpers for the hooks' tests (and the config's tests of hooks): a context, hooks built by
//! hand, and a temp folder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfiguredHooks, HookAction, HookConfig, HookContext, HookKind, HooksConfig};
use crate::model::GroupId;

pub(crate) const SECRET: &str = "tok-S3CRET-x";

pub(crate) fn ctx(group: &str) -> HookContext {
    HookContext {
        group: GroupId::new(group),
        topics: vec!["orders".into(), "payments".into()],
        run_id: "run-7".into(),
        link: "migration-link".into(),
        restart_topics: Vec::new(),
        restart_on: crate::model::Role::Destination,
    }
}

pub(crate) fn hook(action: HookAction) -> HookConfig {
    HookConfig {
        key: "[hooks.stop]".into(),
        action,
        timeout: Duration::from_secs(20),
        retries: 0,
        env: BTreeMap::new(),
        secret_env: BTreeMap::new(),
    }
}

pub(crate) fn exec(argv: &[&str]) -> HookAction {
    HookAction::Exec {
        argv: argv.iter().map(|a| a.to_string()).collect(),
    }
}

pub(crate) fn shell(script: &str) -> HookAction {
    HookAction::Shell {
        script: script.into(),
    }
}

pub(crate) fn only(kind: HookKind, hook: HookConfig) -> ConfiguredHooks {
    let mut config = HooksConfig::default();
    config.defaults.insert(kind, hook);
    ConfiguredHooks::new(&config).with_backoff(Duration::from_millis(10))
}

/// A folder of its own under the system temp folder, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cutover-hooks-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp folder is writable");
        TempDir(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
