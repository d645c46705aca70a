//! `cutover watch [TOPIC…] [--until-lag N] [--deadline D] [--prioritise TOPIC…] [--resume]`:
//! mirror lag until it drains (see [`crate::watch`]).
//!
//! Exit 0 once drained, 1 at the deadline or when a watched mirror fails. With `--format
//! json`, every look is a JSON line on stdout as it happens, and the result is the last line.

use std::io::Write;

use crate::error::{exit, Result};
use crate::report::watch::WatchLine;
use crate::watch::{self, WatchEnv, WatchSpec};

use super::{Context, Outcome, Report};

pub(super) async fn run(ctx: &Context, spec: &WatchSpec) -> Result<Outcome> {
    ctx.probe().await?;
    let streamed = ctx.json_lines;
    let lines = move |line: &WatchLine| {
        if streamed {
            if let Ok(text) = serde_json::to_string(line) {
                // A closed pipe ends the stream quietly; the result still decides the exit.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}").and_then(|()| out.flush());
            }
        }
    };
    let env = WatchEnv {
        estate: ctx.estate(),
        lines: &lines,
    };
    let report = watch::watch(&env, spec).await?;
    Ok(Outcome {
        exit: if report.drained {
            exit::OK
        } else {
            exit::UNSAFE
        },
        report: Report::Watch(Box::new(report)),
    })
}
