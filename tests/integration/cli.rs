//! The command line as an operator meets it: help, exit codes, and clear refusals of bad
//! input before anything is contacted.

use std::process::{Command, Output};

fn cutover(args: &[&str]) -> Output {
    // No configuration at all: neither CUTOVER_* variables nor a cutover.toml in the
    // working directory may leak in from the developer's shell.
    Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run cutover")
}

#[test]
fn help_lists_every_built_command_and_the_exit_codes() {
    let out = cutover(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for command in [
        "verify",
        "watch",
        "promote",
        "run",
        "group",
        "audit",
        "report",
        "scenario",
        "completions",
        "man",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "`{command}` missing from --help:\n{help}"
        );
    }
    assert!(help.contains("3 cluster or link unreachable"), "{help}");
    assert!(help.contains("4 runbook partly done"), "{help}");
}

#[test]
fn a_bad_runbook_is_refused_with_every_problem_before_any_cluster_is_contacted() {
    let dir = std::env::temp_dir().join(format!("cutover-cli-runbook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let book = dir.join("night.toml");
    std::fs::write(
        &book,
        "[[stage]]\nkind = \"groups\"\n\n[[stage]]\nkind = \"promote\"\nwindow = \"soon\"\nall = true\n",
    )
    .unwrap();
    // The configuration names clusters that do not exist: the runbook is refused first.
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["run", book.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CUTOVER_ORIGIN_BOOTSTRAP", "127.0.0.1:1")
        .env("CUTOVER_DESTINATION_BOOTSTRAP", "127.0.0.1:1")
        .env("CUTOVER_LINK_NAME", "link")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "invalid runbook",
        "stage 1 (groups): name its groups",
        "stage 2 (promote): window \"soon\" is not a duration",
        "nothing was changed",
    ] {
        assert!(err.contains(needle), "{needle:?} missing: {err}");
    }
    assert!(
        !err.contains("127.0.0.1:1"),
        "no cluster was contacted: {err}"
    );
    let out = cutover(&["run", "/nonexistent/night.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read it"));
}

#[test]
fn json_format_reports_the_refusal_as_versioned_json() {
    let out = cutover(&["--format", "json", "promote", "orders", "--window", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--window \"soon\" is not a duration"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(
        cutover(&["verify"]).status.code(),
        Some(2),
        "verify needs groups or --all-groups"
    );
    assert_eq!(cutover(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        cutover(&["--format", "yaml", "audit"]).status.code(),
        Some(2)
    );
}

#[test]
fn wait_takes_an_optional_duration_and_rejects_a_bad_one_before_connecting() {
    // No cluster is configured: a bad duration must be the error reported, with exit 2.
    let out = cutover(&["verify", "g", "--wait", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("soon"), "{err}");
    // `--wait` alone parses (it then needs a configuration, which is missing here: exit 2
    // naming the missing settings, not a usage error about --wait).
    let out = cutover(&["verify", "g", "--wait"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bootstrap.servers"), "{err}");
}

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn scenario_runs_on_the_simulator_prints_the_agent_output_and_exits_0_when_all_pass() {
    // No configuration, no cluster: the simulator needs neither.
    let out = cutover(&[
        "scenario",
        &scenario("standard-migration.toml"),
        &scenario("paused-mirror.toml"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // The main job: the agent itself moves the group.
    assert!(stdout.contains("$ cutover group billing\n"), "{stdout}");
    assert!(
        stdout.contains("cutover of billing: DONE") && stdout.contains("MOVED"),
        "{stdout}"
    );
    assert!(stdout.contains("CONSUMER_AHEAD_OF_MIRROR"), "{stdout}");
    assert!(stdout.contains("PASS standard-migration"), "{stdout}");
    assert!(stdout.contains("PASS paused-mirror"), "{stdout}");
    assert!(stdout.contains("2 of 2 scenario(s) passed"), "{stdout}");
}

#[test]
fn a_failing_scenario_exits_1_and_a_malformed_one_exits_2_naming_every_problem() {
    let dir = std::env::temp_dir().join(format!("cutover-cli-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let failing = dir.join("failing.toml");
    let text = std::fs::read_to_string(scenario("unmirrored-topic.toml"))
        .unwrap()
        .replace(
            r#""accounting/orders-0" = "SAFE""#,
            r#""accounting/orders-0" = "NOT_SYNCED""#,
        );
    std::fs::write(&failing, text).unwrap();
    let out = cutover(&["scenario", failing.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL unmirrored-topic")
            && stdout.contains("accounting/orders-0: SAFE, expected NOT_SYNCED"),
        "{stdout}"
    );

    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        "seed = 1\n[[topics]]\nname = \"t\"\npartitions = 1\n[[timeline]]\nat = \"later\"\ndo = \"stop_app\"\napp = \"x\"\n",
    )
    .unwrap();
    let out = cutover(&["scenario", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing runs when a file is malformed"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml: at: invalid duration \"later\""),
        "{err}"
    );
    assert!(err.contains("scenarios/README.md"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn scenario_json_carries_every_step_report_and_the_app_counts() {
    let out = cutover(&[
        "--format",
        "json",
        "scenario",
        &scenario("standard-migration.toml"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["passed"], true);
    let s = &doc["scenarios"][0];
    assert_eq!(s["name"], "standard-migration");
    assert_eq!(s["apps"]["billing"]["duplicates"], 0);
    assert_eq!(s["apps"]["billing"]["gaps"], 0);
    let cutover = &s["steps"][2];
    assert_eq!(cutover["command"], serde_json::json!(["group", "billing"]));
    assert_eq!(cutover["report"]["outcome"], "done");
    let verify = &s["steps"][3];
    assert_eq!(verify["command"][0], "verify");
    assert_eq!(verify["report"]["groups"][0]["status"], "MOVED");
    assert_eq!(
        verify["report"]["groups"][0]["partitions"][0]["verdict"],
        "MOVED"
    );
}

#[test]
fn a_cutover_without_hooks_is_refused_before_anything_is_touched() {
    // Clusters are named (nothing listens there) but no hook is configured: the agent says
    // everything that is missing at once, exit 2, and writes no journal.
    let dir = std::env::temp_dir().join(format!("cutover-cli-nohooks-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["group", "billing"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CUTOVER_ORIGIN_BOOTSTRAP", "127.0.0.1:1")
        .env("CUTOVER_DESTINATION_BOOTSTRAP", "127.0.0.1:1")
        .env("CUTOVER_LINK_NAME", "migration")
        .env("CUTOVER_JOURNAL_DIR", &dir)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run cutover");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "no stop hook is configured: set [hooks.stop]",
        "no restart hook is configured",
        "no rollback hook is configured",
        "no [link] rest-url is configured",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
    assert!(!dir.exists(), "no journal directory was created");
}

#[test]
fn html_is_refused_up_front_for_every_command_but_report() {
    for args in [
        &["--format", "html", "verify", "g"][..],
        &["--format", "html", "group", "g"],
        &["--format", "html", "scenario", "x.toml"],
    ] {
        let out = cutover(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only for `cutover report`"), "{args:?}: {err}");
        // A usage error, not a configuration one: nothing in cutover.toml would fix it.
        assert!(!err.contains("cutover.toml"), "{args:?}: {err}");
    }
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_output_quietly() {
    // `cutover scenario … | head -1`: the transcript is long; the reader takes one line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["scenario", &scenario("standard-migration.toml")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cutover");
    drop(child.stdout.take()); // the reader is gone before the first line
    let out = child.wait_with_output().expect("cutover ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "a closed pipe is not an error: {err}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the exit code is still the verdict"
    );
}

#[test]
fn ctrl_c_during_a_wait_exits_130_saying_nothing_was_changed() {
    // A "cluster" that accepts connections and never answers: verify waits on it, and the
    // operator gives up.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let address = silent.local_addr().expect("its address").to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["verify", "g", "--wait", "5m"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CUTOVER_ORIGIN_BOOTSTRAP", &address)
        .env("CUTOVER_DESTINATION_BOOTSTRAP", &address)
        .env("CUTOVER_LINK_NAME", "migration")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cutover");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = i32::try_from(child.id()).expect("pids fit in i32");
    let kill = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(kill.success());
    let out = child.wait_with_output().expect("cutover ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted during `cutover verify`"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
}

#[test]
fn the_cli_kit_version_completions_man_page_and_examples() {
    // --version names the Kafka client and what it was built with (TLS, SASL).
    let out = cutover(&["--version"]);
    let version = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        version.contains("librdkafka 2.") && version.contains("ssl") && version.contains("sasl"),
        "{version}"
    );
    // Completions and the man page come from the same grammar as the commands.
    let out = cutover(&["completions", "bash"]);
    let script = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        script.contains("_cutover") && script.contains("verify") && script.contains("--dry-run"),
        "{script}"
    );
    let out = cutover(&["man"]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        page.contains(".TH cutover 1") && page.contains("verify"),
        "{page}"
    );
    // Every command shows examples.
    for command in [
        "verify", "group", "audit", "watch", "promote", "run", "report", "scenario",
    ] {
        let out = cutover(&[command, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:\n  cutover "), "{command}: {help}");
    }
}

/// Runs `cutover ARGS` with both clusters at `bootstrap` (which no broker answers): it must
/// exit 3 within seconds naming the address and librdkafka's `reason`; returns stderr.
fn unreachable_is_named(args: &[&str], bootstrap: &str, reason: &str) -> String {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CUTOVER_ORIGIN_BOOTSTRAP", bootstrap)
        .env("CUTOVER_DESTINATION_BOOTSTRAP", bootstrap)
        .env("CUTOVER_LINK_NAME", "migration")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run cutover");
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{err}");
    // librdkafka's own reason, with the broker's address, not a bare timeout.
    assert!(err.contains(bootstrap) && err.contains(reason), "{err}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "took {took:?}: {err}"
    );
    err
}

#[test]
fn a_cluster_that_refuses_connections_is_named_with_its_address_within_seconds() {
    unreachable_is_named(&["verify", "g"], "127.0.0.1:1", "Connection refused");
}

#[test]
fn a_broker_name_that_does_not_resolve_is_named_with_the_reason_within_seconds() {
    let err = unreachable_is_named(
        &["audit"],
        "no-such-broker.invalid:9092",
        "Failed to resolve",
    );
    // librdkafka's own lines are for -v; by default the error says it all.
    assert_eq!(err.lines().count(), 3, "error, caused by, hint: {err}");
}

#[test]
fn report_verify_finds_a_simulated_runs_journal_intact_then_names_the_line_after_an_altered_one() {
    let dir = std::env::temp_dir().join(format!("cutover-cli-chain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A real simulated cutover, its journals kept.
    let ran = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["scenario", &scenario("standard-migration.toml")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CUTOVER_SCENARIO_JOURNALS", &dir)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run cutover");
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    let journal = dir.join("standard-migration").join("billing.jsonl");
    let path = journal.to_str().unwrap();
    let text = std::fs::read_to_string(&journal).expect("the scenario kept its journal");
    let records = text.lines().count();
    assert!(records > 10, "{text}");

    let out = cutover(&["report", "--verify", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("intact ({records} records)")),
        "{stdout}"
    );

    // One digit of line 3's timestamp changed: still a valid record, but line 4 no longer
    // vouches for it.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let at = lines[2].find("\"ts_ms\":").unwrap() + "\"ts_ms\":".len();
    let digit = lines[2].as_bytes()[at];
    let other = if digit == b'9' {
        '0'
    } else {
        (digit + 1) as char
    };
    lines[2].replace_range(at..=at, &other.to_string());
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    let out = cutover(&["report", "--verify", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("BROKEN"), "{stdout}");
    assert!(
        stdout.contains("broken at line 4 (seq 4): line 4 does not carry the hash of line 3"),
        "{stdout}"
    );
    let out = cutover(&["--format", "json", "report", "--verify", path]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["holds"], false);
    assert_eq!(doc["journals"][0]["verdict"], "broken");
    assert_eq!(doc["journals"][0]["problems"][0]["line"], 4);
    assert_eq!(doc["journals"][0]["problems"][0]["kind"], "prev_mismatch");

    // The journal as written, cut mid-line: the last line is named.
    std::fs::write(&journal, &text.as_bytes()[..text.len() - 5]).unwrap();
    let out = cutover(&["report", "--verify", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "cut at line {records}: line {records} ends without a line end"
        )),
        "{stdout}"
    );
    // HTML is the evidence page of a report, not a chain check: refused as usage.
    let out = cutover(&["--format", "html", "report", "--verify", path]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
