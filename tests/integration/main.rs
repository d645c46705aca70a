//! cutover's integration tests, in one binary so the suite links once and starts the lab once:
//!
//! - `bidirectional`: a real consumer reading both prefixed pairs of bidirectional links
//!   moved with every record once (issue 17, strategy A).
//! - `cli`: the command line (help, exit codes, refusals); no Kafka.
//! - `scenarios`: every `scenarios/*.toml` on the simulator; no Kafka.
//! - `kafka_adapter`, `kafka_leaderless`: the Kafka adapter against the lab's real broker.
//! - `link_rest`: the agent's Confluent REST client against the link emulator.
//! - `lab_link`: the emulator `tests/lab/lab up` starts, as an operator rehearsing uses it.
//! - `verify`: `cutover verify` and `cutover audit` as an operator runs them, beside the
//!   scenarios that describe the same situations.
//! - `cutover`: `cutover group` end to end with a real consumer process.
//! - `replicated`: a real consumer moved onto a copy that does not keep offsets, by time
//!   (`--offsets-by-time rewind|skip`), duplicates and gaps as the summary predicted.
//! - `reverse`: a group that stays on the origin moved onto a reverse link's mirrors there
//!   (`cutover group --to origin`), with a real consumer process.
//! - `shared_journal`: group journals shared in Kafka (`[journal] store = "kafka"`): another
//!   host resumes a killed cutover, a takeover fences the first agent, two agents racing
//!   move a group once (issue 18).
//! - `secrets`: every command, succeeding and failing, with a known value in every
//!   secret-bearing setting: no output, journal, report or hook environment shows one.
//! - `repository`: the repository's own shape: it stands alone, the pure core imports no I/O,
//!   layers point one way, no file holds two concepts' worth of code; no Kafka.
//!
//! The fixtures (the lab, topics, records, group members, the in-process emulator, the test
//! application) are the lab crate's `cutover_lab::testkit`, a dev-dependency, which the lab's
//! own tests use too. The lab's binaries are the ones cargo built for this run (see
//! `testkit::lab_bin`). Tests run in parallel threads: they use unique topic, group and link
//! names, and a test that changes the origin's brokers holds a guard that topic creation waits
//! for.

mod bidirectional;
mod cli;
mod concurrent;
mod cutover;
mod interrupts;
mod kafka_adapter;
mod kafka_leaderless;
mod lab_link;
mod link_rest;
mod migration;
mod replicated;
mod repository;
mod reverse;
mod scenarios;
mod secrets;
mod shared_journal;
mod spread;
mod verify;
mod world;
