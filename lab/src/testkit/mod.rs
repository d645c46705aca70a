//! Fixtures for the tests that use the lab, in this package and in cutover's: the lab itself
//! (`tests/lab/lab`), unique names and polling waits, topics, records and real group members,
//! the emulator started in-process, and the test application driven as a process.
//!
//! Test support, never product code: its functions panic with a useful message instead of
//! returning errors, and they wait by polling with deadlines, never by fixed sleeps.

mod agent;
mod kafka;
mod lab;
mod sim;
mod support;
pub mod testapp;

pub use agent::Agent;
pub use kafka::{
    change_origin_brokers, commit_as_member, create_topic, create_topic_with, no_broker_change,
    produce, props, read_all, wait_for_leaders, BrokerChange, Member, Protocol, Rec,
};
pub use lab::{
    lab, lab_bin, lab_script, parse_exports, run_lab, secure_mode, target_tmp_dir, Lab, Secure,
};
pub use sim::Sim;
pub use support::{unique, wait_for};
