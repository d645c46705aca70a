//! The simulated world: an origin and a destination cluster, the link between them (and, when
//! a scenario has one, a reverse link back), producers and consumer applications, advanced in
//! fixed steps of virtual time.
//!
//! Everything here is plain data and arithmetic on offsets: no clock, no I/O, no async. The
//! runner calls [`World::step`] on tokio's paused clock, and the agent reads the world through
//! [`super::SimCluster`] and [`super::SimLink`], the same `Cluster` and `Link` traits the real
//! adapters implement.
//!
//! Each link keeps its configs, mirrors and fault knobs in the link model's
//! [`LinkState`](super::link_model::LinkState), which the lab's emulator uses too, so config
//! validation, filter evaluation, mirror state transitions and promote's refusal are the
//! emulator's code, not a copy of it.
//! Mirroring and offset sync follow the emulator's semantics (`flow.rs`): identical offsets
//! (or shifted ones, for a replicator's stand-in), copying only for `ACTIVE` mirrors that are
//! not stalled, every `consumer.offset.sync.ms` the committed offsets of every group the
//! filters include written raw (never clamped to the mirror's end), never into a group with
//! members.

use std::collections::BTreeMap;
use std::time::Duration;

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::model::{GroupId, Offset, Role, TopicPartition};
use crate::sim::app::{App, AutoOffsetReset};
use crate::sim::flow::{self, Copying, SyncWrites};
use crate::sim::kafka::{Log, SimKafka};
use crate::sim::link_model::{LinkState, Mirror, SYNC_MS};

/// Virtual time zero, as a wall-clock time: 2026-01-01T00:00:00Z. Record timestamps and the
/// agent's clock count from it.
pub const EPOCH_MS: i64 = 1_767_225_600_000;

/// A producer writing to one topic at a steady rate, spread over its partitions by the
/// seeded random generator.
#[derive(Debug, Clone)]
pub struct Producer {
    /// The topic it writes, on `on` (the origin, or the destination once its mirror is
    /// promoted and the producer moved, or a topic of the destination's own).
    pub topic: String,
    pub on: Role,
    /// Records per second, all partitions together.
    pub rate: f64,
    pub running: bool,
    carry: f64,
}

/// The link from the destination back to the origin (`[reverse-link]`), with its own offset
/// sync schedule. It copies as fast as it fetches and keeps offsets.
pub struct ReverseLink {
    pub state: LinkState,
    next_sync: Duration,
    carry: BTreeMap<TopicPartition, f64>,
}

impl ReverseLink {
    pub fn new(state: LinkState, sync_phase: Duration) -> ReverseLink {
        ReverseLink {
            state,
            next_sync: sync_phase,
            carry: BTreeMap::new(),
        }
    }
}

/// The simulated world.
pub struct World {
    pub now: Duration,
    pub origin: SimKafka,
    pub destination: SimKafka,
    pub link: LinkState,
    /// Whether the agent reaches the link over REST (false: Kafka-only link).
    pub link_rest: bool,
    /// The link's copy rate, records per second per partition (`None`: as fast as it fetches).
    pub mirror_throughput: Option<f64>,
    /// Origin offset − copy offset of every record the link copies (0: offsets kept; more: a
    /// replicator's stand-in, whose copies start that many records into their source).
    pub copy_shift: i64,
    pub reverse: Option<ReverseLink>,
    pub producers: Vec<Producer>,
    pub apps: Vec<App>,
    /// Injected hook failures left, per hook kind (`stop`, `restart`, …).
    pub hook_failures: BTreeMap<String, u32>,
    /// What happened inside the world worth showing in the transcript (sync ticks that wrote,
    /// resets, mirrors failing), with the virtual time.
    pub events: Vec<(Duration, String)>,
    rng: Pcg64Mcg,
    mirror_carry: BTreeMap<TopicPartition, f64>,
    next_sync: Duration,
    sync_ticks: u64,
    /// Writes of slow offset-sync ticks (`offset_sync_delay_ms`): when each lands, which tick
    /// read it, and what it writes.
    pending_sync: Vec<(Duration, u64, SyncWrites)>,
}

