//! The simulated world: an origin and a destination cluster, the link between them, producers
//! and consumer applications, advanced in fixed steps of virtual time.
//!
//! Everything here is plain data and arithmetic on offsets: no clock, no I/O, no async. The
//! runner calls [`World::step`] on tokio's paused clock, and the agent reads the world through
//! [`super::SimCluster`] and [`super::SimLink`], the same `Cluster` and `Link` traits the real
//! adapters implement.
//!
//! The link keeps its configs, mirrors and fault knobs in the link model's
//! [`LinkState`](super::link_model::LinkState), which the lab's emulator uses too, so config
//! validation, filter evaluation, mirror state transitions and promote's refusal are the
//! emulator's code, not a copy of it.
//! Mirroring and offset sync follow the emulator's semantics: identical offsets, copying only
//! for `ACTIVE` mirrors that are not stalled, every `consumer.offset.sync.ms` the committed
//! offsets of every group the filters include written raw (never clamped to the mirror's
//! end), never into a group with members on the destination.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::model::{GroupId, Offset, Offsets, Role, TopicPartition};
use crate::sim::link_model::{LinkState, Mirror, MirrorStatus, PartitionLag, SYNC_ENABLE, SYNC_MS};

/// One partition's log: only its offsets matter to the agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Log {
    /// The log start offset (oldest record kept).
    pub start: i64,
    /// The log end offset (next offset to be written).
    pub end: i64,
}

/// A group as a cluster's coordinator knows it.
#[derive(Debug, Clone, Default)]
pub struct SimGroup {
    pub committed: Offsets,
    /// The apps connected as members (one member each).
    pub members: Vec<String>,
}

impl SimGroup {
    fn exists(&self) -> bool {
        !self.committed.is_empty() || !self.members.is_empty()
    }
}

/// One simulated Kafka cluster.
#[derive(Debug, Clone)]
pub struct SimKafka {
    pub role: Role,
    pub topics: BTreeMap<String, Vec<Log>>,
    pub groups: BTreeMap<GroupId, SimGroup>,
    /// Partitions without a leader: reads of their offsets fail with `LEADER_NOT_AVAILABLE`.
    pub leaderless: BTreeSet<TopicPartition>,
    /// While set, every call to the cluster fails as if no broker answered.
    pub unreachable: bool,
}

impl SimKafka {
    pub fn new(role: Role) -> SimKafka {
        SimKafka {
            role,
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            leaderless: BTreeSet::new(),
            unreachable: false,
        }
    }

    pub fn log(&self, tp: &TopicPartition) -> Option<Log> {
        self.topics
            .get(tp.topic.as_str())?
            .get(usize::try_from(tp.partition).ok()?)
            .copied()
    }

    fn log_mut(&mut self, tp: &TopicPartition) -> Option<&mut Log> {
        self.topics
            .get_mut(tp.topic.as_str())?
            .get_mut(usize::try_from(tp.partition).ok()?)
    }

    /// Groups the coordinator knows: with committed offsets or members.
    pub fn known_groups(&self) -> impl Iterator<Item = (&GroupId, &SimGroup)> {
        self.groups.iter().filter(|(_, g)| g.exists())
    }

    pub fn group(&self, group: &GroupId) -> Option<&SimGroup> {
        self.groups.get(group).filter(|g| g.exists())
    }

    fn group_mut(&mut self, group: &GroupId) -> &mut SimGroup {
        self.groups.entry(group.clone()).or_default()
    }

    /// An admin offset commit (AlterConsumerGroupOffsets): refused while the group has
    /// members, as the coordinator does; otherwise every offset is written. Answers whether it
    /// was written (`false`: the group has members).
    pub fn commit_as_admin(&mut self, group: &GroupId, offsets: &Offsets) -> bool {
        let g = self.group_mut(group);
        if !g.members.is_empty() {
            return false;
        }
        for (tp, o) in offsets {
            g.committed.insert(tp.clone(), *o);
        }
        true
    }
}

/// Where a consumer starts when it has no valid committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoOffsetReset {
    Earliest,
    Latest,
    /// Fail instead of guessing (the consumer stays stopped).
    None,
}

/// A producer writing to one origin topic at a steady rate, spread over its partitions by the
/// seeded random generator.
#[derive(Debug, Clone)]
pub struct Producer {
    /// The topic it writes, on `on` (the origin, or the destination once its mirror is
    /// promoted and the producer moved).
    pub topic: String,
    pub on: Role,
    /// Records per second, all partitions together.
    pub rate: f64,
    pub running: bool,
    carry: f64,
}

