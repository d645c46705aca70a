//! The runbook file: ordered stages of a migration, read and checked before anything runs.
//!
//! ```toml
//! name = "night-1"                      # the runbook's journal (default: the file's name)
//! description = "orders and payments"
//!
//! [[stage]]
//! kind = "watch"                        # wait for mirror lag (`cutover watch`)
//! topics = ["orders"]                   # default: every mirror
//! until-lag = 0
//! deadline = "30m"
//! prioritise = ["orders"]
//!
//! [[stage]]
//! kind = "groups"                       # cut groups over (`cutover group`), together
//! groups = ["billing", "ledger"]        # and/or
//! pattern = "shipping-*"                # `*` matches any text; groups of either cluster
//! concurrency = 20                      # at most this many at once (default 10)
//! final-offsets = "agent"               # default: [cutover] final-offsets
//!
//! [[stage]]
//! kind = "hook"                         # the operator's own step, then its effect checked
//! name = "stop producers"
//! hook = { exec = ["./producers.sh", "stop", "{topics}"], timeout = "2m" }
//! topics = ["orders", "payments"]
//! then = "origin-still"                 # or "destination-written"; default: no check
//! window = "10s"                        # how long the ends must stay still (or may take)
//!
//! [[stage]]
//! kind = "audit"                        # `cutover audit`: promotion safe for the whole link
//! window = "10s"
//!
//! [[stage]]
//! kind = "promote"                      # `cutover promote`
//! topics = ["orders", "payments"]       # or all = true
//! window = "10s"
//! ```
//!
//! Every problem of the file is reported at once (exit 2), naming the stage and the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Env;
use crate::error::{Error, Result};
use crate::hooks::HookConfig;
use crate::model::{FinalOffsets, GroupId, Role};
use crate::promote::PromoteSpec;
use crate::watch::WatchSpec;

/// A runbook, checked.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub name: String,
    pub description: Option<String>,
    pub path: PathBuf,
    /// SHA-256 of the file, journaled: a resume says when the file changed meanwhile.
    pub digest: String,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub action: Action,
}

/// What a stage does.
#[derive(Debug, Clone)]
pub enum Action {
    Watch(WatchSpec),
    Groups(GroupsStage),
    Hook(Box<HookStage>),
    Audit {
        window: Duration,
        /// Groups declared to stay on the origin (`stay = [...]`), as `audit --stay`.
        stay: Vec<GroupId>,
    },
    Promote(PromoteSpec),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Watch(_) => "watch",
            Action::Groups(_) => "groups",
            Action::Hook(_) => "hook",
            Action::Audit { .. } => "audit",
            Action::Promote(_) => "promote",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupsStage {
    pub groups: Vec<GroupId>,
    pub pattern: Option<String>,
    pub concurrency: usize,
    pub final_offsets: Option<FinalOffsets>,
    /// Where the groups restart: the destination, or (`to = "origin"`) the origin, onto the
    /// reverse link's mirrors, as `cutover group --to origin`.
    pub to: Role,
}

#[derive(Debug, Clone)]
pub struct HookStage {
    pub hook: HookConfig,
    pub topics: Vec<String>,
    pub check: Option<HookCheck>,
    pub window: Duration,
    /// How long the check may take to hold.
    pub check_timeout: Duration,
}

/// What a hook stage's effect must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookCheck {
    /// The origin's ends of `topics` stop moving (producers stopped): still over `window`.
    OriginStill,
    /// The destination's ends of `topics` grow (producers write there now).
    DestinationWritten,
}

impl HookCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            HookCheck::OriginStill => "origin-still",
            HookCheck::DestinationWritten => "destination-written",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    stage: Vec<RawStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStage {
    kind: String,
    name: Option<String>,
    topics: Option<Vec<String>>,
    until_lag: Option<u64>,
    deadline: Option<String>,
    prioritise: Option<Vec<String>>,
    stall_after: Option<String>,
    groups: Option<Vec<String>>,
    pattern: Option<String>,
    concurrency: Option<usize>,
    final_offsets: Option<String>,
    to: Option<String>,
    stay: Option<Vec<String>>,
    hook: Option<toml::Table>,
    then: Option<String>,
    window: Option<String>,
    check_timeout: Option<String>,
    all: Option<bool>,
    timeout: Option<String>,
}

