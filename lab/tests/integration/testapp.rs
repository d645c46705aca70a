//! The end-to-end tests' consumer application (`cutover-testapp`, a test fixture) against the
//! lab's origin: it must process every record exactly once across stops and restarts, commit
//! exactly what it processed, leave its group when stopped, and fail loudly when it cannot
//! start. The cutover tests rely on all of this, so it is proven here on its own first.

use std::collections::BTreeMap;
use std::time::Duration;

use cutover::model::Role;
use cutover_lab::testkit::testapp::{
    self as fixture, committed, lab_cluster, log_ends, members, processes_with_arg, tally,
    wait_processed, App, BackgroundProducer, Instances, Partition,
};
use cutover_lab::testkit::{self, commit_as_member, create_topic, lab, produce, unique, Protocol};

/// Expected log ends of `topic`, from counts per partition.
fn ends(topic: &str, counts: &[(i32, i64)]) -> BTreeMap<Partition, i64> {
    counts
        .iter()
        .map(|(p, n)| ((topic.to_string(), *p), *n))
        .collect()
}

/// N records, M more while the app runs, a stop, a restart and K more: every offset is
/// processed exactly once, the committed offsets are the log ends, and a stopped app has left
/// its group.
async fn processes_every_record_once_across_a_stop_and_a_restart(protocol: Protocol) {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp");
    let group = unique("testapp-group");
    create_topic(origin, &topic, 2).await;
    produce(origin, &topic, &[(0, 150), (1, 50)]).await;

    let app = App::new(&group, &[&topic], protocol);
    let out = app.out("origin");
    let files = [out.clone()];
    let pid = app.start(origin, &out);
    assert_eq!(
        std::fs::read_to_string(&app.pidfile).expect("start writes the pidfile"),
        format!("{pid}\n")
    );
    wait_processed(
        &files,
        &ends(&topic, &[(0, 150), (1, 50)]),
        Duration::from_secs(30),
    );

    // A second start for the same pidfile is refused and leaves the running app alone.
    let again = app.try_start(origin, &out);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("already running"), "{again:?}");

    produce(origin, &topic, &[(0, 40), (1, 60)]).await;
    let expected = ends(&topic, &[(0, 190), (1, 110)]);
    wait_processed(&files, &expected, Duration::from_secs(30));
    app.stop();

    assert_eq!(log_ends(&cluster, &topic, 2).await, expected);
    tally(&files).assert_exactly_once(&expected);
    assert_eq!(committed(&cluster, &group).await, expected);
    let left = members(&cluster, &group).await;
    assert!(left.is_empty(), "members after stop: {left:?}");
    assert!(!app.pidfile.exists(), "stop leaves the pidfile behind");
    let repeated = app.try_stop();
    assert_eq!(repeated.code, Some(0), "{repeated:?}");
    assert!(repeated.stderr.contains("nothing to stop"), "{repeated:?}");

    // Restarted, it resumes at the committed offsets: nothing is processed twice.
    app.start(origin, &out);
    produce(origin, &topic, &[(0, 25), (1, 25)]).await;
    let expected = ends(&topic, &[(0, 215), (1, 135)]);
    wait_processed(&files, &expected, Duration::from_secs(30));
    app.stop();

    tally(&files).assert_exactly_once(&expected);
    assert_eq!(committed(&cluster, &group).await, expected);
    let left = members(&cluster, &group).await;
    assert!(left.is_empty(), "members after stop: {left:?}");
}

#[tokio::test]
async fn classic_member_processes_every_record_once_across_a_stop_and_a_restart() {
    processes_every_record_once_across_a_stop_and_a_restart(Protocol::Classic).await;
}

#[tokio::test]
async fn consumer_protocol_member_processes_every_record_once_across_a_stop_and_a_restart() {
    processes_every_record_once_across_a_stop_and_a_restart(Protocol::Consumer).await;
}