impl World {
    /// An empty world; `sync_phase` is when the first offset-sync tick falls (the link's
    /// schedule is not aligned with anything the operator controls).
    pub fn new(seed: u64, link: LinkState, link_rest: bool, sync_phase: Option<Duration>) -> World {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let interval = Duration::from_millis(link.config_ms(SYNC_MS));
        let phase = sync_phase.unwrap_or_else(|| {
            let ms = interval.as_millis().max(1) as u64;
            Duration::from_millis(rng.next_u64() % ms)
        });
        World {
            now: Duration::ZERO,
            origin: SimKafka::new(Role::Origin),
            destination: SimKafka::new(Role::Destination),
            link,
            link_rest,
            mirror_throughput: None,
            copy_shift: 0,
            reverse: None,
            producers: Vec::new(),
            apps: Vec::new(),
            events: Vec::new(),
            hook_failures: BTreeMap::new(),
            rng,
            mirror_carry: BTreeMap::new(),
            next_sync: phase,
            sync_ticks: 0,
            pending_sync: Vec::new(),
        }
    }

    pub fn cluster(&self, role: Role) -> &SimKafka {
        match role {
            Role::Origin => &self.origin,
            Role::Destination => &self.destination,
        }
    }

    pub fn cluster_mut(&mut self, role: Role) -> &mut SimKafka {
        match role {
            Role::Origin => &mut self.origin,
            Role::Destination => &mut self.destination,
        }
    }

    /// The virtual clock as a wall-clock time (a record's timestamp).
    pub fn now_ms(&self) -> i64 {
        EPOCH_MS + self.now.as_millis() as i64
    }

    fn note(&mut self, what: String) {
        self.events.push((self.now, what));
    }

    pub fn add_producer(&mut self, topic: String, on: Role, rate: f64) {
        self.producers.push(Producer {
            topic,
            on,
            rate,
            running: true,
            carry: 0.0,
        });
    }

    /// Creates a mirror of an origin topic on the destination, starting at the source's log
    /// start, as the link does (offsets are kept, so the mirror cannot hold older records), or
    /// `copy_shift` records into it.
    pub fn create_mirror(&mut self, source: &str) -> Result<String, String> {
        let mirror_topic = self.link.mirror_name_for(source);
        let shift = self.copy_shift;
        let now_ms = self.now_ms();
        let (origin, destination) = (&self.origin, &mut self.destination);
        let mirror = add_mirror(origin, destination, source, &mirror_topic, shift, now_ms)?;
        let mut mirror = mirror;
        mirror.state_time_ms = self.now.as_millis() as i64;
        self.link.mirrors.insert(mirror_topic.clone(), mirror);
        Ok(mirror_topic)
    }

    /// Creates a mirror of a destination topic on the origin, through the reverse link.
    pub fn create_reverse_mirror(&mut self, source: &str) -> Result<String, String> {
        let now_ms = self.now_ms();
        let state_ms = self.now.as_millis() as i64;
        let Some(reverse) = self.reverse.as_mut() else {
            return Err("the scenario has no [reverse-link]".into());
        };
        let mirror_topic = reverse.state.mirror_name_for(source);
        let mut mirror = add_mirror(
            &self.destination,
            &mut self.origin,
            source,
            &mirror_topic,
            0,
            now_ms,
        )?;
        mirror.state_time_ms = state_ms;
        reverse.state.mirrors.insert(mirror_topic.clone(), mirror);
        Ok(mirror_topic)
    }

    /// Advances the world by `dt`: producers write, the links copy and sync, apps consume
    /// and commit.
    pub fn step(&mut self, dt: Duration) {
        self.now += dt;
        self.produce(dt);
        self.mirror(dt);
        self.consume(dt);
        self.land_slow_sync();
        if self.now >= self.next_sync {
            let interval = Duration::from_millis(self.link.config_ms(SYNC_MS).max(1));
            while self.next_sync <= self.now {
                self.next_sync += interval;
            }
            self.offset_sync();
        }
        self.reverse_sync();
    }