/// A consumer application: one member of one group, consuming every partition of its topics
/// (or the partitions it is assigned) at a steady rate, committing on an interval and when it
/// stops cleanly, and recording every offset it processes so duplicates and gaps are counted.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub group: GroupId,
    /// Source topic names; on the destination the app reads their mirrors.
    pub topics: Vec<String>,
    /// Fixed partitions, or every partition of the topics at start.
    pub partitions: Option<Vec<i32>>,
    /// Records per second per partition.
    pub rate: f64,
    pub commit_interval: Duration,
    pub auto_offset_reset: AutoOffsetReset,
    /// The cluster the app runs on, if it runs.
    pub running_on: Option<Role>,
    /// Next offset to process, per source partition.
    positions: BTreeMap<TopicPartition, i64>,
    carry: BTreeMap<TopicPartition, f64>,
    last_commit: Duration,
    /// Per source partition: how many times each offset was processed, from `first`.
    processed: BTreeMap<TopicPartition, Processed>,
    /// Why the app could not start, the last time it could not.
    pub start_error: Option<String>,
    /// `auto.offset.reset` applications: (partition, from, to).
    pub resets: Vec<(TopicPartition, Option<i64>, i64)>,
}

#[derive(Debug, Clone, Default)]
struct Processed {
    /// The offset the app was first positioned at on this partition.
    first: i64,
    counts: Vec<u32>,
}

