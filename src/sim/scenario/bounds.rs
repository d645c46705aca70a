//! What a scenario may ask of the simulator: it holds every partition's log, and every app a
//! record of each offset it processed, in memory, so sizes and rates are bounded; settings that
//! `cutover.toml` bounds are bounded the same way. Each bound broken is a problem naming the
//! entry and the bound.

use std::path::Path;
use std::time::Duration;

use super::{parse_duration, Event, RawScenario};

/// The longest scenario file read: a longer one (a wrong path, a device) is refused at once.
const MAX_FILE_BYTES: u64 = 16 << 20;
/// The most partitions a topic has or gains at once.
pub(super) const MAX_PARTITIONS: u32 = 10_000;
/// The most records a partition starts with (an app that rewinds keeps one count per offset).
pub(super) const MAX_RECORDS: i64 = 10_000_000;
/// The highest rate of a producer, an app or the link, in records per second.
pub(super) const MAX_RATE: f64 = 1_000_000.0;

/// A scenario file's text, at most [`MAX_FILE_BYTES`] of it.
pub(super) fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "it is longer than {} MiB, far more than a scenario holds: check the path",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(text)
}

/// A problem unless `rate` is a number of records per second from 0 to [`MAX_RATE`].
fn check_rate(what: &str, rate: f64) -> std::result::Result<(), String> {
    if (0.0..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(format!(
            "{what}: {rate:?} is not a rate from 0 to {MAX_RATE} records/s"
        ))
    }
}

/// The numbers the simulator must be able to hold, and the bounds cutover.toml puts on the
/// same settings.
pub(super) fn check_numbers(raw: &RawScenario, problems: &mut Vec<String>) {
    let mut check = |result: std::result::Result<(), String>| {
        if let Err(e) = result {
            problems.push(e);
        }
    };
    for t in &raw.topics {
        let name = &t.name;
        if t.partitions == 0 {
            check(Err(format!("topic {name}: partitions must be at least 1")));
        } else if t.partitions > MAX_PARTITIONS {
            check(Err(format!(
                "topic {name}: {} partitions are more than the simulator holds ({MAX_PARTITIONS})",
                t.partitions
            )));
        }
        if !(0..=MAX_RECORDS).contains(&t.records) {
            check(Err(format!(
                "topic {name}: records must be from 0 to {MAX_RECORDS}, not {}",
                t.records
            )));
        }
        if t.log_start < 0 {
            check(Err(format!(
                "topic {name}: log-start must be at least 0, not {}",
                t.log_start
            )));
        } else if t.log_start > t.records {
            check(Err(format!(
                "topic {name}: log-start {} is beyond its {} records",
                t.log_start, t.records
            )));
        }
        check(check_rate(
            &format!("topic {name}: produce-rate"),
            t.produce_rate,
        ));
    }
    for a in &raw.apps {
        check(check_rate(&format!("app {}: rate", a.name), a.rate));
    }
    if let Some(rate) = raw.link.throughput {
        check(check_rate("link.throughput", rate));
    }
    // The link keeps consumer.offset.sync.ms in a Java int (a duration that is not one is
    // reported with the others).
    if parse_duration(&raw.link.sync_interval)
        .is_ok_and(|d| d > Duration::from_millis(i32::MAX as u64))
    {
        check(Err(format!(
            "link.sync-interval: {:?} is longer than the link's consumer.offset.sync.ms holds ({}ms)",
            raw.link.sync_interval,
            i32::MAX
        )));
    }
    // As in cutover.toml.
    let bounds = [
        ("link.retries", raw.link.retries, 0, 10),
        (
            "hooks.retries",
            raw.hooks.retries,
            0,
            crate::hooks::MAX_HOOK_RETRIES,
        ),
        (
            "cutover.sync-timeout-factor",
            raw.cutover.sync_timeout_factor,
            1,
            20,
        ),
        ("cutover.stable-reads", raw.cutover.stable_reads, 2, 10),
    ];
    for (what, n, min, max) in bounds {
        if !(min..=max).contains(&n) {
            check(Err(format!("{what}: {n} is not from {min} to {max}")));
        }
    }
}

/// What an event asks of the world must be something it can hold.
pub(super) fn check_event(event: &Event) -> std::result::Result<(), String> {
    match event {
        Event::SetProduceRate { rate, .. } => check_rate("rate", *rate),
        Event::SetMirrorThroughput { rate: Some(rate) } => check_rate("rate", *rate),
        Event::AddPartitions { count, .. } if *count > MAX_PARTITIONS => Err(format!(
            "count: {count} partitions are more than the simulator holds ({MAX_PARTITIONS})"
        )),
        _ => Ok(()),
    }
}
