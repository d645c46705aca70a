//! Generated and mutated filter JSON (`consumer.offset.group.filters`): a valid document reads
//! as written and survives a round trip; a truncated one, a field of the wrong type or any
//! other JSON is a value or an error naming the config's key and the entry, never a panic.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use crate::proptest_support::{char_boundary, config, Floats};

fn any_json() -> impl Strategy<Value = Value> {
    // No floats: serde_json reads some back one unit in the last place off (its
    // float_roundtrip feature is not enabled), which is not this module's to fix.
    crate::proptest_support::any_json(Floats::Without)
}

/// A type name in one of the cases the link accepts.
fn spelled(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// One entry as the link may hold it, and the filter it means.
fn entry() -> impl Strategy<Value = (Value, Filter)> {
    (
        prop_oneof![Just("*".to_string()), "[a-z0-9._-]{1,12}", "\\PC{1,8}"],
        prop_oneof![
            spelled("literal").prop_map(|s| (s, PatternType::Literal)),
            spelled("prefixed").prop_map(|s| (s, PatternType::Prefixed)),
        ],
        prop_oneof![
            Just((None, FilterType::Include)),
            Just((Some(Value::Null), FilterType::Include)),
            spelled("include").prop_map(|s| (Some(json!(s)), FilterType::Include)),
            spelled("whitelist").prop_map(|s| (Some(json!(s)), FilterType::Include)),
            spelled("exclude").prop_map(|s| (Some(json!(s)), FilterType::Exclude)),
            spelled("blacklist").prop_map(|s| (Some(json!(s)), FilterType::Exclude)),
        ],
        prop::collection::btree_map("x[a-z]{0,8}", any_json(), 0..3),
    )
        .prop_map(
            |(name, (pattern, pattern_type), (filter, filter_type), extra)| {
                let extra: Map<String, Value> = extra.into_iter().collect();
                let mut doc = extra.clone();
                doc.insert("name".into(), json!(name));
                doc.insert("patternType".into(), json!(pattern));
                if let Some(f) = filter {
                    doc.insert("filterType".into(), f);
                }
                let filter = Filter {
                    name,
                    pattern_type,
                    filter_type,
                    extra,
                };
                (Value::Object(doc), filter)
            },
        )
}

fn document(entries: &[(Value, Filter)]) -> String {
    let list: Vec<&Value> = entries.iter().map(|(v, _)| v).collect();
    json!({ "groupFilters": list }).to_string()
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn a_valid_document_reads_as_written_and_round_trips(
        entries in prop::collection::vec(entry(), 0..6),
        group in "[a-z*.-]{1,10}",
    ) {
        let text = document(&entries);
        let read = Filters::parse(FilterKind::Group, &text).expect("valid filters");
        let expected: Vec<Filter> = entries.iter().map(|(_, f)| f.clone()).collect();
        prop_assert_eq!(&read.filters, &expected);
        let again = Filters::parse(FilterKind::Group, &read.to_json(FilterKind::Group))
            .expect("what cutover writes reads back");
        prop_assert_eq!(&again, &read);
        // The link's rule: some filter matches and none of those that match excludes.
        let matching: Vec<&Filter> = expected.iter().filter(|f| f.matches(&group)).collect();
        let included = !matching.is_empty()
            && matching.iter().all(|f| f.filter_type == FilterType::Include);
        prop_assert_eq!(read.includes(&group), included);
        let mut excluded = read.clone();
        excluded.exclude_literally(&group);
        prop_assert!(!excluded.includes(&group));
    }

    #[test]
    fn a_truncated_document_is_an_error_naming_the_key(
        entries in prop::collection::vec(entry(), 1..4),
        at in any::<prop::sample::Index>(),
    ) {
        let text = document(&entries);
        let truncated = &text[..char_boundary(&text, &at)];
        match Filters::parse(FilterKind::Group, truncated) {
            // Blank is no filters.
            Ok(f) => prop_assert!(truncated.trim().is_empty() && f.filters.is_empty()),
            Err(e) => prop_assert!(e.to_string().starts_with("invalid groupFilters JSON: "), "{}", e),
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_naming_the_entry(
        entries in prop::collection::vec(entry(), 1..4),
        which in any::<prop::sample::Index>(),
        field in prop::sample::select(vec!["name", "patternType", "filterType"]),
        replacement in any_json().prop_filter("not a string or null", |v| !v.is_string() && !v.is_null()),
    ) {
        let mut entries = entries;
        let i = which.index(entries.len());
        entries[i].0[field] = replacement;
        let err = Filters::parse(FilterKind::Group, &document(&entries)).expect_err("a bad entry");
        let text = err.to_string();
        prop_assert!(text.starts_with(&format!("invalid groupFilters JSON: entry {i}: \"{field}\" must be a string")), "{}", text);
    }

    #[test]
    fn any_json_or_text_is_filters_or_an_error(
        doc in prop_oneof![
            any_json().prop_map(|v| v.to_string()),
            any_json().prop_map(|v| json!({"groupFilters": v}).to_string()),
            any_json().prop_map(|v| json!({"groupFilters": [v]}).to_string()),
            any::<String>(),
        ],
    ) {
        match Filters::parse(FilterKind::Group, &doc) {
            Ok(f) => {
                let again = Filters::parse(FilterKind::Group, &f.to_json(FilterKind::Group));
                prop_assert_eq!(again.as_ref(), Ok(&f));
            }
            Err(e) => prop_assert!(e.to_string().starts_with("invalid groupFilters JSON: ")),
        }
    }
}

#[test]
fn a_huge_document_reads_in_one_pass() {
    let entries: Vec<Value> = (0..100_000)
        .map(
            |i| json!({"name": format!("g{i}"), "patternType": "LITERAL", "filterType": "EXCLUDE"}),
        )
        .collect();
    let text = json!({ "groupFilters": entries }).to_string();
    let read = Filters::parse(FilterKind::Group, &text).unwrap();
    assert_eq!(read.filters.len(), 100_000);
    assert!(!read.includes("g99999"));
    // Nesting deeper than JSON readers allow is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = Filters::parse(FilterKind::Group, &deep).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}