/// The keys each kind of stage takes (besides `kind` and `name`).
const KEYS: &[(&str, &[&str])] = &[
    (
        "watch",
        &[
            "topics",
            "until-lag",
            "deadline",
            "prioritise",
            "stall-after",
        ],
    ),
    (
        "groups",
        &["groups", "pattern", "concurrency", "final-offsets", "to"],
    ),
    (
        "hook",
        &["hook", "topics", "then", "window", "check-timeout"],
    ),
    ("audit", &["window", "stay"]),
    ("promote", &["topics", "all", "window", "timeout"]),
];

impl RawStage {
    /// The keys set, as the file spells them.
    fn set_keys(&self) -> Vec<&'static str> {
        let set = [
            ("topics", self.topics.is_some()),
            ("until-lag", self.until_lag.is_some()),
            ("deadline", self.deadline.is_some()),
            ("prioritise", self.prioritise.is_some()),
            ("stall-after", self.stall_after.is_some()),
            ("groups", self.groups.is_some()),
            ("pattern", self.pattern.is_some()),
            ("concurrency", self.concurrency.is_some()),
            ("final-offsets", self.final_offsets.is_some()),
            ("to", self.to.is_some()),
            ("stay", self.stay.is_some()),
            ("hook", self.hook.is_some()),
            ("then", self.then.is_some()),
            ("window", self.window.is_some()),
            ("check-timeout", self.check_timeout.is_some()),
            ("all", self.all.is_some()),
            ("timeout", self.timeout.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(k, _)| k)
            .collect()
    }
}

/// Default concurrency of a groups stage.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// Reads and checks a runbook; `env` gives hooks' `env-from` values.
pub fn load(path: &Path, env: &Env) -> Result<Runbook> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Runbook {
        path: path.to_path_buf(),
        problems: vec![format!("cannot read it: {e}")],
    })?;
    parse(path, &text, env)
}

pub(crate) fn parse(path: &Path, text: &str, env: &Env) -> Result<Runbook> {
    let fail = |problems: Vec<String>| Error::Runbook {
        path: path.to_path_buf(),
        problems,
    };
    let raw: RawRunbook = toml::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
    let mut problems = Vec::new();
    if raw.stage.is_empty() {
        problems.push("it has no [[stage]]".to_string());
    }
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let stages: Vec<Stage> = raw
        .stage
        .iter()
        .enumerate()
        .filter_map(|(i, s)| stage(i, s, base_dir, env, &mut problems))
        .collect();
    let name = raw
        .name
        .clone()
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "runbook".into());
    if name.trim().is_empty() {
        problems.push("name is empty".into());
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    Ok(Runbook {
        name,
        description: raw.description,
        path: path.to_path_buf(),
        digest: format!("{:x}", Sha256::digest(text.as_bytes())),
        stages,
    })
}

