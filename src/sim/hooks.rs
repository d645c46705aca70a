//! `SimHooks`: the `Hooks` trait over the simulated apps. A group's stop hook stops the app of
//! that group, the restart hook starts it on the destination, the rollback hook starts it on
//! the origin, and an exclude hook (when the scenario does not use the built-in link action)
//! adds the group's exclusion to the link's filters. Each attempt takes `latency` of virtual
//! time; `hook_fails` events make the next attempts fail, which the retries then meet.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::hooks::{HookContext, HookKind, HookReport, Hooks};
use crate::model::{GroupId, Role};
use crate::sim::{SharedWorld, World};

pub struct SimHooks {
    world: Arc<SharedWorld>,
    builtin_exclude: bool,
    retries: u32,
    latency: Duration,
}

impl SimHooks {
    pub fn new(
        world: Arc<SharedWorld>,
        builtin_exclude: bool,
        retries: u32,
        latency: Duration,
    ) -> Self {
        SimHooks {
            world,
            builtin_exclude,
            retries,
            latency,
        }
    }
}

fn app_of(w: &World, group: &GroupId) -> Result<String, String> {
    w.apps
        .iter()
        .find(|a| &a.group == group)
        .map(|a| a.name.clone())
        .ok_or_else(|| format!("no app of the scenario consumes as group {group}"))
}

fn perform(w: &mut World, kind: HookKind, group: &GroupId) -> Result<String, String> {
    match kind {
        HookKind::Stop => {
            let app = app_of(w, group)?;
            match w
                .apps
                .iter()
                .find(|a| a.name == app)
                .and_then(|a| a.running_on)
            {
                Some(_) => w.stop_app(&app, true).map(|_| format!("app {app} stopped")),
                None => Ok(format!("app {app} was not running")),
            }
        }
        HookKind::Restart | HookKind::Rollback => {
            let app = app_of(w, group)?;
            let role = if kind == HookKind::Restart {
                Role::Destination
            } else {
                Role::Origin
            };
            w.start_app(&app, role)
                .map(|_| format!("app {app} started on the {role}"))
        }
        HookKind::Exclude => {
            w.link
                .exclude_group(group.as_str())
                .map_err(|r| r.message)?;
            Ok(format!("group {group} excluded by the exclude hook"))
        }
    }
}

#[async_trait]
impl Hooks for SimHooks {
    fn describe(&self, kind: HookKind, ctx: &HookContext) -> Option<String> {
        Some(match kind {
            HookKind::Stop => format!("sim: stop the app of group {} on the origin", ctx.group),
            HookKind::Restart => format!(
                "sim: start the app of group {} on the destination",
                ctx.group
            ),
            HookKind::Rollback => {
                format!("sim: start the app of group {} on the origin", ctx.group)
            }
            HookKind::Exclude => format!("sim: exclude group {} in the link's filters", ctx.group),
        })
    }

    fn exclude_is_builtin(&self, _group: &GroupId) -> bool {
        self.builtin_exclude
    }

    async fn run(&self, kind: HookKind, ctx: &HookContext) -> HookReport {
        let started = tokio::time::Instant::now();
        let mut attempts = 0;
        let mut last_error = String::new();
        while attempts <= self.retries {
            attempts += 1;
            tokio::time::sleep(self.latency).await;
            let outcome = {
                let mut w = self.world.lock();
                let budget = w
                    .hook_failures
                    .entry(kind.as_str().to_string())
                    .or_default();
                if *budget > 0 {
                    *budget -= 1;
                    Err(format!(
                        "{} hook failed (injected, exit code 1)",
                        kind.as_str()
                    ))
                } else {
                    perform(&mut w, kind, &ctx.group)
                }
            };
            match outcome {
                Ok(text) => {
                    self.world.note(format!("{} hook: {text}", kind.as_str()));
                    return HookReport {
                        kind,
                        description: self.describe(kind, ctx).unwrap_or_default(),
                        attempts,
                        ok: true,
                        error: None,
                        exit_code: Some(0),
                        http_status: None,
                        stdout: text,
                        stderr: String::new(),
                        duration_ms: started.elapsed().as_millis() as u64,
                    };
                }
                Err(e) => {
                    self.world
                        .note(format!("{} hook attempt {attempts}: {e}", kind.as_str()));
                    last_error = e;
                }
            }
        }
        HookReport {
            kind,
            description: self.describe(kind, ctx).unwrap_or_default(),
            attempts,
            ok: false,
            error: Some(format!("{last_error} after {attempts} attempt(s)")),
            exit_code: Some(1),
            http_status: None,
            stdout: String::new(),
            stderr: last_error,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }
}
