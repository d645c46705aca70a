//! The scenario's world made real: the world a scenario file describes is built, and each
//! timeline or background event (produce, pause a mirror, stall, restart an app, a fault) is
//! applied to it, returning the line the transcript shows.
//!
//! Only the world is touched here: the agent's commands are the runner's business.

use crate::link::MirrorAction;
use crate::model::{GroupId, Offset, Role, TopicPartition};
use crate::sim::link::current_lags;
use crate::sim::link_model::next_status;
use crate::sim::link_model::{
    Effect, FilterConfig, LinkFilters, LinkState, MirrorStatus, Pattern, RestFaultKind, RestFaults,
    Rule, GROUP_FILTERS, LINK_PREFIX, SYNC_ENABLE, SYNC_MS,
};
use crate::sim::scenario::{Event, Scenario};
use crate::sim::{App, World};

/// The link's group filters from the scenario's include and exclude lists.
fn group_filters(include: &[String], exclude: &[String]) -> String {
    let rule = |name: &str, effect| {
        let (name, pattern) = match name.strip_suffix('*') {
            Some(prefix) if !prefix.is_empty() => (prefix, Pattern::Prefixed),
            _ => (name, Pattern::Literal),
        };
        Rule::new(name, pattern, effect)
    };
    let filters = LinkFilters::new(
        include
            .iter()
            .map(|n| rule(n, Effect::Include))
            .chain(exclude.iter().map(|n| rule(n, Effect::Exclude)))
            .collect(),
    );
    filters.to_config(FilterConfig::Groups)
}

pub(super) fn build_world(s: &Scenario) -> std::result::Result<World, String> {
    let mut link = LinkState::new(
        s.link.name.clone(),
        "sim-link-0001".into(),
        "sim-origin-cluster".into(),
        "origin.sim:9092",
    );
    let mut configs = vec![
        (
            SYNC_MS.to_string(),
            s.link.sync_interval.as_millis().to_string(),
        ),
        (SYNC_ENABLE.to_string(), s.link.sync_enabled.to_string()),
    ];
    if s.link.sync_enabled {
        configs.push((
            GROUP_FILTERS.to_string(),
            group_filters(&s.link.sync_groups, &s.link.exclude_groups),
        ));
    }
    if !s.link.prefix.is_empty() {
        configs.push((LINK_PREFIX.to_string(), s.link.prefix.clone()));
    }
    link.apply_at_creation(&configs).map_err(|r| r.message)?;
    let mut world = World::new(s.seed, link, s.link.rest, s.link.sync_phase);
    world.mirror_throughput = s.link.throughput;
    world.copy_shift = s.link.copy_offset_shift;
    if let Some(r) = &s.reverse_link {
        world.reverse = Some(reverse_link(r)?);
    }
    // Destination topics first: a reverse mirror is on the origin before the origin's topics
    // are mirrored forward.
    let mut topics: Vec<_> = s.topics.iter().collect();
    topics.sort_by_key(|t| t.on == crate::sim::scenario::Side::Origin);
    for t in topics {
        let log = crate::sim::Log {
            start: t.log_start,
            end: t.records,
        };
        let now_ms = world.now_ms();
        let role: Role = t.on.into();
        world
            .cluster_mut(role)
            .create_topic(&t.name, vec![log; t.partitions as usize], now_ms);
        if t.produce_rate > 0.0 {
            world.add_producer(t.name.clone(), role, t.produce_rate);
        }
        match (t.mirror, role) {
            (true, Role::Origin) => {
                world.create_mirror(&t.name)?;
            }
            (true, Role::Destination) => {
                world.create_reverse_mirror(&t.name)?;
            }
            (false, _) => {}
        }
    }
    for a in &s.apps {
        world.apps.push(App::new(
            a.name.clone(),
            GroupId::new(&a.group),
            a.topics.clone(),
            a.partitions.clone(),
            a.rate,
            a.commit_interval,
            a.auto_offset_reset,
        ));
    }
    for a in &s.apps {
        if let Some(side) = a.start_on {
            world.start_app(&a.name, side.into())?;
        }
    }
    Ok(world)
}

/// The reverse link's state from the scenario's `[reverse-link]`.
fn reverse_link(
    r: &crate::sim::scenario::ReverseLinkSpec,
) -> std::result::Result<crate::sim::ReverseLink, String> {
    let mut link = LinkState::new(
        r.name.clone(),
        "sim-link-0002".into(),
        "sim-destination-cluster".into(),
        "destination.sim:9092",
    );
    let mut configs = vec![
        (SYNC_MS.to_string(), r.sync_interval.as_millis().to_string()),
        (SYNC_ENABLE.to_string(), r.sync_enabled.to_string()),
    ];
    if r.sync_enabled {
        configs.push((
            GROUP_FILTERS.to_string(),
            group_filters(&r.sync_groups, &r.exclude_groups),
        ));
    }
    if !r.prefix.is_empty() {
        configs.push((LINK_PREFIX.to_string(), r.prefix.clone()));
    }
    link.apply_at_creation(&configs).map_err(|r| r.message)?;
    let phase = r.sync_phase.unwrap_or(r.sync_interval / 2);
    Ok(crate::sim::ReverseLink::new(link, phase))
}