/// Duplicates and gaps one app produced, counted from its processing record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Consumption {
    pub processed: u64,
    /// Processings beyond the first of an offset.
    pub duplicates: u64,
    /// Offsets between where the app first started and where it is now, never processed.
    pub gaps: u64,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        group: GroupId,
        topics: Vec<String>,
        partitions: Option<Vec<i32>>,
        rate: f64,
        commit_interval: Duration,
        auto_offset_reset: AutoOffsetReset,
    ) -> App {
        App {
            name,
            group,
            topics,
            partitions,
            rate,
            commit_interval,
            auto_offset_reset,
            running_on: None,
            positions: BTreeMap::new(),
            carry: BTreeMap::new(),
            last_commit: Duration::ZERO,
            processed: BTreeMap::new(),
            start_error: None,
            resets: Vec::new(),
        }
    }

    pub fn consumption(&self) -> Consumption {
        let mut c = Consumption::default();
        for (tp, p) in &self.processed {
            let position = self.positions.get(tp).copied().unwrap_or(p.first);
            for (i, &n) in p.counts.iter().enumerate() {
                c.processed += u64::from(n);
                c.duplicates += u64::from(n.saturating_sub(1));
                if n == 0 && p.first + (i as i64) < position {
                    c.gaps += 1;
                }
            }
            // Offsets skipped past the end of the record (a reset to the latest offset).
            let recorded_end = p.first + p.counts.len() as i64;
            c.gaps += (position - recorded_end).max(0) as u64;
        }
        c
    }

    /// The next offset to process on each source partition.
    pub fn positions(&self) -> &BTreeMap<TopicPartition, i64> {
        &self.positions
    }

    fn record(&mut self, tp: &TopicPartition, from: i64, to: i64) {
        let p = self.processed.entry(tp.clone()).or_insert(Processed {
            first: from,
            counts: Vec::new(),
        });
        if from < p.first {
            // Rewound below the first position: grow the record at the front.
            let grow = (p.first - from) as usize;
            let mut counts = vec![0; grow];
            counts.extend_from_slice(&p.counts);
            p.counts = counts;
            p.first = from;
        }
        let needed = (to - p.first) as usize;
        if p.counts.len() < needed {
            p.counts.resize(needed, 0);
        }
        for o in from..to {
            p.counts[(o - p.first) as usize] += 1;
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
    /// Mirror lags as the link last measured them, frozen while a mirror is not copying.
    sync_ticks: u64,
    /// Writes of slow offset-sync ticks (`offset_sync_delay_ms`): when each lands, which tick
    /// read it, and what it writes.
    pending_sync: Vec<(Duration, u64, SyncWrites)>,
}

/// What one offset-sync tick writes: per group, its offsets on the mirror topics.
type SyncWrites = Vec<(GroupId, Vec<(TopicPartition, Offset)>)>;

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

    fn note(&mut self, what: String) {
        self.events.push((self.now, what));
    }

    pub fn add_producer(&mut self, topic: String, rate: f64) {
        self.producers.push(Producer {
            topic,
            on: Role::Origin,
            rate,
            running: true,
            carry: 0.0,
        });
    }

    /// Creates a mirror of an origin topic on the destination, starting at the source's log
    /// start, as the link does (offsets are kept, so the mirror cannot hold older records).
    pub fn create_mirror(&mut self, source: &str) -> Result<String, String> {
        let Some(logs) = self.origin.topics.get(source) else {
            return Err(format!("the origin has no topic {source}"));
        };
        let mirror_topic = self.link.mirror_name_for(source);
        if self.destination.topics.contains_key(&mirror_topic) {
            return Err(format!(
                "the destination already has a topic {mirror_topic}"
            ));
        }
        let mirror_logs: Vec<Log> = logs
            .iter()
            .map(|l| Log {
                start: l.start,
                end: l.start,
            })
            .collect();
        let mut mirror = Mirror::new(
            source.to_string(),
            mirror_topic.clone(),
            mirror_logs.len() as i32,
        );
        mirror.state_time_ms = self.now.as_millis() as i64;
        self.destination
            .topics
            .insert(mirror_topic.clone(), mirror_logs);
        self.link.mirrors.insert(mirror_topic.clone(), mirror);
        Ok(mirror_topic)
    }

    /// Advances the world by `dt`: producers write, the link copies and syncs, apps consume
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
    }

    fn produce(&mut self, dt: Duration) {
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
            for _ in 0..n {
                let partition = (self.rng.next_u64() % partitions as u64) as usize;
                if let Some(log) = self
                    .cluster_mut(role)
                    .topics
                    .get_mut(&topic)
                    .and_then(|l| l.get_mut(partition))
                {
                    log.end += 1;
                }
            }
        }
    }

    fn mirror(&mut self, dt: Duration) {
        // Promote and failover finish once nothing is in flight: at the next step here.
        for m in self.link.mirrors.values_mut() {
            if m.status == MirrorStatus::PendingStopped {
                m.set_status(MirrorStatus::Stopped);
                m.state_time_ms = self.now.as_millis() as i64;
            }
        }
        let mirror_topics: Vec<String> = self.link.mirrors.keys().cloned().collect();
        for mirror_topic in mirror_topics {
            let (source, copying) = {
                let m = &self.link.mirrors[&mirror_topic];
                (m.source_topic.clone(), self.link.copying(&mirror_topic))
            };
            let Some(source_logs) = self.origin.topics.get(&source).cloned() else {
                continue;
            };
            if !copying {
                continue;
            }
            // Partitions the source gained are added to the mirror, as the link does.
            let mirror_logs = self
                .destination
                .topics
                .entry(mirror_topic.clone())
                .or_default();
            while mirror_logs.len() < source_logs.len() {
                let start = source_logs[mirror_logs.len()].start;
                mirror_logs.push(Log { start, end: start });
            }
            let partitions = mirror_logs.len() as i32;
            let mut failure = None;
            let mut lags = BTreeMap::new();
            for (p, src) in source_logs.iter().enumerate() {
                let tp = TopicPartition::new(&mirror_topic, p as i32);
                let budget = match self.mirror_throughput {
                    None => i64::MAX,
                    Some(rate) => {
                        let carry = self.mirror_carry.entry(tp.clone()).or_default();
                        let total = *carry + rate * dt.as_secs_f64();
                        let n = total.floor();
                        *carry = total - n;
                        n as i64
                    }
                };
                let dst = &mut mirror_logs[p];
                if src.start > dst.end {
                    failure = Some(format!(
                        "source partition {source}-{p} starts at {} but the mirror ends at {}: records were deleted before they were copied",
                        src.start, dst.end
                    ));
                    break;
                }
                dst.end += budget.min(src.end - dst.end).max(0);
                lags.insert(
                    p as i32,
                    PartitionLag {
                        origin_end: src.end,
                        mirror_end: dst.end,
                    },
                );
            }
            let now_ms = self.now.as_millis() as i64;
            let m = self
                .link
                .mirrors
                .get_mut(&mirror_topic)
                .expect("mirror listed above");
            m.partitions = partitions;
            match failure {
                Some(reason) => {
                    m.fail("SOURCE_UNAVAILABLE", reason.clone());
                    m.state_time_ms = now_ms;
                    self.note(format!("mirror {mirror_topic} FAILED: {reason}"));
                }
                None => m.lags = lags,
            }
        }
    }

    fn consume(&mut self, dt: Duration) {
        for i in 0..self.apps.len() {
            let Some(role) = self.apps[i].running_on else {
                continue;
            };
            let assigned: Vec<TopicPartition> = self.apps[i].positions.keys().cloned().collect();
            for tp in assigned {
                let Some(log) = self.read_log(role, &tp) else {
                    continue;
                };
                let app = &mut self.apps[i];
                let carry = app.carry.entry(tp.clone()).or_default();
                let total = *carry + app.rate * dt.as_secs_f64();
                let budget = total.floor();
                *carry = total - budget;
                let position = app.positions[&tp];
                let n = (budget as i64).min(log.end - position).max(0);
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

    /// The log an app reads for a source partition on a cluster (the mirror on the
    /// destination).
    fn read_log(&self, role: Role, source: &TopicPartition) -> Option<Log> {
        match role {
            Role::Origin => self.origin.log(source),
            Role::Destination => {
                let mirror = self.link.mirror_name_for(&source.topic);
                self.destination
                    .log(&TopicPartition::new(mirror, source.partition))
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
            .map(|(tp, o)| (self.topic_on(role, tp), Offset(*o)))
            .collect();
        let g = self.cluster_mut(role).group_mut(&group);
        for (tp, o) in offsets {
            g.committed.insert(tp, o);
        }
    }

    fn topic_on(&self, role: Role, source: &TopicPartition) -> TopicPartition {
        match role {
            Role::Origin => source.clone(),
            Role::Destination => {
                TopicPartition::new(self.link.mirror_name_for(&source.topic), source.partition)
            }
        }
    }

    /// Starts an app on a cluster: it joins its group and resumes at the group's committed
    /// offsets, or applies `auto.offset.reset` where there is none or it is out of range.
    pub fn start_app(&mut self, name: &str, role: Role) -> Result<(), String> {
        let i = self.app_index(name)?;
        if let Some(on) = self.apps[i].running_on {
            return Err(format!("app {name} already runs on the {on}"));
        }
        let app = &self.apps[i];
        let mut assigned = Vec::new();
        for topic in &app.topics {
            let on_cluster = self.topic_on(role, &TopicPartition::new(topic, 0)).topic;
            let Some(logs) = self.cluster(role).topics.get(on_cluster.as_str()) else {
                continue; // a subscription to a missing topic gets no partitions
            };
            for p in 0..logs.len() as i32 {
                if app.partitions.as_ref().is_none_or(|ps| ps.contains(&p)) {
                    assigned.push(TopicPartition::new(topic, p));
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
        for tp in &assigned {
            let log = self.read_log(role, tp).unwrap_or_default();
            let c = committed.get(&self.topic_on(role, tp)).map(|c| c.get());
            let position = match c {
                Some(c) if c >= log.start && c <= log.end => c,
                _ => {
                    let to = match app.auto_offset_reset {
                        AutoOffsetReset::Earliest => log.start,
                        AutoOffsetReset::Latest => log.end,
                        AutoOffsetReset::None => {
                            let err = format!(
                                "app {name} cannot start on the {role}: {tp} has {} and auto.offset.reset is none",
                                match c {
                                    Some(c) => format!("committed offset {c} outside the log [{}, {}]", log.start, log.end),
                                    None => "no committed offset".to_string(),
                                }
                            );
                            self.apps[i].start_error = Some(err.clone());
                            return Err(err);
                        }
                    };
                    resets.push((tp.clone(), c, to));
                    to
                }
            };
            positions.insert(tp.clone(), position);
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

    /// One offset-sync tick, with the emulator's semantics (see the module docs).
    fn offset_sync(&mut self) {
        self.sync_ticks += 1;
        if !self.link.config_bool(SYNC_ENABLE) || self.link.faults.offset_sync_stopped {
            return;
        }
        let Ok(filters) = self.link.group_filters() else {
            return;
        };
        // source topic → mirror topic, ACTIVE mirrors only.
        let mirrors: BTreeMap<String, String> = self
            .link
            .mirrors
            .values()
            .filter(|m| m.status == MirrorStatus::Active)
            .map(|m| (m.source_topic.clone(), m.mirror_topic.clone()))
            .collect();
        let mut writes: SyncWrites = Vec::new();
        for (group, g) in self.origin.known_groups() {
            if !filters.includes(group.as_str()) {
                continue;
            }
            let offsets: Vec<(TopicPartition, Offset)> = g
                .committed
                .iter()
                .filter_map(|(tp, o)| {
                    let mirror = mirrors.get(tp.topic.as_str())?;
                    Some((TopicPartition::new(mirror, tp.partition), *o))
                })
                .collect();
            if !offsets.is_empty() {
                writes.push((group.clone(), offsets));
            }
        }
        let delay = self.link.faults.offset_sync_delay_ms;
        if delay > 0 {
            let due = self.now + Duration::from_millis(delay);
            self.pending_sync.push((due, self.sync_ticks, writes));
            return;
        }
        self.write_sync(self.sync_ticks, writes);
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

    /// One tick's writes on the destination, as the coordinator takes them: a group with
    /// members refuses them (CONSUMER_GROUP_IN_USE).
    fn write_sync(&mut self, tick: u64, writes: SyncWrites) {
        let mut written = Vec::new();
        for (group, offsets) in writes {
            let d = self.destination.group_mut(&group);
            if !d.members.is_empty() {
                continue; // CONSUMER_GROUP_IN_USE
            }
            let changed = offsets.iter().any(|(tp, o)| d.committed.get(tp) != Some(o));
            for (tp, o) in offsets {
                d.committed.insert(tp, o);
            }
            if changed {
                written.push(group.0);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        w.origin.topics.insert("t".into(), vec![Log::default(); 2]);
        w.create_mirror("t").unwrap();
        w.add_producer("t".into(), 100.0);
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
}