    fn produce(&mut self, dt: Duration) {
        let now_ms = self.now_ms();
        for i in 0..self.producers.len() {
            let p = &mut self.producers[i];
            if !p.running {
                continue;
            }
            let total = p.carry + p.rate * dt.as_secs_f64();
            let n = total.floor() as u64;
            p.carry = total - n as f64;
            let topic = p.topic.clone();
            let role = p.on;
            let Some(partitions) = self.cluster(role).topics.get(&topic).map(Vec::len) else {
                continue;
            };
            if partitions == 0 {
                continue;
            }
            // Producer ids as a broker hands them out: one per producer, never 0.
            let producer_id = i as i64 + 1;
            for _ in 0..n {
                let partition = (self.rng.next_u64() % partitions as u64) as usize;
                self.cluster_mut(role)
                    .append_by(producer_id, &topic, partition, now_ms);
            }
        }
    }

    fn mirror(&mut self, dt: Duration) {
        let now_ms = self.now_ms();
        let forward = Copying {
            throughput: self.mirror_throughput,
            shift: self.copy_shift,
            carry: &mut self.mirror_carry,
        };
        let mut notes = flow::copy(
            &mut self.link,
            &self.origin,
            &mut self.destination,
            forward,
            dt,
            now_ms,
        );
        if let Some(r) = self.reverse.as_mut() {
            let back = Copying {
                throughput: None,
                shift: 0,
                carry: &mut r.carry,
            };
            notes.extend(flow::copy(
                &mut r.state,
                &self.destination,
                &mut self.origin,
                back,
                dt,
                now_ms,
            ));
        }
        for n in notes {
            self.note(n);
        }
    }

    /// Where an app reads an origin topic when it runs on `role` (`via_reverse`: on the origin,
    /// through the reverse link's mirror): the topic there and its offset shift (origin
    /// offset − offset there).
    pub fn route(&self, role: Role, via_reverse: bool, topic: &str) -> Option<(String, i64)> {
        match (role, via_reverse) {
            (Role::Origin, false) => Some((topic.to_string(), 0)),
            (Role::Destination, _) => Some(self.on_destination(topic)),
            (Role::Origin, true) => {
                let (there, shift) = self.on_destination(topic);
                let reverse = self.reverse.as_ref()?;
                Some((reverse.state.mirror_name_for(&there), shift))
            }
        }
    }

    /// An origin topic as the destination has it: its mirror, or (for a reverse mirror of a
    /// bidirectional pair) the destination's topic it copies.
    fn on_destination(&self, topic: &str) -> (String, i64) {
        if let Some(m) = self.link.mirror_of_source(topic) {
            return (m.mirror_topic.clone(), self.copy_shift);
        }
        if let Some(m) = self
            .reverse
            .as_ref()
            .and_then(|r| r.state.mirrors.get(topic))
        {
            return (m.source_topic.clone(), 0);
        }
        (self.link.mirror_name_for(topic), self.copy_shift)
    }

    /// The partition an app reads for a source partition, with the offset shift.
    fn placed(&self, app: &App, source: &TopicPartition) -> Option<(TopicPartition, i64)> {
        let role = app.running_on?;
        let (topic, shift) = self.route(role, app.via_reverse, source.topic.as_str())?;
        Some((TopicPartition::new(topic, source.partition), shift))
    }

    /// The partitions an app is assigned where it runs (none when it does not run).
    pub fn assignment(&self, app: &str) -> Vec<TopicPartition> {
        let Some(app) = self.apps.iter().find(|a| a.name == app) else {
            return Vec::new();
        };
        app.positions
            .keys()
            .filter_map(|tp| self.placed(app, tp).map(|(tp, _)| tp))
            .collect()
    }

    fn consume(&mut self, dt: Duration) {
        for i in 0..self.apps.len() {
            let Some(role) = self.apps[i].running_on else {
                continue;
            };
            let assigned: Vec<TopicPartition> = self.apps[i].positions.keys().cloned().collect();
            for tp in assigned {
                let Some((there, shift)) = self.placed(&self.apps[i], &tp) else {
                    continue;
                };
                let Some(log) = self.cluster(role).log(&there) else {
                    continue;
                };
                let app = &mut self.apps[i];
                let carry = app.carry.entry(tp.clone()).or_default();
                let total = *carry + app.rate * dt.as_secs_f64();
                let budget = total.floor();
                *carry = total - budget;
                let position = app.positions[&tp];
                let n = (budget as i64).min(log.end + shift - position).max(0);
                if n > 0 {
                    app.record(&tp, position, position + n);
                    app.positions.insert(tp.clone(), position + n);
                }
            }
            let app = &self.apps[i];
            if self.now >= app.last_commit + app.commit_interval {
                self.commit(i);
            }
        }
    }

