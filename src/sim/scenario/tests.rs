//! Parsing scenario files: defaults, and every problem reported at once.

use super::*;

#[test]
fn a_minimal_scenario_takes_the_defaults() {
    let s = Scenario::parse(
        r#"
        [[topics]]
        name = "orders"
        partitions = 2
        [[apps]]
        name = "billing"
        topics = ["orders"]
        [[timeline]]
        at = "1m"
        do = "stop_app"
        app = "billing"
        [[timeline]]
        run = "verify billing"
        expect = { exit = 0 }
        "#,
        "x",
    )
    .unwrap();
    assert_eq!(s.name, "x");
    assert_eq!(s.link.sync_interval, Duration::from_secs(30));
    assert_eq!(s.apps[0].group, "billing");
    assert_eq!(s.timeline[0].when, When::At(Duration::from_secs(60)));
    assert!(
        matches!(&s.timeline[1].what, What::Command { args, expect, .. } if args == &["verify", "billing"] && expect.exit == Some(0))
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_entry() {
    let err = Scenario::parse(
        r#"
        tick = "soon"
        [[topics]]
        name = "orders"
        partitions = 0
        [[apps]]
        name = "billing"
        topics = ["payments"]
        [[timeline]]
        do = "stop_ap"
        app = "billing"
        [[timeline]]
        at = "1m"
        "#,
        "x",
    )
    .unwrap_err();
    let text = err.to_string();
    for needle in [
        "tick: invalid duration \"soon\"",
        "topic orders: partitions must be at least 1",
        "app billing: topic payments is not one of",
        "timeline entry 1: unknown variant `stop_ap`",
        "timeline entry 2: needs `do",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let err = Scenario::parse("[link]\nsync-intervall = \"5s\"\n", "x").unwrap_err();
    assert!(err.to_string().contains("sync-intervall"), "{err}");
    let err = Scenario::parse(
        "[[timeline]]\ndo = \"stop_app\"\napp = \"a\"\ncolor = 1\n",
        "x",
    )
    .unwrap_err();
    assert!(err.to_string().contains("color"), "{err}");
}

#[test]
fn a_copy_shift_below_zero_and_a_destination_topic_without_a_way_back_are_refused() {
    let err = Scenario::parse(
        r#"
        [link]
        copy-offset-shift = -1
        [[topics]]
        name = "orders"
        on = "destination"
        partitions = 1
        "#,
        "x",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("link.copy-offset-shift is -1"), "{err}");
    assert!(
        err.contains("topic orders: a destination topic is mirrored back by the reverse link, and the scenario has no [reverse-link]"),
        "{err}"
    );
}

#[test]
fn apps_name_a_destination_topic_by_its_reverse_mirror_on_the_origin() {
    let s = Scenario::parse(
        r#"
        [reverse-link]
        prefix = "east."
        [[topics]]
        name = "orders"
        on = "destination"
        partitions = 1
        [[apps]]
        name = "reader"
        topics = ["east.orders"]
        "#,
        "x",
    )
    .unwrap();
    let reverse = s.reverse_link.expect("a reverse link");
    assert_eq!(
        (reverse.name.as_str(), reverse.prefix.as_str()),
        ("back", "east.")
    );
    assert_eq!(s.topics[0].on, Side::Destination);
}
