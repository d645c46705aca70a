//! A journal's shared home beside its file (`[journal] store = "kafka"`): every record is
//! committed there before it is written to the file, so the records there are the truth every
//! agent shares, and the file is this host's copy of them.
//!
//! A [`Replica`] keeps each subject's lines in order under a key. It knows nothing of files: a
//! file's content is found again from the lines alone, because each line names the hash of the
//! line before it in its file (`prev`) and a file's first line names [`GENESIS`]. The current
//! file is the chain that ends at the last line ([`current_file`]); a run refused at its plan
//! is set aside, as the file store does, so the file before it is current again.
//!
//! Taking a subject ([`Replica::fence`]) makes this agent its only writer: an agent that wrote
//! it before has its next commit refused, so it cannot announce (and so cannot perform) another
//! side effect.

use serde::Deserialize;

use super::{line_hash, GENESIS};
use crate::error::{Error, Result};

/// Where a subject's journal lines are shared.
pub trait Replica: Send + Sync {
    /// Every committed line of `key`, in order. Reads only: takes nothing from anyone.
    fn read(&self, key: &str) -> Result<Vec<Vec<u8>>>;
    /// Becomes `key`'s only writer (idempotent for this agent): an earlier writer's next
    /// commit fails with [`Error::Fenced`].
    fn fence(&self, key: &str) -> Result<()>;
    /// Commits one line of `key` (without its line end) before returning. [`Error::Fenced`]
    /// when another agent took the subject since this one did.
    fn commit(&self, key: &str, line: &[u8]) -> Result<()>;
    /// Appends one line of `key` without taking it (a lease's queue, where every agent
    /// writes): committed, and so read by everyone, when it returns.
    fn append(&self, key: &str, line: &[u8]) -> Result<()>;
    /// Every committed line of each of `keys`, in one pass where the store can (a runbook
    /// stage's groups).
    fn read_keys(
        &self,
        keys: &std::collections::BTreeSet<String>,
    ) -> Result<std::collections::BTreeMap<String, Vec<Vec<u8>>>> {
        keys.iter()
            .map(|k| Ok((k.clone(), self.read(k)?)))
            .collect()
    }
    /// Where the lines are, for messages: "topic cutover-journal on the destination".
    fn describe(&self) -> String;
}

/// Runs `f` with `replica` on the runtime's blocking pool (a replica's calls block for round
/// trips to its store): the futures beside the caller in its task (the other cutovers of a
/// runbook stage) go on meanwhile. Without a runtime, on this thread.
pub async fn off_thread<T: Send + 'static>(
    replica: &std::sync::Arc<dyn Replica>,
    f: impl FnOnce(&dyn Replica) -> Result<T> + Send + 'static,
) -> Result<T> {
    let replica = replica.clone();
    if tokio::runtime::Handle::try_current().is_err() {
        return f(replica.as_ref());
    }
    tokio::task::spawn_blocking(move || f(replica.as_ref()))
        .await
        .map_err(|e| Error::Internal(format!("a journal store call stopped: {e}")))?
}

/// What one line says about its place in a file and its run.
#[derive(Deserialize)]
struct Link {
    prev: Option<String>,
    run_id: String,
    #[serde(rename = "type")]
    kind: String,
    outcome: Option<String>,
    effect: Option<String>,
}

/// The lines of the current file, from the shared lines of one subject: the chain of `prev`
/// hashes that ends at the last line, back to its file's first line. A chain that is one run,
/// refused before any stop hook began, was set aside by the agent that wrote it (the file
/// store keeps the previous file current then): the chain that ends just before it is current.
pub fn current_file(key: &str, lines: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
    let links: Vec<Link> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|e| {
                Error::Journal(format!(
                    "record {} of {key}'s shared journal is not a journal record: {e}",
                    i + 1
                ))
            })
        })
        .collect::<Result<_>>()?;
    let hashes: std::collections::HashMap<String, usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (line_hash(l), i))
        .collect();
    let mut end = lines.len();
    loop {
        let Some(last) = end.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let mut chain = vec![last];
        let mut at = last;
        loop {
            let prev = links[at].prev.as_deref().ok_or_else(|| {
                Error::Journal(format!(
                    "record {} of {key}'s shared journal has no `prev`: it was not written by a cutover that shares its journal",
                    at + 1
                ))
            })?;
            if prev == GENESIS {
                break;
            }
            at = match hashes.get(prev) {
                Some(&i) if i < at => i,
                _ => {
                    return Err(Error::Journal(format!(
                        "record {} of {key}'s shared journal follows a record that is not there before it: the shared journal is damaged",
                        at + 1
                    )))
                }
            };
            chain.push(at);
        }
        chain.reverse();
        let first = chain[0];
        if set_aside(&links, &chain) && first > 0 {
            end = first;
            continue;
        }
        return Ok(chain.into_iter().map(|i| lines[i].clone()).collect());
    }
}