/// Stopped while a producer keeps writing, the app has committed exactly what it wrote; a
/// restart on separate output then picks up at the committed offsets.
#[tokio::test]
async fn a_stop_in_mid_stream_commits_exactly_what_was_processed() {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp-stream");
    let group = unique("testapp-stream-group");
    create_topic(origin, &topic, 2).await;
    let producer = BackgroundProducer::start(origin, &topic, 2, Duration::from_millis(2));

    let app = App::new(&group, &[&topic], Protocol::Consumer);
    let first = [app.out("first")];
    app.start(origin, &first[0]);
    wait_processed(
        &first,
        &ends(&topic, &[(0, 100), (1, 100)]),
        Duration::from_secs(30),
    );
    app.stop();

    let at_stop = committed(&cluster, &group).await;
    assert_eq!(at_stop.len(), 2, "committed {at_stop:?}");
    tally(&first).assert_exactly_once(&at_stop);

    let second = app.out("second");
    let both = [first[0].clone(), second.clone()];
    app.start(origin, &second);
    let sent = producer.stop();
    let expected = log_ends(&cluster, &topic, 2).await;
    assert_eq!(expected.values().sum::<i64>(), sent as i64);
    wait_processed(&both, &expected, Duration::from_secs(30));
    app.stop();

    tally(&both).assert_exactly_once(&expected);
    // The second run started exactly where the first one's commits left off.
    let second_run = tally(&[second]);
    for (tp, start) in &at_stop {
        let lowest = second_run
            .counts
            .get(tp)
            .and_then(|o| o.keys().next().copied());
        assert!(
            lowest.is_none_or(|o| o == *start),
            "{tp:?}: second run began at {lowest:?}, committed was {start}"
        );
    }
    assert_eq!(committed(&cluster, &group).await, expected);
}

/// Two instances in one group split the partitions: across the rebalances of the second
/// joining and leaving while a producer writes, every record is processed once. (Eager
/// classic rebalancing revokes every partition, so each instance must commit what it
/// processed before giving partitions up.)
#[tokio::test]
async fn two_instances_in_one_group_process_every_record_once_across_rebalances() {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp-pair");
    let group = unique("testapp-pair-group");
    create_topic(origin, &topic, 2).await;
    let producer = BackgroundProducer::start(origin, &topic, 2, Duration::from_millis(2));
    let first = App::new(&group, &[&topic], Protocol::Classic);
    let second = App::new(&group, &[&topic], Protocol::Classic);
    let files = [first.out("origin"), second.out("origin")];

    first.start(origin, &files[0]);
    wait_processed(
        &files[..1],
        &ends(&topic, &[(0, 100), (1, 100)]),
        Duration::from_secs(30),
    );
    second.start(origin, &files[1]);
    testkit::wait_for(
        "the second instance to process records",
        Duration::from_secs(30),
        || (tally(&files[1..]).total() > 0).then_some(()),
    );
    second.stop();
    let sent = producer.stop();
    let expected = log_ends(&cluster, &topic, 2).await;
    assert_eq!(expected.values().sum::<i64>(), sent as i64);
    wait_processed(&files, &expected, Duration::from_secs(30));
    first.stop();

    tally(&files).assert_exactly_once(&expected);
    assert_eq!(committed(&cluster, &group).await, expected);
}

/// Three instances started by one `start` share the partitions as three members; one `stop`
/// stops them all, and by the time it returns they have left the group and committed exactly
/// what they processed. Started again together, they resume there.
#[tokio::test]
async fn three_instances_start_together_and_stop_together_processing_every_record_once() {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp-three");
    let group = unique("testapp-three-group");
    create_topic(origin, &topic, 6).await;
    let producer = BackgroundProducer::start(origin, &topic, 6, Duration::from_millis(5));
    let apps = Instances::new(&group, &[&topic], Protocol::Classic, 3);

    apps.start(origin, "first");
    let during = members(&cluster, &group).await;
    assert_eq!(during.len(), 3, "three members: {during:?}");
    let first = apps.outs("first");
    testkit::wait_for(
        "every instance to process records",
        Duration::from_secs(30),
        || {
            first
                .iter()
                .all(|f| tally(std::slice::from_ref(f)).total() > 0)
                .then_some(())
        },
    );
    let stopped = apps.try_stop();
    assert_eq!(stopped.code, Some(0), "{stopped:?}");
    assert_eq!(
        stopped.stderr.matches("stopped in").count(),
        3,
        "{stopped:?}"
    );
    // Read once, right away: `stop` returned after the members left, not before.
    let left = members(&cluster, &group).await;
    assert!(left.is_empty(), "members after stop: {left:?}");
    let at_stop = committed(&cluster, &group).await;
    tally(&first).assert_exactly_once(&at_stop);

    apps.start(origin, "second");
    let sent = producer.stop();
    let expected = log_ends(&cluster, &topic, 6).await;
    assert_eq!(expected.values().sum::<i64>(), sent as i64);
    let all: Vec<_> = first.into_iter().chain(apps.outs("second")).collect();
    wait_processed(&all, &expected, Duration::from_secs(30));
    apps.stop();
    tally(&all).assert_exactly_once(&expected);
    assert_eq!(committed(&cluster, &group).await, expected);
}