fn stage(
    index: usize,
    s: &RawStage,
    base_dir: &Path,
    env: &Env,
    problems: &mut Vec<String>,
) -> Option<Stage> {
    let at = format!(
        "stage {} ({})",
        index + 1,
        s.name.as_deref().unwrap_or(&s.kind)
    );
    let Some((_, allowed)) = KEYS.iter().find(|(k, _)| *k == s.kind) else {
        problems.push(format!(
            "{at}: kind {:?} is not one of watch, groups, hook, audit, promote",
            s.kind
        ));
        return None;
    };
    let before = problems.len();
    for key in s.set_keys() {
        if !allowed.contains(&key) {
            problems.push(format!(
                "{at}: a {} stage takes no {key} (it takes: {})",
                s.kind,
                allowed.join(", ")
            ));
        }
    }
    let action = match s.kind.as_str() {
        "watch" => Action::Watch(WatchSpec {
            topics: s.topics.clone().unwrap_or_default(),
            until_lag: s
                .until_lag
                .map_or(0, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            deadline: s
                .deadline
                .as_ref()
                .map(|d| duration(&at, "deadline", problems, &Some(d.clone()), "")),
            prioritise: s.prioritise.clone().unwrap_or_default(),
            resume: false,
            stall_after: duration(&at, "stall-after", problems, &s.stall_after, "1m"),
        }),
        "groups" => {
            let final_offsets = match s.final_offsets.as_deref() {
                None => None,
                Some("agent") => Some(FinalOffsets::Agent),
                Some("link") => Some(FinalOffsets::Link),
                Some(other) => {
                    problems.push(format!(
                        "{at}: final-offsets {other:?} is not \"agent\" or \"link\""
                    ));
                    None
                }
            };
            let groups: Vec<GroupId> = s.groups.iter().flatten().map(GroupId::new).collect();
            if groups.is_empty() && s.pattern.is_none() {
                problems.push(format!(
                    "{at}: name its groups (groups = [...]) or a pattern"
                ));
            }
            if s.concurrency == Some(0) {
                problems.push(format!("{at}: concurrency must be at least 1"));
            }
            let to = match s.to.as_deref() {
                None | Some("destination") => Role::Destination,
                Some("origin") => Role::Origin,
                Some(other) => {
                    problems.push(format!(
                        "{at}: to {other:?} is not \"destination\" or \"origin\""
                    ));
                    Role::Destination
                }
            };
            Action::Groups(GroupsStage {
                groups,
                pattern: s.pattern.clone(),
                concurrency: s.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
                final_offsets,
                to,
            })
        }
        "hook" => {
            let check = match s.then.as_deref() {
                None => None,
                Some("origin-still") => Some(HookCheck::OriginStill),
                Some("destination-written") => Some(HookCheck::DestinationWritten),
                Some(other) => {
                    problems.push(format!(
                        "{at}: then {other:?} is not \"origin-still\" or \"destination-written\""
                    ));
                    None
                }
            };
            let topics = s.topics.clone().unwrap_or_default();
            if check.is_some() && topics.is_empty() {
                problems.push(format!(
                    "{at}: then needs the topics it checks (topics = [...])"
                ));
            }
            let window = duration(&at, "window", problems, &s.window, "10s");
            let check_timeout = duration(&at, "check-timeout", problems, &s.check_timeout, "2m");
            let hook = match &s.hook {
                None => {
                    problems.push(format!(
                        "{at}: a hook stage needs hook = {{ exec = [...] }} (or shell, or http)"
                    ));
                    None
                }
                Some(table) => {
                    match crate::config::stage_hook(table, &format!("{at} hook"), base_dir, env) {
                        Ok(hook) => Some(hook),
                        Err(found) => {
                            problems.extend(found);
                            None
                        }
                    }
                }
            };
            Action::Hook(Box::new(HookStage {
                hook: hook?,
                topics,
                check,
                window,
                check_timeout,
            }))
        }
        "audit" => Action::Audit {
            window: duration(&at, "window", problems, &s.window, "10s"),
            stay: s.stay.iter().flatten().map(GroupId::new).collect(),
        },
        _ => {
            let all = s.all.unwrap_or(false);
            let topics = s.topics.clone().unwrap_or_default();
            if all != topics.is_empty() {
                problems.push(format!(
                    "{at}: name the topics to promote (topics = [...]) or all = true, not both"
                ));
            }
            Action::Promote(PromoteSpec {
                topics,
                all,
                window: duration(&at, "window", problems, &s.window, "10s"),
                dry_run: false,
                timeout: duration(&at, "timeout", problems, &s.timeout, "5m"),
                // Set when the runbook runs, from the configuration and the later stages.
                agent_moves_groups: false,
            })
        }
    };
    (problems.len() == before).then(|| Stage {
        name: s.name.clone().unwrap_or_else(|| s.kind.clone()),
        action,
    })
}

/// A duration key's value (or its default); a problem when it does not parse.
fn duration(
    at: &str,
    key: &str,
    problems: &mut Vec<String>,
    value: &Option<String>,
    default: &str,
) -> Duration {
    let text = value.as_deref().unwrap_or(default);
    crate::duration::parse(text).unwrap_or_else(|e| {
        problems.push(format!("{at}: {key} {text:?} is not a duration: {e}"));
        Duration::ZERO
    })
}

/// `*` matches any text (none included); everything else matches itself.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("/tmp/book.toml"), text, &Env::new()) {
            Err(Error::Runbook { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn groups_that_stay_are_declared_to_the_audit_and_moved_back_by_a_groups_stage() {
        let text = |to: &str| {
            format!(
                r#"
[[stage]]
kind = "audit"
stay = ["billing"]

[[stage]]
kind = "groups"
groups = ["billing"]
to = "{to}"
"#
            )
        };
        let book = parse(Path::new("/srv/back.toml"), &text("origin"), &Env::new())
            .expect("a valid runbook");
        let Action::Audit { stay, .. } = &book.stages[0].action else {
            panic!("audit")
        };
        assert_eq!(stay, &[GroupId::new("billing")]);
        let Action::Groups(g) = &book.stages[1].action else {
            panic!("groups")
        };
        assert_eq!(g.to, Role::Origin);
        let Err(Error::Runbook { problems, .. }) =
            parse(Path::new("/srv/back.toml"), &text("sideways"), &Env::new())
        else {
            panic!("a wrong `to` is a problem")
        };
        assert!(
            problems
                .iter()
                .any(|p| p.contains(r#"to "sideways" is not "destination" or "origin""#)),
            "{problems:?}"
        );
    }

    #[test]
    fn a_runbook_reads_every_kind_of_stage_with_its_defaults() {
        let book = parse(
            Path::new("/srv/night-1.toml"),
            r#"
[[stage]]
kind = "watch"
prioritise = ["orders"]

[[stage]]
kind = "groups"
pattern = "billing-*"

[[stage]]
kind = "hook"
name = "stop producers"
hook = { exec = ["./producers.sh", "stop", "{topics}"] }
topics = ["orders"]
then = "origin-still"

[[stage]]
kind = "audit"

[[stage]]
kind = "promote"
all = true
"#,
            &Env::new(),
        )
        .expect("a valid runbook");
        assert_eq!(book.name, "night-1");
        let kinds: Vec<&str> = book.stages.iter().map(|s| s.action.kind()).collect();
        assert_eq!(kinds, ["watch", "groups", "hook", "audit", "promote"]);
        let Action::Groups(g) = &book.stages[1].action else {
            panic!("groups")
        };
        assert_eq!(g.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(g.to, Role::Destination);
        let Action::Hook(h) = &book.stages[2].action else {
            panic!("hook")
        };
        assert_eq!(book.stages[2].name, "stop producers");
        assert_eq!(
            (h.check, h.window),
            (Some(HookCheck::OriginStill), Duration::from_secs(10))
        );
    }

    #[test]
    fn every_problem_is_named_with_its_stage_at_once() {
        let found = problems(
            r#"
[[stage]]
kind = "groups"
until-lag = 3

[[stage]]
kind = "hook"
then = "later"

[[stage]]
kind = "promote"
window = "soon"

[[stage]]
kind = "migrate"
"#,
        );
        let text = found.join("\n");
        for needle in [
            "stage 1 (groups): a groups stage takes no until-lag",
            "stage 1 (groups): name its groups",
            "stage 2 (hook): then \"later\" is not",
            "stage 2 (hook): a hook stage needs hook =",
            "stage 3 (promote): window \"soon\" is not a duration",
            "stage 3 (promote): name the topics to promote",
            "stage 4 (migrate): kind \"migrate\" is not one of",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn a_stage_hook_is_checked_as_a_config_hook_is() {
        let text = problems(
            r#"
[[stage]]
kind = "hook"
hook = { exec = ["{topics}", "stop"] }
"#,
        )
        .join("\n");
        assert!(
            text.contains("the program cannot hold a placeholder"),
            "{text}"
        );
    }

    #[test]
    fn patterns_match_with_stars_only() {
        assert!(matches("billing-*", "billing-eu"));
        assert!(matches("*-eu", "billing-eu"));
        assert!(matches("b*ing*eu", "billing-eu"));
        assert!(matches("*", ""));
        assert!(!matches("billing-*", "billing"));
        assert!(!matches("a*a", "a"));
        assert!(matches("exact", "exact") && !matches("exact", "exactly"));
    }
}
