//! Where a group resumes on a copy that does not keep the origin's offsets (a replicator's),
//! found by time, and what that costs, computed from the data. Pure: the reads are the
//! caller's.
//!
//! The group's committed offset `C` on an origin partition names the next record to read; the
//! record before it (`C − 1`) is the last it processed, with timestamp `T`. On the copy, the
//! records with timestamp `T` begin at `D(T)` (ListOffsets by time) and end before `D(T+1)`.
//! Which of them the group processed cannot be told by offset, so one of two explicit modes
//! decides:
//!
//! - **rewind** starts at `D(T)`: no record is skipped; the records with timestamp `T` that
//!   the group had processed (`C − O(T)`, counted on the origin) are read again;
//! - **skip** starts at `D(T+1)`: no record is read twice; the records with timestamp `T` the
//!   group had not processed yet (`O(T+1) − C`, counted on the origin) are skipped.
//!
//! Both counts hold when timestamps do not decrease along a partition and the copy keeps each
//! partition's order (a replicator copying partition to partition does); when the copy holds
//! a different number of records at `T` than the origin, the translation says so
//! (`copy_differs`) and the counts describe the origin's records. A group that processed
//! nothing (its offset at the origin's log start) starts at the copy's first record at or
//! after the origin's first record's time, in either mode.

use serde::{Deserialize, Serialize};

use crate::model::Offset;

/// The two explicit modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No gap: may read records twice.
    Rewind,
    /// No duplicate: may skip records.
    Skip,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Rewind => "rewind",
            Mode::Skip => "skip",
        }
    }
}

/// What was read for one partition. Offsets by time are `None` when no record is at or after
/// that time (the partition's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByTime {
    /// The group's committed offset on the origin.
    pub committed: Offset,
    /// The timestamp of the origin's record at `committed − 1` (the last processed).
    pub last_time: i64,
    /// Origin: first offsets with a timestamp ≥ `last_time`, and > it.
    pub origin_at: Option<Offset>,
    pub origin_after: Option<Offset>,
    /// The origin's log end (where `origin_after` is `None`).
    pub origin_end: Offset,
    /// The copy: the same two reads, and its end.
    pub copy_at: Option<Offset>,
    pub copy_after: Option<Offset>,
    pub copy_end: Offset,
}

/// Where the group starts on the copy, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translation {
    pub start: Offset,
    /// Records the group will read a second time (rewind).
    pub read_twice: i64,
    /// Records the group will never read (skip).
    pub skipped: i64,
    /// The copy holds a different number of records with the last processed timestamp than
    /// the origin: the counts describe the origin's.
    pub copy_differs: bool,
}

/// One partition's translation, as journaled and reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionTranslation {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset on the origin.
    pub committed: Offset,
    /// The timestamp of the last record it processed there (ms since the epoch).
    pub last_time: i64,
    /// The copy's topic.
    pub copy_topic: String,
    #[serde(flatten)]
    pub translation: Translation,
}

/// How far a record's offset on the copy is below its offset on the origin, where the reads
/// can tell: from the records of the last processed timestamp when the copy holds as many as
/// the origin, else from the first records after it. `None` when neither can be told (the
/// copy lacks records at that time and none follow on both sides).
pub fn record_difference(b: &ByTime) -> Option<i64> {
    let at = |o: Option<Offset>, end: Offset| o.unwrap_or(end).get();
    let origin_count = at(b.origin_after, b.origin_end) - at(b.origin_at, b.origin_end);
    let copy_count = at(b.copy_after, b.copy_end) - at(b.copy_at, b.copy_end);
    if origin_count == copy_count {
        return Some(at(b.origin_at, b.origin_end) - at(b.copy_at, b.copy_end));
    }
    Some(b.origin_after?.get() - b.copy_after?.get())
}

/// Translates one partition's committed offset onto the copy.
pub fn translate(b: &ByTime, mode: Mode) -> Translation {
    let origin_at = b.origin_at.unwrap_or(b.origin_end).get();
    let origin_after = b.origin_after.unwrap_or(b.origin_end).get();
    let copy_at = b.copy_at.unwrap_or(b.copy_end).get();
    let copy_after = b.copy_after.unwrap_or(b.copy_end).get();
    let processed_at_t = (b.committed.get() - origin_at).max(0);
    let unprocessed_at_t = (origin_after - b.committed.get()).max(0);
    let copy_differs = copy_after - copy_at != origin_after - origin_at;
    match mode {
        Mode::Rewind => Translation {
            start: Offset(copy_at),
            read_twice: processed_at_t,
            skipped: 0,
            copy_differs,
        },
        Mode::Skip => Translation {
            start: Offset(copy_after),
            read_twice: 0,
            skipped: unprocessed_at_t,
            copy_differs,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Origin partition: timestamps 10, 20, 20, 20, 30 at offsets 0..5; the copy holds the
    /// same records at offsets 100..105 (it started later in its own log).
    fn read(committed: i64) -> ByTime {
        ByTime {
            committed: Offset(committed),
            last_time: 20,
            origin_at: Some(Offset(1)),
            origin_after: Some(Offset(4)),
            origin_end: Offset(5),
            copy_at: Some(Offset(101)),
            copy_after: Some(Offset(104)),
            copy_end: Offset(105),
        }
    }

    #[test]
    fn rewind_reads_again_the_processed_records_of_the_last_timestamp_and_skip_skips_the_others() {
        // The group processed offsets 0..3 (10, 20, 20): one record at 20 is left.
        let b = read(3);
        assert_eq!(
            translate(&b, Mode::Rewind),
            Translation {
                start: Offset(101),
                read_twice: 2,
                skipped: 0,
                copy_differs: false
            }
        );
        assert_eq!(
            translate(&b, Mode::Skip),
            Translation {
                start: Offset(104),
                read_twice: 0,
                skipped: 1,
                copy_differs: false
            }
        );
        // Having processed every record at 20, skip loses nothing and rewind repeats three.
        let all = read(4);
        assert_eq!(translate(&all, Mode::Skip).skipped, 0);
        assert_eq!(translate(&all, Mode::Rewind).read_twice, 3);
    }

    #[test]
    fn a_last_timestamp_at_the_end_and_a_copy_that_differs_are_said() {
        // The last processed record is the partition's last: nothing after it anywhere.
        let b = ByTime {
            committed: Offset(5),
            last_time: 30,
            origin_at: Some(Offset(4)),
            origin_after: None,
            origin_end: Offset(5),
            copy_at: Some(Offset(104)),
            copy_after: None,
            copy_end: Offset(105),
        };
        assert_eq!(translate(&b, Mode::Skip).start, Offset(105));
        assert_eq!(translate(&b, Mode::Skip).skipped, 0);
        assert_eq!(translate(&b, Mode::Rewind).read_twice, 1);
        // The copy lacks one of the records at 20 (still copying, or filtered).
        let short = ByTime {
            copy_after: Some(Offset(103)),
            ..read(3)
        };
        assert!(translate(&short, Mode::Rewind).copy_differs);
        assert!(!translate(&read(3), Mode::Rewind).copy_differs);
        // The records' offsets differ by 100: told by the records at 20, or, when the copy
        // lacks one of those, by the first record after them; not at all past both ends.
        assert_eq!(record_difference(&read(3)), Some(-100));
        assert_eq!(record_difference(&short), Some(-99));
        let nothing_after = ByTime {
            origin_after: None,
            copy_after: None,
            copy_end: Offset(104),
            ..short
        };
        assert_eq!(record_difference(&nothing_after), None);
    }
}