/// A chain that is one run refused before a stop hook began, written as a file of its own.
fn set_aside(links: &[Link], chain: &[usize]) -> bool {
    let run = &links[chain[0]].run_id;
    let last = &links[chain[chain.len() - 1]];
    chain.iter().all(|&i| &links[i].run_id == run)
        && last.kind == "finished"
        && last.outcome.as_deref() == Some("refused")
        && !chain
            .iter()
            .any(|&i| links[i].kind == "intent" && links[i].effect.as_deref() == Some("hook:stop"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file's lines, chained: (run, type, extra fields).
    fn file(records: &[(&str, &str, &str)], after: Option<&[u8]>) -> Vec<Vec<u8>> {
        let mut prev = after.map_or(GENESIS.to_string(), line_hash);
        records
            .iter()
            .map(|(run, kind, extra)| {
                let line = format!(
                    r#"{{"v":2,"seq":1,"prev":"{prev}","ts_ms":0,"run_id":"{run}","group":"g","type":"{kind}"{extra}}}"#
                )
                .into_bytes();
                prev = line_hash(&line);
                line
            })
            .collect()
    }

    #[test]
    fn the_current_file_is_the_chain_ending_at_the_last_line() {
        let old = file(
            &[
                ("r1", "started", ""),
                ("r1", "finished", r#","outcome":"done""#),
            ],
            None,
        );
        let new = file(
            &[("r2", "started", ""), ("r2", "note", r#","message":"m""#)],
            None,
        );
        let all: Vec<Vec<u8>> = old.iter().chain(&new).cloned().collect();
        assert_eq!(current_file("g", &all).unwrap(), new);
        assert!(current_file("g", &[]).unwrap().is_empty());
    }

    #[test]
    fn a_run_refused_at_its_plan_leaves_the_file_before_it_current() {
        let old = file(
            &[
                ("r1", "started", ""),
                ("r1", "finished", r#","outcome":"done""#),
            ],
            None,
        );
        let refused = file(
            &[
                ("r2", "started", ""),
                ("r2", "finished", r#","outcome":"refused""#),
            ],
            None,
        );
        let all: Vec<Vec<u8>> = old.iter().chain(&refused).cloned().collect();
        assert_eq!(current_file("g", &all).unwrap(), old);
        // The previous file goes on after the refusal: its chain is current.
        let more = file(
            &[("r1", "note", r#","message":"m""#)],
            old.last().map(Vec::as_slice),
        );
        let all: Vec<Vec<u8>> = all.iter().chain(&more).cloned().collect();
        let expected: Vec<Vec<u8>> = old.iter().chain(&more).cloned().collect();
        assert_eq!(current_file("g", &all).unwrap(), expected);
        // A refusal after a stop began is a run of its own.
        let stopped = file(
            &[
                ("r3", "started", ""),
                ("r3", "intent", r#","effect":"hook:stop""#),
                ("r3", "finished", r#","outcome":"refused""#),
            ],
            None,
        );
        let all: Vec<Vec<u8>> = old.iter().chain(&stopped).cloned().collect();
        assert_eq!(current_file("g", &all).unwrap(), stopped);
    }

    #[test]
    fn a_line_whose_previous_is_missing_is_damage_not_a_guess() {
        let lines = file(
            &[("r1", "started", ""), ("r1", "note", r#","message":"m""#)],
            None,
        );
        let err = current_file("g", &lines[1..]).unwrap_err().to_string();
        assert!(err.contains("the shared journal is damaged"), "{err}");
        let err = current_file("g", &[b"not json".to_vec()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a journal record"), "{err}");
    }
}