    fn commit(&mut self, i: usize) {
        let now = self.now;
        let Some(role) = self.apps[i].running_on else {
            return;
        };
        self.apps[i].last_commit = now;
        let app = &self.apps[i];
        let group = app.group.clone();
        let offsets: Vec<(TopicPartition, Offset)> = app
            .positions
            .iter()
            .filter_map(|(tp, o)| {
                let (there, shift) = self.placed(app, tp)?;
                Some((there, Offset(*o - shift)))
            })
            .collect();
        let g = self.cluster_mut(role).group_mut(&group);
        for (tp, o) in offsets {
            g.committed.insert(tp, o);
        }
    }

    /// Starts an app on a cluster: it joins its group and resumes at the group's committed
    /// offsets, or applies `auto.offset.reset` where there is none or it is out of range.
    pub fn start_app(&mut self, name: &str, role: Role) -> Result<(), String> {
        self.start_app_reading(name, role, false)
    }

    /// Starts an app on the origin reading the reverse link's mirrors (a group moved back).
    pub fn start_app_back(&mut self, name: &str) -> Result<(), String> {
        if self.reverse.is_none() {
            return Err(format!(
                "app {name} cannot read the reverse link's mirrors: the scenario has no [reverse-link]"
            ));
        }
        self.start_app_reading(name, Role::Origin, true)
    }

    fn start_app_reading(
        &mut self,
        name: &str,
        role: Role,
        via_reverse: bool,
    ) -> Result<(), String> {
        let i = self.app_index(name)?;
        if let Some(on) = self.apps[i].running_on {
            return Err(format!("app {name} already runs on the {on}"));
        }
        let app = &self.apps[i];
        // (source partition, the partition read there, shift)
        let mut assigned = Vec::new();
        for topic in &app.topics {
            let Some((there, shift)) = self.route(role, via_reverse, topic) else {
                continue;
            };
            let Some(logs) = self.cluster(role).topics.get(there.as_str()) else {
                continue; // a subscription to a missing topic gets no partitions
            };
            for p in 0..logs.len() as i32 {
                if app.partitions.as_ref().is_none_or(|ps| ps.contains(&p)) {
                    assigned.push((
                        TopicPartition::new(topic, p),
                        TopicPartition::new(there.as_str(), p),
                        shift,
                    ));
                }
            }
        }
        let group = app.group.clone();
        let committed = self
            .cluster(role)
            .group(&group)
            .map(|g| g.committed.clone())
            .unwrap_or_default();
        let mut positions = BTreeMap::new();
        let mut resets = Vec::new();
        for (tp, there, shift) in &assigned {
            let log = self.cluster(role).log(there).unwrap_or_default();
            let c = committed.get(there).map(|c| c.get());
            let position = match c {
                Some(c) if c >= log.start && c <= log.end => c,
                _ => {
                    let to = match app.auto_offset_reset {
                        AutoOffsetReset::Earliest => log.start,
                        AutoOffsetReset::Latest => log.end,
                        AutoOffsetReset::None => {
                            let err = format!(
                                "app {name} cannot start on the {role}: {there} has {} and auto.offset.reset is none",
                                match c {
                                    Some(c) => format!("committed offset {c} outside the log [{}, {}]", log.start, log.end),
                                    None => "no committed offset".to_string(),
                                }
                            );
                            self.apps[i].start_error = Some(err.clone());
                            return Err(err);
                        }
                    };
                    resets.push((there.clone(), c, to));
                    to
                }
            };
            positions.insert(tp.clone(), position + shift);
        }
        for (tp, from, to) in &resets {
            let what = match from {
                Some(c) => format!("committed offset {c} is out of range"),
                None => "no committed offset".into(),
            };
            self.note(format!(
                "app {name} on the {role}: {tp}: {what}; auto.offset.reset moved it to {to}"
            ));
        }
        let now = self.now;
        let app = &mut self.apps[i];
        app.positions = positions;
        app.carry.clear();
        app.running_on = Some(role);
        app.via_reverse = via_reverse;
        app.last_commit = now;
        app.start_error = None;
        app.resets.extend(resets);
        let app_name = app.name.clone();
        self.cluster_mut(role)
            .group_mut(&group)
            .members
            .push(app_name);
        Ok(())
    }