/// A static member (`group.instance.id`) shows its instance id, and is gone from the group
/// the moment `stop` returns: librdkafka's close alone would leave it there until its session
/// timed out (KIP-345), so the app unsubscribes first.
#[tokio::test]
async fn a_static_member_has_left_its_group_when_stop_returns() {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp-static");
    let group = unique("testapp-static-group");
    create_topic(origin, &topic, 2).await;
    produce(origin, &topic, &[(0, 30), (1, 30)]).await;
    let apps = Instances::new(&group, &[&topic], Protocol::Classic, 2).with_static_ids();

    apps.start(origin, "origin");
    let mut ids: Vec<Option<String>> = members(&cluster, &group)
        .await
        .into_iter()
        .map(|m| m.group_instance_id)
        .collect();
    ids.sort();
    let want: Vec<Option<String>> = apps.apps.iter().map(|a| a.instance_id.clone()).collect();
    assert_eq!(ids, want, "the members are the static instances");
    let expected = ends(&topic, &[(0, 30), (1, 30)]);
    wait_processed(&apps.outs("origin"), &expected, Duration::from_secs(30));
    apps.stop();
    let left = members(&cluster, &group).await;
    assert!(left.is_empty(), "static members after stop: {left:?}");
    assert_eq!(committed(&cluster, &group).await, expected);

    // Back with the same instance ids, they resume at the committed offsets.
    apps.start(origin, "again");
    produce(origin, &topic, &[(0, 10), (1, 10)]).await;
    let expected = ends(&topic, &[(0, 40), (1, 40)]);
    let all: Vec<_> = apps
        .outs("origin")
        .into_iter()
        .chain(apps.outs("again"))
        .collect();
    wait_processed(&all, &expected, Duration::from_secs(30));
    apps.stop();
    tally(&all).assert_exactly_once(&expected);
    assert_eq!(committed(&cluster, &group).await, expected);
}

/// `--assign`: the app joins no group, yet resumes from the group's committed offsets (the
/// reset policy where there are none) and commits for it; the group never has a member.
#[tokio::test]
async fn an_assign_mode_app_commits_for_its_group_without_ever_joining_it() {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp-assign");
    let group = unique("testapp-assign-group");
    create_topic(origin, &topic, 2).await;
    produce(origin, &topic, &[(0, 50), (1, 50)]).await;
    // The group committed partition 0 up to 20 before; partition 1 never.
    commit_as_member(origin, &group, Protocol::Classic, &topic, 2, &[(0, 20)]);
    let mut app = App::new(&group, &[&topic], Protocol::Classic);
    app.assign = true;
    let first = app.out("first");

    app.start(origin, &first);
    let expected = ends(&topic, &[(0, 50), (1, 50)]);
    testkit::wait_for(
        "the app to reach the log ends",
        Duration::from_secs(30),
        || {
            let t = tally(std::slice::from_ref(&first));
            let at_end = t
                .counts
                .get(&(topic.clone(), 0))
                .is_some_and(|o| o.contains_key(&49))
                && t.counts
                    .get(&(topic.clone(), 1))
                    .is_some_and(|o| o.contains_key(&49));
            at_end.then_some(())
        },
    );
    assert!(
        members(&cluster, &group).await.is_empty(),
        "assign mode never joins"
    );
    app.stop();
    assert_eq!(committed(&cluster, &group).await, expected);
    let t = tally(std::slice::from_ref(&first));
    let p0: Vec<i64> = t.counts[&(topic.clone(), 0)].keys().copied().collect();
    assert_eq!(
        p0,
        (20..50).collect::<Vec<_>>(),
        "partition 0 resumed at 20"
    );
    let p1: Vec<i64> = t.counts[&(topic.clone(), 1)].keys().copied().collect();
    assert_eq!(
        p1,
        (0..50).collect::<Vec<_>>(),
        "partition 1 started at the earliest"
    );
    assert!(t.duplicates().is_empty(), "{t:?}");

    // Restarted, it resumes at what it committed.
    let second = app.out("second");
    app.start(origin, &second);
    produce(origin, &topic, &[(0, 5), (1, 5)]).await;
    let expected = ends(&topic, &[(0, 55), (1, 55)]);
    testkit::wait_for(
        "the second run to process the new records",
        Duration::from_secs(30),
        || (tally(std::slice::from_ref(&second)).total() >= 10).then_some(()),
    );
    app.stop();
    let second_run = tally(std::slice::from_ref(&second));
    for p in [0, 1] {
        let offsets: Vec<i64> = second_run.counts[&(topic.clone(), p)]
            .iter()
            .map(|(o, n)| {
                assert_eq!(*n, 1, "partition {p} offset {o} processed {n} times");
                *o
            })
            .collect();
        assert_eq!(
            offsets,
            (50..55).collect::<Vec<_>>(),
            "partition {p} resumed at 50"
        );
    }
    assert_eq!(committed(&cluster, &group).await, expected);
}

