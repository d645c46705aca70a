//! `SimHooks`: the `Hooks` trait over the simulated apps. A group's stop hook stops the app of
//! that group, the restart hook starts it on the destination (or, moving a group back with
//! `--to origin`, on the origin reading the reverse link's mirrors), the rollback hook starts it
//! on the origin, and an exclude hook (when the scenario does not use the built-in link action)
//! adds the group's exclusion to the link's filters. A runbook stage's hook is a timeline
//! event: its `exec` names the event and its fields (`["stop_producer", "topic=orders",
//! "topic=payments"]`: once per topic). Each attempt takes `latency` of virtual time;
//! `hook_fails` events make the next attempts fail, which the retries then meet.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::hooks::{HookAction, HookConfig, HookContext, HookKind, HookReport, Hooks};
use crate::model::{GroupId, Role};
use crate::sim::{SharedWorld, World};

pub struct SimHooks {
    world: Arc<SharedWorld>,
    builtin_exclude: bool,
    promote_hook: bool,
    retries: u32,
    latency: Duration,
}

impl SimHooks {
    pub fn new(
        world: Arc<SharedWorld>,
        builtin_exclude: bool,
        promote_hook: bool,
        retries: u32,
        latency: Duration,
    ) -> Self {
        SimHooks {
            world,
            builtin_exclude,
            promote_hook,
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

fn perform(w: &mut World, kind: HookKind, ctx: &HookContext) -> Result<String, String> {
    let group = &ctx.group;
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
        HookKind::Restart if ctx.restart_on == Role::Origin => {
            let app = app_of(w, group)?;
            w.start_app_back(&app).map(|_| {
                format!("app {app} started on the origin, reading the reverse link's mirrors")
            })
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
        HookKind::Stage => Err("a stage hook names its event in its exec".into()),
        HookKind::Promote => ctx
            .topics
            .iter()
            .map(|topic| {
                crate::sim::events::apply(
                    w,
                    &crate::sim::scenario::Event::PromoteMirror {
                        topic: topic.clone(),
                    },
                )
            })
            .collect::<Result<Vec<String>, String>>()
            .map(|done| done.join("; ")),
    }
}

/// A stage hook's exec as timeline events: `[do, key=value…]`, one event per `topic=`.
fn stage_events(hook: &HookConfig) -> Result<Vec<crate::sim::scenario::Event>, String> {
    let HookAction::Exec { argv } = &hook.action else {
        return Err("a stage hook in a scenario is an exec naming a timeline event".into());
    };
    let (name, args) = argv.split_first().ok_or("a stage hook's exec is empty")?;
    let mut fields = serde_json::Map::new();
    fields.insert("do".into(), serde_json::Value::String(name.clone()));
    let mut topics = Vec::new();
    for arg in args {
        let (k, v) = arg
            .split_once('=')
            .ok_or_else(|| format!("{arg:?} is not key=value"))?;
        if k == "topic" {
            topics.push(v.to_string());
        } else {
            fields.insert(k.into(), serde_json::Value::String(v.into()));
        }
    }
    let one = |topic: Option<&String>| {
        let mut f = fields.clone();
        if let Some(t) = topic {
            f.insert("topic".into(), serde_json::Value::String(t.clone()));
        }
        serde_json::from_value(serde_json::Value::Object(f))
            .map_err(|e| format!("{argv:?} is not a timeline event: {e}"))
    };
    if topics.is_empty() {
        Ok(vec![one(None)?])
    } else {
        topics.iter().map(|t| one(Some(t))).collect()
    }
}

#[async_trait]
impl Hooks for SimHooks {
    fn describe(&self, kind: HookKind, ctx: &HookContext) -> Option<String> {
        Some(match kind {
            HookKind::Promote if !self.promote_hook => return None,
            HookKind::Promote => format!("sim: promote {}", ctx.topics.join(", ")),
            HookKind::Stop => format!("sim: stop the app of group {} on the origin", ctx.group),
            HookKind::Restart if ctx.restart_on == Role::Origin => format!(
                "sim: start the app of group {} on the origin, reading {}",
                ctx.group,
                ctx.restart_topics.join(", ")
            ),
            HookKind::Restart => format!(
                "sim: start the app of group {} on the destination",
                ctx.group
            ),
            HookKind::Rollback => {
                format!("sim: start the app of group {} on the origin", ctx.group)
            }
            HookKind::Exclude => format!("sim: exclude group {} in the link's filters", ctx.group),
            HookKind::Stage => "sim: a stage hook".into(),
        })
    }

    fn describe_stage(&self, hook: &HookConfig, _ctx: &HookContext) -> String {
        match &hook.action {
            HookAction::Exec { argv } => format!("sim: {}", argv.join(" ")),
            _ => "sim: not an exec".into(),
        }
    }

    async fn run_stage(&self, hook: &HookConfig, ctx: &HookContext) -> HookReport {
        let started = tokio::time::Instant::now();
        tokio::time::sleep(self.latency).await;
        let outcome = stage_events(hook).and_then(|events| {
            let mut w = self.world.lock();
            events
                .iter()
                .map(|e| crate::sim::events::apply(&mut w, e))
                .collect::<Result<Vec<String>, String>>()
        });
        let description = self.describe_stage(hook, ctx);
        match outcome {
            Ok(lines) => {
                for line in &lines {
                    self.world.note(format!("stage hook: {line}"));
                }
                HookReport {
                    kind: HookKind::Stage,
                    description,
                    attempts: 1,
                    ok: true,
                    error: None,
                    exit_code: Some(0),
                    http_status: None,
                    stdout: lines.join("\n"),
                    stderr: String::new(),
                    duration_ms: started.elapsed().as_millis() as u64,
                }
            }
            Err(e) => HookReport {
                kind: HookKind::Stage,
                description,
                attempts: 1,
                ok: false,
                error: Some(e.clone()),
                exit_code: Some(1),
                http_status: None,
                stdout: String::new(),
                stderr: e,
                duration_ms: started.elapsed().as_millis() as u64,
            },
        }
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
                    perform(&mut w, kind, ctx)
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
