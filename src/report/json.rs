//! The JSON form of the verify and audit reports: their schema version, pretty printing of
//! any report, and the serialization of long lists on all cores. Serialization only; what a
//! report says is decided before it gets here.

use serde::Serialize;

use crate::parallel::parallel_map;

/// The JSON schema version of verify and audit reports.
pub const SCHEMA_VERSION: u32 = 1;

/// Pretty JSON of any report (which carries its own `schema_version`).
pub fn json<T: Serialize>(report: &T) -> String {
    serde_json::to_string_pretty(report).expect("reports are plain data and always serialise")
}

/// Serializes a report's list of groups with its elements rendered on all cores, each to its
/// own JSON text, then written in order: the output is byte for byte what plain
/// serialization gives (a test says so). For `serialize_with` on the reports, which are only
/// ever serialized as JSON (the pre-rendered elements are serde_json raw values).
pub(crate) fn serialize_in_parallel<T, S>(
    items: &[T],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error>
where
    T: Serialize + Sync,
    S: serde::Serializer,
{
    use serde::ser::{Error as _, SerializeSeq};
    let rendered = parallel_map(items, serde_json::value::to_raw_value);
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    for item in rendered {
        seq.serialize_element(&item.map_err(S::Error::custom)?)?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Item {
        name: String,
        offset: Option<i64>,
        notes: Vec<&'static str>,
    }

    #[test]
    fn lists_serialized_in_parallel_are_byte_for_byte_what_plain_serialization_gives() {
        #[derive(Serialize)]
        struct Plain<'a> {
            head: &'a str,
            items: &'a [Item],
        }
        #[derive(Serialize)]
        struct Parallel<'a> {
            head: &'a str,
            #[serde(serialize_with = "serialize_in_parallel")]
            items: &'a [Item],
        }
        // Long enough to be split over threads; names that need escaping.
        let items: Vec<Item> = (0..500)
            .map(|i| Item {
                name: format!("topic \"{i}\"\n\u{e9}"),
                offset: (i % 3 != 0).then_some(i64::from(i) * 1_000_000_007),
                notes: if i % 2 == 0 {
                    vec!["a", "b\\c"]
                } else {
                    vec![]
                },
            })
            .collect();
        let head = "report";
        let plain = serde_json::to_string(&Plain {
            head,
            items: &items,
        })
        .expect("a list of plain items serializes");
        let parallel = serde_json::to_string(&Parallel {
            head,
            items: &items,
        })
        .expect("a list of plain items serializes");
        assert_eq!(parallel, plain);
        let empty = serde_json::to_string(&Parallel { head, items: &[] })
            .expect("an empty list serializes");
        assert_eq!(empty, r#"{"head":"report","items":[]}"#);
    }
}