    /// Stops an app. A clean stop commits its positions first; a crash (`clean = false`)
    /// loses everything processed since the last commit.
    pub fn stop_app(&mut self, name: &str, clean: bool) -> Result<(), String> {
        let i = self.app_index(name)?;
        let Some(role) = self.apps[i].running_on else {
            return Err(format!("app {name} is not running"));
        };
        if clean {
            self.commit(i);
        }
        let app = &mut self.apps[i];
        app.running_on = None;
        app.via_reverse = false;
        let (group, app_name) = (app.group.clone(), app.name.clone());
        self.cluster_mut(role)
            .group_mut(&group)
            .members
            .retain(|m| *m != app_name);
        Ok(())
    }

    fn app_index(&self, name: &str) -> Result<usize, String> {
        self.apps
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(|| format!("no app named {name}"))
    }

    /// One offset-sync tick of the forward link, with the emulator's semantics (see the
    /// module docs).
    fn offset_sync(&mut self) {
        self.sync_ticks += 1;
        let writes = flow::sync_reads(&self.link, &self.origin);
        let delay = self.link.faults.offset_sync_delay_ms;
        if delay > 0 {
            let due = self.now + Duration::from_millis(delay);
            self.pending_sync.push((due, self.sync_ticks, writes));
            return;
        }
        self.write_sync(self.sync_ticks, writes);
    }

    /// The reverse link's offset sync, on its own schedule: from the destination's groups to
    /// the origin's, on the reverse mirrors.
    fn reverse_sync(&mut self) {
        let now = self.now;
        let Some(r) = self.reverse.as_mut() else {
            return;
        };
        if now < r.next_sync {
            return;
        }
        let interval = Duration::from_millis(r.state.config_ms(SYNC_MS).max(1));
        while r.next_sync <= now {
            r.next_sync += interval;
        }
        let writes = flow::sync_reads(&r.state, &self.destination);
        let written = flow::sync_write(&mut self.origin, writes);
        if !written.is_empty() {
            self.note(format!(
                "the reverse link's offset sync wrote {} on the origin",
                written.join(", ")
            ));
        }
    }

    /// Writes of slow ticks whose time has come.
    fn land_slow_sync(&mut self) {
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_sync)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.pending_sync = later;
        for (_, tick, writes) in due {
            self.write_sync(tick, writes);
        }
    }

    /// One forward tick's writes on the destination.
    fn write_sync(&mut self, tick: u64, writes: SyncWrites) {
        let written = flow::sync_write(&mut self.destination, writes);
        if !written.is_empty() {
            let late = if tick == self.sync_ticks && self.link.faults.offset_sync_delay_ms == 0 {
                String::new()
            } else {
                " (read when it started, written now)".to_string()
            };
            self.note(format!(
                "offset sync tick {tick} wrote {}{late}",
                written.join(", ")
            ));
        }
    }

    /// Deletes records before `before` (DeleteRecords), on either cluster.
    pub fn delete_records(
        &mut self,
        role: Role,
        tp: &TopicPartition,
        before: i64,
    ) -> Result<(), String> {
        let log = self
            .cluster_mut(role)
            .log_mut(tp)
            .ok_or_else(|| format!("the {role} has no partition {tp}"))?;
        if before > log.end {
            return Err(format!(
                "cannot delete records of {tp} before {before}: the log ends at {}",
                log.end
            ));
        }
        log.start = log.start.max(before);
        Ok(())
    }

    /// Commits an offset for a group, as an operator's tool would.
    pub fn set_committed(
        &mut self,
        role: Role,
        group: &GroupId,
        tp: TopicPartition,
        offset: Offset,
    ) {
        self.cluster_mut(role)
            .group_mut(group)
            .committed
            .insert(tp, offset);
    }
}