/// The mirror topic an event names: a mirror topic, or the source topic it mirrors.
fn mirror_topic(w: &World, topic: &str) -> std::result::Result<String, String> {
    if w.link.mirrors.contains_key(topic) {
        return Ok(topic.to_string());
    }
    w.link
        .mirror_of_source(topic)
        .map(|m| m.mirror_topic.clone())
        .ok_or_else(|| format!("topic {topic} has no mirror on the link"))
}

fn set_status(
    w: &mut World,
    topic: &str,
    status: MirrorStatus,
) -> std::result::Result<String, String> {
    let mirror = mirror_topic(w, topic)?;
    let now = w.now.as_millis() as i64;
    let m = w.link.mirrors.get_mut(&mirror).expect("found above");
    m.set_status(status);
    m.state_time_ms = now;
    Ok(mirror)
}

/// Applies one event to the world; returns the transcript line.
pub(crate) fn apply(w: &mut World, event: &Event) -> std::result::Result<String, String> {
    Ok(match event {
        Event::StartApp { app, on } => {
            let role: Role = (*on).into();
            w.start_app(app, role)?;
            format!("app {app} starts on the {role}")
        }
        Event::StopApp { app } => {
            w.stop_app(app, true)?;
            format!("app {app} stops (commits its offsets and leaves the group)")
        }
        Event::KillApp { app } => {
            w.stop_app(app, false)?;
            format!("app {app} is killed (no final commit)")
        }
        Event::StartProducer { topic } | Event::StopProducer { topic } => {
            let running = matches!(event, Event::StartProducer { .. });
            let p = w
                .producers
                .iter_mut()
                .find(|p| &p.topic == topic)
                .ok_or_else(|| format!("topic {topic} has no producer (give it a produce-rate)"))?;
            p.running = running;
            format!(
                "producer of {topic} {}",
                if running { "starts" } else { "stops" }
            )
        }
        Event::SetProduceRate { topic, rate } => {
            match w.producers.iter_mut().find(|p| &p.topic == topic) {
                Some(p) => p.rate = *rate,
                None => w.add_producer(topic.clone(), Role::Origin, *rate),
            }
            format!("producer of {topic} now writes {rate} records/s")
        }
        Event::PromoteMirror { topic } => {
            let m = mirror_topic(w, topic)?;
            let lags = current_lags(w, &m);
            let link = w.link.link_name.clone();
            let status = w.link.mirrors[&m].status;
            let next = next_status(status, MirrorAction::Promote, &m, &link, Some(&lags))
                .map_err(|r| r.message)?;
            set_status(w, topic, next)?;
            format!("mirror {m} is promoted")
        }
        Event::MoveProducer { topic } => {
            let m = mirror_topic(w, topic)?;
            if w.link.mirrors[&m].status != MirrorStatus::Stopped {
                return Err(format!(
                    "mirror {m} is not promoted (STOPPED): the destination refuses writes to it"
                ));
            }
            let p = w
                .producers
                .iter_mut()
                .find(|p| &p.topic == topic)
                .ok_or_else(|| format!("no producer writes {topic}"))?;
            p.on = Role::Destination;
            p.topic = m.clone();
            format!("the producer of {topic} now writes {m} on the destination")
        }
        Event::PauseMirror { topic } => {
            let m = set_status(w, topic, MirrorStatus::Paused)?;
            format!("mirror {m} is paused")
        }
        Event::ResumeMirror { topic } => {
            let m = set_status(w, topic, MirrorStatus::Active)?;
            format!("mirror {m} is resumed")
        }
        Event::StallMirror { topic } => {
            let m = mirror_topic(w, topic)?;
            w.link.faults.stalled_topics.insert(m.clone());
            format!("mirror {m} stalls (no copying; the link still says ACTIVE)")
        }
        Event::UnstallMirror { topic } => {
            let m = mirror_topic(w, topic)?;
            w.link.faults.stalled_topics.remove(&m);
            format!("mirror {m} copies again")
        }
        Event::FailMirror { topic, reason } => {
            let m = mirror_topic(w, topic)?;
            let reason = reason.clone().unwrap_or_else(|| "injected failure".into());
            let now = w.now.as_millis() as i64;
            let mirror = w.link.mirrors.get_mut(&m).expect("found above");
            mirror.fail("SOURCE_UNAVAILABLE", reason.clone());
            mirror.state_time_ms = now;
            format!("mirror {m} fails: {reason}")
        }
        Event::CreateMirror { topic } => {
            let m = w.create_mirror(topic)?;
            format!("mirror {m} of {topic} is created")
        }
        Event::CreateReverseMirror { topic } => {
            let m = w.create_reverse_mirror(topic)?;
            format!("the reverse link's mirror {m} of the destination's {topic} is created on the origin")
        }
        Event::SetMirrorThroughput { rate } => {
            w.mirror_throughput = *rate;
            match rate {
                Some(r) => format!("the link now copies {r} records/s per partition"),
                None => "the link now copies as fast as it fetches".into(),
            }
        }
        Event::SetLinkConfig { name, value } => {
            w.link
                .apply(&[(name.clone(), value.clone())])
                .map_err(|r| r.message)?;
            match value {
                Some(v) => format!("link config {name} = {v}"),
                None => format!("link config {name} reset to its default"),
            }
        }
        Event::ExcludeGroup { group } => {
            w.link.exclude_group(group).map_err(|r| r.message)?;
            format!("group {group} is excluded from the link's offset sync")
        }
        Event::SlowOffsetSync { delay } => {
            let delay = delay.as_deref().map(crate::duration::parse).transpose()?;
            w.link.faults.offset_sync_delay_ms = delay.map_or(0, |d| d.as_millis() as u64);
            match delay {
                Some(d) => format!(
                    "the link's offset-sync ticks now write {} after they read",
                    crate::duration::format(d)
                ),
                None => "the link's offset-sync ticks write at once again".into(),
            }
        }
        Event::StopOffsetSync {} => {
            w.link.faults.offset_sync_stopped = true;
            "the link's offset sync stops writing".into()
        }
        Event::StartOffsetSync {} => {
            w.link.faults.offset_sync_stopped = false;
            "the link's offset sync writes again".into()
        }
        Event::RestErrors {
            count,
            status,
            hold,
        } => {
            let hold = hold.as_deref().map(crate::duration::parse).transpose()?;
            w.link.rest_faults = RestFaults {
                remaining: *count,
                kind: if hold.is_some() {
                    RestFaultKind::Timeout
                } else {
                    RestFaultKind::Status
                },
                status: *status,
                timeout_ms: hold.map(|h| h.as_millis() as u64),
            };
            match hold {
                Some(h) => format!("the link's REST API holds the next {count} call(s) for {h:?}"),
                None => format!(
                    "the link's REST API answers the next {count} call(s) with HTTP {}",
                    status.unwrap_or(503)
                ),
            }
        }
        Event::Leaderless {
            on,
            topic,
            partition,
        }
        | Event::LeaderBack {
            on,
            topic,
            partition,
        } => {
            let role: Role = (*on).into();
            let tp = TopicPartition::new(topic, *partition);
            let c = w.cluster_mut(role);
            if c.log(&tp).is_none() {
                return Err(format!("the {role} has no partition {tp}"));
            }
            if matches!(event, Event::Leaderless { .. }) {
                c.leaderless.insert(tp.clone());
                format!("{tp} on the {role} loses its leader")
            } else {
                c.leaderless.remove(&tp);
                format!("{tp} on the {role} has a leader again")
            }
        }
        Event::Unreachable { on } | Event::Reachable { on } => {
            let role: Role = (*on).into();
            let down = matches!(event, Event::Unreachable { .. });
            w.cluster_mut(role).unreachable = down;
            format!(
                "the {role} cluster is {}",
                if down {
                    "unreachable"
                } else {
                    "reachable again"
                }
            )
        }
        Event::DeleteRecords {
            on,
            topic,
            partition,
            before,
        } => {
            let role: Role = (*on).into();
            let tp = TopicPartition::new(topic, *partition);
            w.delete_records(role, &tp, *before)?;
            format!("records of {tp} before {before} are deleted on the {role}")
        }
        Event::AddPartitions { topic, count } => {
            let logs = w
                .origin
                .topics
                .get(topic)
                .ok_or_else(|| format!("the origin has no topic {topic}"))?;
            let total = logs.len() + *count as usize;
            w.origin.grow_topic(topic, total, 0);
            format!("topic {topic} on the origin grows to {total} partitions")
        }
        Event::HookFails { hook, count } => {
            if !["stop", "exclude", "restart", "rollback"].contains(&hook.as_str()) {
                return Err(format!(
                    "hook {hook:?} is not one of stop, exclude, restart, rollback"
                ));
            }
            w.hook_failures.insert(hook.clone(), *count);
            format!("the next {count} attempt(s) of the {hook} hook fail")
        }
        Event::Commit {
            on,
            group,
            topic,
            partition,
            offset,
        } => {
            let role: Role = (*on).into();
            let tp = TopicPartition::new(topic, *partition);
            w.set_committed(role, &GroupId::new(group), tp.clone(), Offset(*offset));
            format!("group {group} commits {offset} on {tp} on the {role}")
        }
    })
}
