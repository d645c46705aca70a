//! `cutover-testapp step`: one step of a consumer, for groups that have no process of their
//! own (a benchmark's thousand committed-offset groups). It assigns every partition of its
//! topics at the group's committed offsets, processes at most one record of each (a line
//! `TOPIC PARTITION OFFSET` appended to `--out`, fsynced), commits past it for the group
//! without joining it, and exits: the group consumed on this cluster from where it stood, as a
//! cutover's restart check wants to see.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::error;

use crate::consume::starting_positions;
use crate::AppArgs;

pub(crate) fn step(app: &AppArgs, out: &Path, timeout: Duration) -> ExitCode {
    match try_step(app, out, timeout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(group = %app.group, "{e}");
            ExitCode::from(1)
        }
    }
}

fn try_step(app: &AppArgs, out: &Path, timeout: Duration) -> Result<(), String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &app.bootstrap)
        .set("group.id", &app.group)
        .set("client.id", &app.client_id)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("cannot create the consumer: {e}"))?;
    let reset = match app.auto_offset_reset {
        crate::OffsetReset::Earliest => Offset::Beginning,
        crate::OffsetReset::Latest => Offset::End,
    };
    let positions = starting_positions(&consumer, app, reset)?;
    consumer
        .assign(&positions)
        .map_err(|e| format!("cannot assign: {e}"))?;
    // The partitions with a record at or after the group's position.
    let mut open = BTreeSet::new();
    for e in positions.elements() {
        let (low, high) = consumer
            .fetch_watermarks(e.topic(), e.partition(), timeout)
            .map_err(|err| {
                format!(
                    "cannot read the ends of {}-{}: {err}",
                    e.topic(),
                    e.partition()
                )
            })?;
        let at = match e.offset() {
            Offset::Offset(o) => o.max(low),
            Offset::End => high,
            _ => low,
        };
        if at < high {
            open.insert((e.topic().to_string(), e.partition()));
        }
    }
    let mut lines = String::new();
    let mut commit = TopicPartitionList::new();
    let deadline = Instant::now() + timeout;
    while !open.is_empty() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => return Err(format!("cannot consume: {e}")),
            Some(Ok(m)) => {
                let at = (m.topic().to_string(), m.partition());
                if open.remove(&at) {
                    lines.push_str(&format!("{} {} {}\n", at.0, at.1, m.offset()));
                    commit
                        .add_partition_offset(&at.0, at.1, Offset::Offset(m.offset() + 1))
                        .map_err(|e| e.to_string())?;
                    // This partition is done: fetch no more of it.
                    let mut one = TopicPartitionList::new();
                    one.add_partition(&at.0, at.1);
                    let _ = consumer.pause(&one);
                }
            }
        }
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("cannot open {}: {e}", out.display()))?;
    file.write_all(lines.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    if commit.count() > 0 {
        consumer
            .commit(&commit, CommitMode::Sync)
            .map_err(|e| format!("cannot commit: {e}"))?;
    }
    Ok(())
}
