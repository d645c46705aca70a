//! The fault campaign (`cargo test --test faults`): `cutover group` on the lab while one fault
//! at a time is injected at a chosen phase (a broker of either cluster restarted or frozen past
//! the request timeout, the link's REST API failing or timing out, the offset sync or the
//! mirror stalling, a hook hanging past its timeout, the consumer started on the origin by
//! someone else, the agent SIGKILLed). Each run records the agent's outcome, what the operator
//! did next when the agent handed over, whether the group was left stopped and whether its
//! journal says so, and, from the application's own tally, duplicates and gaps. The table is
//! printed and written to `<target>/tmp/fault-campaign.md`; every row must end done or rolled
//! back, with 0 duplicates, 0 gaps, and no group left stopped without a journal saying so.
//!
//! A separate test binary, because its faults stop and freeze the shared lab's brokers: cargo
//! runs test binaries one after another, so no other binary's test runs meanwhile, and inside
//! this one the runs go one at a time. The world is the integration binary's own file
//! (`#[path]`), not a copy.
//!
//! `CUTOVER_FAULT_CASES=3,7` runs only those rows (numbered as in the table), for working on
//! one fault; the table then says it is partial.

#[allow(dead_code)]
#[path = "../integration/world.rs"]
mod world;

mod inject;
mod run;
mod table;

use std::time::Instant;

use cutover_lab::testkit::target_tmp_dir;
use inject::{Fault, Side};
use run::{run_case, Case, Row};

const fn at(fault: Fault, phase: &'static str) -> Case {
    Case {
        fault,
        phase,
        link_mode: false,
    }
}

const fn link_mode(fault: Fault, phase: &'static str) -> Case {
    Case {
        fault,
        phase,
        link_mode: true,
    }
}

/// The matrix: each fault at the phases where it matters. Agent mode (the default,
/// `final-offsets = "agent"`) runs plan → excluding → proving_exclusion → stopping →
/// awaiting_stop → awaiting_mirror → writing_offsets → checking_offsets → restarting →
/// awaiting_restart; link mode waits for the link's sync instead (awaiting_sync) and excludes
/// after the stop.
const CASES: &[Case] = &[
    at(Fault::BrokerRestarted(Side::Origin), "proving_exclusion"),
    at(Fault::BrokerRestarted(Side::Origin), "awaiting_stop"),
    at(Fault::BrokerRestarted(Side::Origin), "restarting"),
    at(
        Fault::BrokerRestarted(Side::Destination),
        "proving_exclusion",
    ),
    at(Fault::BrokerRestarted(Side::Destination), "awaiting_stop"),
    at(Fault::BrokerRestarted(Side::Destination), "restarting"),
    at(Fault::BrokerFrozen(Side::Origin), "proving_exclusion"),
    at(Fault::BrokerFrozen(Side::Origin), "awaiting_stop"),
    at(Fault::BrokerFrozen(Side::Destination), "awaiting_stop"),
    at(Fault::BrokerFrozen(Side::Destination), "restarting"),
    at(Fault::Rest503, "proving_exclusion"),
    link_mode(Fault::Rest503, "awaiting_stop"),
    at(Fault::RestTimeouts, "plan"),
    link_mode(Fault::RestTimeouts, "awaiting_stop"),
    link_mode(Fault::SyncStopped, "stopping"),
    at(Fault::SyncSlow, "plan"),
    at(Fault::MirrorStalled, "proving_exclusion"),
    at(Fault::StopHookHangs, "stopping"),
    at(Fault::RestartHookHangs, "restarting"),
    at(Fault::OriginRestartedBySomeoneElse, "proving_exclusion"),
    at(Fault::OriginRestartedBySomeoneElse, "awaiting_stop"),
    at(Fault::AgentKilled, "proving_exclusion"),
    at(Fault::AgentKilled, "awaiting_stop"),
    at(Fault::AgentKilled, "restarting"),
];

/// The rows `CUTOVER_FAULT_CASES` names (1-based), or all of them.
fn selected() -> Vec<usize> {
    match std::env::var("CUTOVER_FAULT_CASES") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',')
                .map(|n| {
                    let n: usize = n.trim().parse().unwrap_or_else(|_| {
                        panic!("CUTOVER_FAULT_CASES: {n:?} is not a row number")
                    });
                    assert!(
                        (1..=CASES.len()).contains(&n),
                        "CUTOVER_FAULT_CASES: no row {n} (1 to {})",
                        CASES.len()
                    );
                    n
                })
                .collect()
        }
        _ => (1..=CASES.len()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_every_phase_ends_done_or_rolled_back_with_no_duplicate_and_no_gap() {
    let started = Instant::now();
    let numbers = selected();
    let mut rows: Vec<Row> = Vec::new();
    for &n in &numbers {
        let case = CASES[n - 1];
        let row = match tokio::spawn(run_case(n, case)).await {
            Ok(row) => row,
            Err(e) => Row::panicked(n, case, panic_text(e)),
        };
        eprintln!(
            "fault campaign: row {n} ({} at {}): {} in {:.0} s{}{}",
            case.fault.describe(),
            case.phase,
            row.last().map_or("no outcome", |e| e.outcome.as_str()),
            row.took.as_secs_f64(),
            row.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            if row.problems.is_empty() {
                String::new()
            } else {
                format!(": {}", row.problems.join("; "))
            }
        );
        rows.push(row);
    }
    let total = started.elapsed();
    let header = if numbers.len() == CASES.len() {
        "Fault campaign (`cargo test --test faults`)".to_string()
    } else {
        format!(
            "Fault campaign, partial: rows {numbers:?} of {} (CUTOVER_FAULT_CASES)",
            CASES.len()
        )
    };
    let table = table::markdown(&rows, total, &header);
    println!("{table}");
    let dir = target_tmp_dir();
    std::fs::create_dir_all(&dir).expect("create target/tmp");
    let file = dir.join("fault-campaign.md");
    std::fs::write(&file, &table).expect("write the table");
    eprintln!("fault campaign: the table is in {}", file.display());
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.problems.is_empty())
        .map(|r| {
            format!(
                "row {} ({}): {}",
                r.number,
                r.case.fault.describe(),
                r.problems.join("; ")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} row(s) failed:\n{}\n\n{table}",
        failed.len(),
        failed.join("\n")
    );
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into()),
        Err(e) => e.to_string(),
    }
}
