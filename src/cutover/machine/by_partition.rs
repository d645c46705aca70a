//! JSON maps need string keys: partition maps are written as lists of
//! `{"topic", "partition", "value"}`, in partition order.
//!
//! Serde helpers for the machine's checkpoint and observation; they decide nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::TopicPartition;

#[derive(Serialize, Deserialize)]
struct Row<V> {
    topic: String,
    partition: i32,
    value: V,
}

pub fn serialize<V: Serialize + Clone, S: Serializer>(
    m: &BTreeMap<TopicPartition, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let rows: Vec<Row<V>> = m
        .iter()
        .map(|(tp, v)| Row {
            topic: tp.topic.to_string(),
            partition: tp.partition,
            value: v.clone(),
        })
        .collect();
    rows.serialize(s)
}

pub fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<TopicPartition, V>, D::Error> {
    let rows: Vec<Row<V>> = Vec::deserialize(d)?;
    Ok(rows
        .into_iter()
        .map(|r| (TopicPartition::new(r.topic, r.partition), r.value))
        .collect())
}

/// The same for an optional map.
pub mod option {
    use super::*;

    pub fn serialize<V: Serialize + Clone, S: Serializer>(
        m: &Option<BTreeMap<TopicPartition, V>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match m {
            Some(m) => super::serialize(m, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<TopicPartition, V>>, D::Error> {
        let rows: Option<Vec<Row<V>>> = Option::deserialize(d)?;
        Ok(rows.map(|rows| {
            rows.into_iter()
                .map(|r| (TopicPartition::new(r.topic, r.partition), r.value))
                .collect()
        }))
    }
}