/// `start` pairs its repeated options into instances and refuses a count that does not pair.
#[test]
fn start_refuses_instances_without_an_output_file_each() {
    let apps = Instances::new("no-such-group", &["t"], Protocol::Classic, 2);
    let mut argv = apps.start_argv("127.0.0.1:9", "origin");
    let second_out = argv
        .iter()
        .rposition(|a| a == "--out")
        .expect("an --out per instance");
    argv.drain(second_out..second_out + 2);
    let ran = fixture::run_argv(&argv);
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(ran.stderr.contains("1 --out for 2 --pidfile"), "{ran:?}");
    assert!(!apps.apps[0].pidfile.exists(), "nothing was started");
}

/// With SIGTERM not acted on (the process is stopped with SIGSTOP), `stop` gives up after
/// its timeout, kills the app and exits 1.
#[tokio::test]
async fn stop_kills_an_app_that_does_not_exit_in_time_and_exits_1() {
    let origin = &lab().origin;
    let topic = unique("testapp-stuck");
    create_topic(origin, &topic, 1).await;
    let mut app = App::new(&unique("testapp-stuck-group"), &[&topic], Protocol::Classic);
    app.stop_timeout = Duration::from_secs(1);
    let pid = app.start(origin, &app.out("origin"));

    // SAFETY: kill has no memory effects; the pid is the app this test just started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
    let ran = app.try_stop();
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stderr.contains("killed it"), "{ran:?}");
    assert!(ran.elapsed >= Duration::from_secs(1), "{ran:?}");
    assert_eq!(
        processes_with_arg(&app.pidfile.display().to_string()),
        Vec::<u32>::new()
    );
    assert!(!app.pidfile.exists(), "stop leaves the pidfile behind");
}

#[test]
fn stop_without_a_pidfile_says_so_and_exits_0() {
    let app = App::new("no-such-app", &["t"], Protocol::Classic);
    let ran = app.try_stop();
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stderr.contains("nothing to stop"), "{ran:?}");
}

/// Nothing listens at the bootstrap address, so the app never gets partitions: `start` stops
/// it at its ready timeout and exits 1 with the app's log, leaving nothing running.
#[test]
fn start_with_an_unreachable_bootstrap_fails_at_its_ready_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let bootstrap = closed.local_addr().expect("its address").to_string();
    drop(closed);
    let mut app = App::new(&unique("testapp-unreachable"), &["t"], Protocol::Classic);
    app.ready_timeout = Duration::from_secs(3);

    let ran = app.try_start(&bootstrap, &app.out("origin"));
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.elapsed >= Duration::from_secs(3) && ran.elapsed < Duration::from_secs(8),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("got no partitions"), "{ran:?}");
    assert!(ran.stderr.contains(&bootstrap), "{ran:?}");
    // The log's tail: the app's own lines and librdkafka's connection errors.
    assert!(ran.stderr.contains("consuming t into"), "{ran:?}");
    assert!(!app.pidfile.exists(), "a failed start leaves its pidfile");
    assert_eq!(
        processes_with_arg(&app.pidfile.display().to_string()),
        Vec::<u32>::new()
    );
}