/// A new mirror of `source` (on `from`) as `mirror_topic` (on `to`), empty, starting at the
/// source's log start (or `shift` records in).
fn add_mirror(
    from: &SimKafka,
    to: &mut SimKafka,
    source: &str,
    mirror_topic: &str,
    shift: i64,
    now_ms: i64,
) -> Result<Mirror, String> {
    let Some(logs) = from.topics.get(source) else {
        return Err(format!("the {} has no topic {source}", from.role));
    };
    if to.topics.contains_key(mirror_topic) {
        return Err(format!(
            "the {} already has a topic {mirror_topic}",
            to.role
        ));
    }
    let mirror_logs: Vec<Log> = logs
        .iter()
        .map(|l| {
            let start = flow::mirror_start(l.start, shift);
            Log { start, end: start }
        })
        .collect();
    let partitions = mirror_logs.len() as i32;
    to.create_topic(mirror_topic, mirror_logs, now_ms);
    Ok(Mirror::new(
        source.to_string(),
        mirror_topic.to_string(),
        partitions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::link_model::{MirrorStatus, SYNC_ENABLE};

    fn world() -> World {
        let mut link = LinkState::new("l".into(), "id".into(), "origin".into(), "sim");
        link.apply(&[
            (SYNC_ENABLE.to_string(), Some("true".to_string())),
            (SYNC_MS.to_string(), Some("30000".to_string())),
            (
                crate::sim::link_model::GROUP_FILTERS.to_string(),
                Some(r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#.to_string()),
            ),
        ])
        .unwrap();
        let mut w = World::new(1, link, true, Some(Duration::from_secs(30)));
        w.origin
            .create_topic("t", vec![Log::default(); 2], EPOCH_MS);
        w.create_mirror("t").unwrap();
        w.add_producer("t".into(), Role::Origin, 100.0);
        w.apps.push(App::new(
            "app".into(),
            GroupId::new("g"),
            vec!["t".into()],
            None,
            1000.0,
            Duration::from_secs(5),
            AutoOffsetReset::Earliest,
        ));
        w
    }

    fn run(w: &mut World, secs: u64) {
        for _ in 0..secs * 10 {
            w.step(Duration::from_millis(100));
        }
    }

    #[test]
    fn a_clean_move_processes_every_record_once() {
        let mut w = world();
        w.start_app("app", Role::Origin).unwrap();
        run(&mut w, 20);
        w.stop_app("app", true).unwrap();
        run(&mut w, 31); // past a sync tick
        let g = GroupId::new("g");
        assert_eq!(
            w.origin.groups[&g].committed.values().collect::<Vec<_>>(),
            w.destination.groups[&g]
                .committed
                .values()
                .collect::<Vec<_>>()
        );
        w.start_app("app", Role::Destination).unwrap();
        run(&mut w, 10);
        let c = w.apps[0].consumption();
        assert_eq!((c.duplicates, c.gaps), (0, 0));
        assert!(c.processed >= 5000, "{c:?}");
    }

    #[test]
    fn a_crash_re_reads_since_the_last_commit() {
        let mut w = world();
        w.start_app("app", Role::Origin).unwrap();
        run(&mut w, 7); // committed at 5 s, then 2 s more processed
        w.stop_app("app", false).unwrap();
        w.start_app("app", Role::Origin).unwrap();
        run(&mut w, 1);
        let c = w.apps[0].consumption();
        assert!(c.duplicates >= 150, "{c:?}");
        assert_eq!(c.gaps, 0);
    }

    #[test]
    fn a_reset_to_latest_is_counted_as_gaps() {
        let mut w = world();
        w.apps[0].auto_offset_reset = AutoOffsetReset::Latest;
        w.start_app("app", Role::Origin).unwrap();
        run(&mut w, 3);
        w.stop_app("app", true).unwrap();
        run(&mut w, 10);
        // The destination has no offsets yet (no sync tick has passed): a reset to latest.
        w.start_app("app", Role::Destination).unwrap();
        run(&mut w, 1);
        let c = w.apps[0].consumption();
        assert!(c.gaps >= 900, "{c:?}");
        assert_eq!(c.duplicates, 0);
    }

    #[test]
    fn sync_skips_groups_active_on_the_destination() {
        let mut w = world();
        w.start_app("app", Role::Destination).unwrap();
        w.set_committed(
            Role::Origin,
            &GroupId::new("g"),
            TopicPartition::new("t", 0),
            Offset(3),
        );
        run(&mut w, 31);
        let d = &w.destination.groups[&GroupId::new("g")];
        assert_ne!(
            d.committed.get(&TopicPartition::new("t", 0)),
            Some(&Offset(3))
        );
    }

    #[test]
    fn a_paused_mirror_does_not_copy() {
        let mut w = world();
        w.link
            .mirrors
            .get_mut("t")
            .unwrap()
            .set_status(MirrorStatus::Paused);
        run(&mut w, 5);
        let end: i64 = w.destination.topics["t"].iter().map(|l| l.end).sum();
        assert_eq!(end, 0);
        let origin: i64 = w.origin.topics["t"].iter().map(|l| l.end).sum();
        assert!(origin >= 450);
    }

    #[test]
    fn a_group_moved_back_reads_the_reverse_mirror_from_its_origin_offsets() {
        let mut w = world();
        let mut back = LinkState::new("back".into(), "id2".into(), "dest".into(), "sim");
        back.apply_at_creation(&[(
            crate::sim::link_model::LINK_PREFIX.to_string(),
            "back.".to_string(),
        )])
        .unwrap();
        w.reverse = Some(ReverseLink::new(back, Duration::from_secs(15)));
        w.start_app("app", Role::Origin).unwrap();
        run(&mut w, 10);
        // The producer moves to the destination's copy of t; the reverse link mirrors it back.
        w.producers[0].on = Role::Destination;
        w.link
            .mirrors
            .get_mut("t")
            .unwrap()
            .set_status(MirrorStatus::Stopped);
        assert_eq!(w.create_reverse_mirror("t").unwrap(), "back.t");
        run(&mut w, 5);
        w.stop_app("app", true).unwrap();
        let g = GroupId::new("g");
        let stopped = w.origin.groups[&g].committed.clone();
        for (tp, o) in &stopped {
            let back = TopicPartition::new(format!("back.{}", tp.topic), tp.partition);
            w.set_committed(Role::Origin, &g, back, *o);
        }
        w.start_app_back("app").unwrap();
        assert_eq!(w.assignment("app")[0].topic.as_str(), "back.t");
        run(&mut w, 5);
        let c = w.apps[0].consumption();
        assert_eq!((c.duplicates, c.gaps), (0, 0), "{c:?}");
        let on_back: i64 = w.origin.topics["back.t"].iter().map(|l| l.end).sum();
        let read: i64 = w.apps[0].positions().values().sum();
        assert_eq!(read, on_back, "it read up to the reverse mirror's end");
    }

    #[test]
    fn an_app_on_a_shifted_copy_counts_records_by_their_origin_offsets() {
        let mut w = world();
        w.link.mirrors.clear();
        w.destination = SimKafka::new(Role::Destination);
        w.copy_shift = 7;
        w.create_mirror("t").unwrap();
        w.start_app("app", Role::Origin).unwrap();
        run(&mut w, 5);
        w.stop_app("app", true).unwrap();
        // Where the group stopped, on the copy: 7 offsets lower.
        let g = GroupId::new("g");
        for (tp, o) in w.origin.groups[&g].committed.clone() {
            w.set_committed(Role::Destination, &g, tp, Offset(o.get() - 7));
        }
        w.start_app("app", Role::Destination).unwrap();
        run(&mut w, 5);
        let c = w.apps[0].consumption();
        assert_eq!((c.duplicates, c.gaps), (0, 0), "{c:?}");
        let copy_end: i64 = w.destination.topics["t"].iter().map(|l| l.end).sum();
        let origin_end: i64 = w.origin.topics["t"].iter().map(|l| l.end).sum();
        assert_eq!(origin_end - copy_end, 14, "two partitions, each 7 short");
    }
}
