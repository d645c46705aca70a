//! Journals shared through a [`Replica`]: an in-memory replica with the Kafka store's fencing
//! (each take bumps the key's epoch; a commit under an older epoch is refused) stands in for
//! the topic, so the journal's own rules are checked here and the lab checks the topic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::*;

/// The shared topic: lines and the current writer's epoch, per key.
#[derive(Default)]
struct Topic {
    lines: Mutex<BTreeMap<String, Vec<Vec<u8>>>>,
    epochs: Mutex<BTreeMap<String, u64>>,
}

/// One agent's client of the topic; `on_take` runs just before it takes a key (another agent
/// writing in between).
struct Agent {
    topic: Arc<Topic>,
    mine: Mutex<BTreeMap<String, u64>>,
    on_take: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Agent {
    fn new(topic: &Arc<Topic>) -> Arc<Agent> {
        Arc::new(Agent {
            topic: topic.clone(),
            mine: Mutex::new(BTreeMap::new()),
            on_take: Mutex::new(None),
        })
    }
}

impl Replica for Agent {
    fn read(&self, key: &str) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .topic
            .lines
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default())
    }

    fn fence(&self, key: &str) -> Result<()> {
        if let Some(f) = self.on_take.lock().unwrap().take() {
            f();
        }
        let mut epochs = self.topic.epochs.lock().unwrap();
        let epoch = epochs.entry(key.to_string()).or_default();
        *epoch += 1;
        self.mine.lock().unwrap().insert(key.to_string(), *epoch);
        Ok(())
    }

    fn commit(&self, key: &str, line: &[u8]) -> Result<()> {
        let current = self.topic.epochs.lock().unwrap().get(key).copied();
        if current.is_none() || self.mine.lock().unwrap().get(key).copied() != current {
            return Err(Error::Fenced {
                what: key.into(),
                by: String::new(),
                store: self.describe(),
            });
        }
        self.append(key, line)
    }

    fn append(&self, key: &str, line: &[u8]) -> Result<()> {
        self.topic
            .lines
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .push(line.to_vec());
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cutover-shared-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn subject() -> Subject {
    Subject::Group(GroupId::new("g"))
}

fn started(agent: &str) -> Record {
    Record::Started {
        command: vec!["group".into(), "g".into()],
        agent: agent.into(),
        resumed: false,
        settings: serde_json::json!({}),
    }
}

fn open(name: &str, agent: &Arc<Agent>, take: Take) -> (Journal, ReadBack, bool) {
    Journal::open_shared(
        &dir(name),
        &subject(),
        "run-1",
        agent.clone(),
        "link/g",
        take,
    )
    .unwrap()
}

#[test]
fn a_run_in_progress_elsewhere_is_read_and_left_alone_and_a_takeover_fences_its_agent() {
    let topic = Arc::new(Topic::default());
    let (a, b) = (Agent::new(&topic), Agent::new(&topic));
    let (mut first, back, raced) = open("a1", &a, Take::IfFree);
    assert!(back.entries.is_empty() && !raced);
    first.append(started("host-a:1"), 1).unwrap();

    // Another host sees the run from the shared records, takes nothing, cannot write.
    let (mut refused, back, _) = open("b1", &b, Take::IfFree);
    assert_eq!(back.entries.len(), 1, "the other host's copy holds the run");
    assert!(matches!(
        refused.append(started("host-b:2"), 2),
        Err(Error::Internal(_))
    ));
    assert!(
        first.append(started("host-a:1"), 3).is_ok(),
        "the owner goes on"
    );

    // `--resume` elsewhere takes it: the owner's next record is refused, naming the taker.
    let (mut taker, back, _) = open("b2", &b, Take::Always);
    assert_eq!(back.entries.len(), 2);
    taker.append(started("host-b:2"), 4).unwrap();
    match first.append(started("host-a:1"), 5) {
        Err(Error::Fenced { by, what, .. }) => {
            assert_eq!(by, "agent host-b:2, run run-1");
            assert_eq!(what, "the journal of g");
        }
        other => panic!("the fenced agent wrote on: {other:?}"),
    }
    // Every host's copy is the same chain: a third one reads it whole and intact.
    let (third, back, _) = open("c1", &Agent::new(&topic), Take::IfFree);
    assert_eq!(back.entries.len(), 3);
    let check = chain::verify(third.path()).unwrap();
    assert_eq!(check.verdict, chain::Verdict::Intact, "{check:?}");
}

#[test]
fn records_arriving_between_the_read_and_the_take_are_reported_as_a_race() {
    let topic = Arc::new(Topic::default());
    let (a, b) = (Agent::new(&topic), Agent::new(&topic));
    // While b is about to take the key, a starts the same run and writes its first record.
    let starter = a.clone();
    *b.on_take.lock().unwrap() = Some(Box::new(move || {
        let (mut j, _, _) = Journal::open_shared(
            &dir("a3"),
            &subject(),
            "run-a",
            starter.clone(),
            "link/g",
            Take::IfFree,
        )
        .unwrap();
        j.append(started("host-a:1"), 1).unwrap();
    }));
    let (_, back, raced) = open("b3", &b, Take::IfFree);
    assert!(raced, "b saw a's record appear as it took the key");
    assert_eq!(back.entries.len(), 1, "and continues from a's run");
}

#[test]
fn a_file_written_before_the_journal_was_shared_is_not_overwritten() {
    let topic = Arc::new(Topic::default());
    let d = dir("local");
    {
        let (mut j, _) = Journal::open_subject(&d, &subject(), "old").unwrap();
        j.append(started("host-a:1"), 1).unwrap();
    }
    let err = Journal::open_shared(
        &d,
        &subject(),
        "run-1",
        Agent::new(&topic),
        "link/g",
        Take::IfFree,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("holds records that the shared journal"),
        "{err}"
    );
    assert_eq!(
        read(&subject().path(&d)).unwrap().entries.len(),
        1,
        "the file is kept"
    );
}

#[test]
fn a_host_holding_an_earlier_run_keeps_it_beside_the_run_another_host_started() {
    let topic = Arc::new(Topic::default());
    let (a, b) = (Agent::new(&topic), Agent::new(&topic));
    let host_a = dir("a5");
    let done = || Record::Finished {
        outcome: "done".into(),
        reason: None,
        timings: crate::model::Timings::default(),
    };
    let open_a = || {
        Journal::open_shared(
            &host_a,
            &subject(),
            "run-1",
            a.clone(),
            "link/g",
            Take::IfFree,
        )
        .unwrap()
    };
    {
        let (mut j, _, _) = open_a();
        j.append(started("host-a:1"), 1).unwrap();
        j.append(done(), 2).unwrap();
    }
    // Host b starts the next run: the finished one is archived there, as with files.
    {
        let (mut j, back, _) = Journal::open_shared(
            &dir("b5"),
            &subject(),
            "run-2",
            b.clone(),
            "link/g",
            Take::IfFree,
        )
        .unwrap();
        assert!(back.finished().is_some());
        j.archive("run-1").unwrap();
        j.append(started("host-b:2"), 3).unwrap();
    }
    // Host a's copy becomes run-2; its own run-1 is kept beside it, not refused or lost.
    let (_, back, _) = open_a();
    assert_eq!(
        back.run_id(),
        Some("run-2"),
        "the run in progress is host b's"
    );
    assert_eq!(back.entries.len(), 1);
    assert!(
        matches!(&back.entries[0].record, Record::Started { agent, .. } if agent == "host-b:2")
    );
    let kept = host_a.join(kept_name("g", "run-1", false));
    assert_eq!(read(&kept).unwrap().entries.len(), 2, "{}", kept.display());
}