/// A start that fails while its app is still joining stops that app so that it leaves the
/// group: a killed joiner would stay a member until its session timed out (45 s), and every
/// rebalance meanwhile, such as the next start's (a hook's retry), would wait for it.
#[tokio::test]
async fn a_start_that_fails_while_joining_leaves_no_member_to_hold_the_next_start() {
    let origin = &lab().origin;
    let cluster = lab_cluster(Role::Origin);
    let topic = unique("testapp-joiner");
    let group = unique("testapp-joiner-group");
    create_topic(origin, &topic, 1).await;
    let first = App::new(&group, &[&topic], Protocol::Classic);
    let pid = first.start(origin, &first.out("origin")) as i32;

    // Frozen, the first member holds the rebalance a second start begins: it fails.
    // SAFETY: kill has no memory effects; the pid is the app this test just started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let mut joiner = App::new(&group, &[&topic], Protocol::Classic);
    joiner.ready_timeout = Duration::from_secs(3);
    let failed = joiner.try_start(origin, &joiner.out("origin"));
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(failed.stderr.contains("got no partitions"), "{failed:?}");
    assert!(
        failed.stderr.contains("stopped in"),
        "stopped, not killed: {failed:?}"
    );
    assert_eq!(
        processes_with_arg(&joiner.pidfile.display().to_string()),
        Vec::<u32>::new()
    );

    // Thawed, the first member rejoins; the next start is not held by the failed one.
    let mut next = App::new(&group, &[&topic], Protocol::Classic);
    next.ready_timeout = Duration::from_secs(20);
    let ran = next.try_start(origin, &next.out("origin"));
    assert_eq!(ran.code, Some(0), "the next start is held: {ran:?}");
    assert_eq!(
        members(&cluster, &group).await.len(),
        2,
        "the first app and the next, not the failed one"
    );
    next.stop();
    first.stop();
}

/// An app that exits before it is ready (here: it cannot open its output file) makes `start`
/// fail at once, not at the ready timeout, with the app's own error.
#[test]
fn start_fails_at_once_when_the_app_exits_before_it_is_ready() {
    let app = App::new(&unique("testapp-no-out"), &["t"], Protocol::Classic);
    let out = app.dir.join("no-such-folder").join("origin.out");

    let ran = app.try_start("127.0.0.1:9", &out);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
    assert!(ran.stderr.contains("exited"), "{ran:?}");
    assert!(ran.stderr.contains("cannot open"), "{ran:?}");
    assert!(!app.pidfile.exists(), "a failed start leaves its pidfile");
}

/// The tally the other tests judge by: a repeat is a duplicate, a missing offset a gap, an
/// offset at or past the end (or of another partition) unexpected, and a torn last line (a
/// write in progress) is not counted.
#[test]
fn tally_finds_duplicates_gaps_and_unexpected_offsets() {
    let dir = testkit::testapp::scratch_dir("tally");
    let (a, b) = (dir.join("a.out"), dir.join("b.out"));
    std::fs::write(&a, "t 0 0\nt 0 1\nt 1 0\nt 0 3\n").unwrap();
    std::fs::write(&b, "t 0 1\nt 0 4\nu 0 0\nt 1 1").unwrap();
    let t = tally(&[a, b]);
    let expected = ends("t", &[(0, 4), (1, 2)]);

    assert_eq!(t.total(), 7);
    assert_eq!(
        t.duplicates(),
        BTreeMap::from([(("t".into(), 0), vec![(1, 2)])])
    );
    assert_eq!(
        t.gaps(&expected),
        BTreeMap::from([(("t".into(), 0), vec![2]), (("t".into(), 1), vec![1])])
    );
    assert_eq!(
        t.unexpected(&expected),
        BTreeMap::from([(("t".into(), 0), vec![4]), (("u".into(), 0), vec![0])])
    );
    let verdict = std::panic::catch_unwind(|| t.assert_exactly_once(&expected));
    let message = *verdict.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("duplicates t-0: 1"), "{message}");
    assert!(message.contains("gaps t-0: 2; t-1: 1"), "{message}");

    let clean = dir.join("clean.out");
    std::fs::write(&clean, "t 1 0\nt 0 0\nt 0 1\n").unwrap();
    tally(&[clean]).assert_exactly_once(&ends("t", &[(0, 2), (1, 1)]));
}
