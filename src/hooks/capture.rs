//! A hook's output, bounded in memory as it is read and redacted before anyone sees it: the
//! head and the tail of each stream, a marker saying how much was cut between them, and every
//! secret of the hooks replaced by `***`, even one that crosses a cut.
//!
//! Nothing here may show a secret or any part of one; nothing here decides anything.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

use super::template::quoted;
use crate::secret::Secret;

/// Most bytes of stdout, and of stderr, a report keeps: the head and the tail, with a marker
/// saying how much was cut in between.
const OUTPUT_CAP: usize = 16 * 1024;
/// Room left under [`OUTPUT_CAP`] for the marker.
const MARKER_ROOM: usize = 64;
/// Bytes kept at each end of a longer output.
const KEEP_EACH_END: usize = (OUTPUT_CAP - MARKER_ROOM) / 2;
/// How long output is still read after the hook's process exited. A process the hook left
/// running in the background can hold the pipes open for ever; the report must not wait on it.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Every secret value of the hooks, as written and as it reads once JSON-escaped (how
/// descriptions quote arguments, and how a hook printing JSON would show it), longest first so
/// that a secret holding another is replaced whole.
///
/// No `Debug`: it would print the secrets.
pub(super) struct Redaction {
    secrets: Vec<String>,
}

impl Redaction {
    pub(super) fn new<'a>(values: impl Iterator<Item = &'a Secret>) -> Redaction {
        let mut secrets = Vec::new();
        for secret in values.map(Secret::expose) {
            if secret.is_empty() {
                continue;
            }
            secrets.push(secret.to_string());
            let escaped = quoted(secret);
            let escaped = escaped
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .unwrap_or(&escaped);
            if escaped != secret {
                secrets.push(escaped.to_string());
            }
        }
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redaction { secrets }
    }

    /// How many texts are redacted (a secret may count twice: as written and escaped).
    pub(super) fn len(&self) -> usize {
        self.secrets.len()
    }

    /// The secrets, longest first, for [`Capture::render`].
    pub(super) fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// `text` with every secret replaced by `***`.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// The longest secret, in bytes: how far past a cut of the output a secret can reach.
    pub(super) fn margin(&self) -> usize {
        self.secrets.first().map_or(0, String::len)
    }
}

/// The mutex's value even when a panicking reader poisoned it: a capture stays usable.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads one output stream of a hook into a [`Capture`], in a task of its own so that a
/// chatty hook never blocks on a full pipe while cutover waits for it to exit.
pub(super) struct Reader {
    capture: Arc<Mutex<Capture>>,
    task: Option<JoinHandle<()>>,
}

impl Reader {
    pub(super) fn start<R: AsyncRead + Unpin + Send + 'static>(
        stream: Option<R>,
        margin: usize,
    ) -> Reader {
        let capture = Arc::new(Mutex::new(Capture::new(margin)));
        let task = stream.map(|mut stream| {
            let capture = capture.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => lock(&capture).push(&buf[..n]),
                    }
                }
            })
        });
        Reader { capture, task }
    }

    /// The captured output, once the stream ended or [`PIPE_GRACE`] passed.
    pub(super) async fn finish(mut self, secrets: &[String]) -> String {
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(PIPE_GRACE, &mut task).await.is_err() {
                task.abort();
                lock(&self.capture).still_open = true;
            }
        }
        let capture = lock(&self.capture);
        capture.render(secrets)
    }
}

/// Output bounded in memory as it arrives: the first and the last bytes, and a count.
///
/// Each end keeps `margin` bytes (the longest secret) more than it shows, so that a secret
/// crossing a cut is still seen whole, redacted whole, and never shown in part.
#[derive(Debug)]
pub(super) struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: usize,
    /// Bytes each end keeps.
    keep: usize,
    /// The stream was still open when reading stopped.
    still_open: bool,
}

impl Capture {
    pub(super) fn new(margin: usize) -> Capture {
        Capture {
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
            keep: KEEP_EACH_END + margin,
            still_open: false,
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len());
        let room = self.keep.saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        if rest.len() >= self.keep {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.keep..]);
        } else {
            self.tail.extend(rest);
            let excess = self.tail.len().saturating_sub(self.keep);
            self.tail.drain(..excess);
        }
    }

    /// The output as text (invalid UTF-8 replaced), secrets redacted, cut to about
    /// [`OUTPUT_CAP`] bytes.
    pub(super) fn render(&self, secrets: &[String]) -> String {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let dropped = self.total - self.head.len() - tail.len();
        let mut out = if dropped == 0 {
            let mut full = self.head.clone();
            full.extend_from_slice(&tail);
            let found = find_secrets(&full, secrets);
            let head_end = head_end(&full, &found);
            let tail_start = tail_start(&full, &found);
            if full.len() <= OUTPUT_CAP || head_end >= tail_start {
                redacted(&full, 0, full.len(), &found)
            } else {
                format!(
                    "{}{}{}",
                    redacted(&full, 0, head_end, &found),
                    cut_marker(tail_start - head_end),
                    redacted(&full, tail_start, full.len(), &found)
                )
            }
        } else {
            let head_found = find_secrets(&self.head, secrets);
            let tail_found = find_secrets(&tail, secrets);
            let head_end = head_end(&self.head, &head_found);
            let tail_start = tail_start(&tail, &tail_found);
            let cut = self.total - head_end - (tail.len() - tail_start);
            format!(
                "{}{}{}",
                redacted(&self.head, 0, head_end, &head_found),
                cut_marker(cut),
                redacted(&tail, tail_start, tail.len(), &tail_found)
            )
        };
        if self.still_open {
            out.push_str(&format!(
                "\n… still open {PIPE_GRACE:?} after the hook exited (a process it left running holds it): not read further …"
            ));
        }
        out
    }
}

fn cut_marker(bytes: usize) -> String {
    format!("\n… {bytes} bytes cut …\n")
}

/// Where each secret occurs in `buf`: sorted, non-overlapping `(start, end)` ranges, the
/// longest secret winning at a position (`secrets` is sorted longest first).
fn find_secrets(buf: &[u8], secrets: &[String]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    if secrets.is_empty() {
        return found;
    }
    let mut i = 0;
    'scan: while i < buf.len() {
        for secret in secrets {
            if buf[i..].starts_with(secret.as_bytes()) {
                found.push((i, i + secret.len()));
                i += secret.len();
                continue 'scan;
            }
        }
        i += 1;
    }
    found
}

/// Where the kept head of `buf` ends: after [`KEEP_EACH_END`] bytes, or after the secret that
/// crosses that point.
fn head_end(buf: &[u8], found: &[(usize, usize)]) -> usize {
    let mut end = KEEP_EACH_END.min(buf.len());
    for &(start, stop) in found {
        if start < end && end < stop {
            end = stop;
        }
    }
    end
}

/// Where the kept tail of `buf` starts: [`KEEP_EACH_END`] bytes before its end, or at the
/// secret that crosses that point.
fn tail_start(buf: &[u8], found: &[(usize, usize)]) -> usize {
    let mut begin = buf.len().saturating_sub(KEEP_EACH_END);
    for &(start, stop) in found {
        if start < begin && begin < stop {
            begin = start;
        }
    }
    begin
}

/// `buf[from..to]` as text with every secret found inside replaced by `***`.
fn redacted(buf: &[u8], from: usize, to: usize, found: &[(usize, usize)]) -> String {
    let mut out = Vec::with_capacity(to - from);
    let mut at = from;
    for &(start, stop) in found {
        if start < from || stop > to {
            continue;
        }
        out.extend_from_slice(&buf[at..start]);
        out.extend_from_slice(b"***");
        at = stop;
    }
    out.extend_from_slice(&buf[at..to]);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::testing::{ctx, hook, only, shell};
    use crate::hooks::{HookKind, Hooks};

    #[tokio::test]
    async fn long_output_keeps_its_head_and_tail() {
        let hooks = only(
            HookKind::Stop,
            hook(shell(
                "printf START; yes | head -c 100000; printf END; echo small >&2",
            )),
        );
        let report = hooks.run(HookKind::Stop, &ctx("g")).await;
        assert!(report.ok, "{:?}", report.error);
        assert!(report.stdout.len() <= OUTPUT_CAP, "{}", report.stdout.len());
        assert!(report.stdout.starts_with("STARTy\ny\n"));
        assert!(report.stdout.ends_with("y\ny\nEND"));
        let cut = 100_008 - 2 * KEEP_EACH_END;
        assert!(
            report.stdout.contains(&format!("\n… {cut} bytes cut …\n")),
            "{}",
            &report.stdout[KEEP_EACH_END - 10..KEEP_EACH_END + 40]
        );
        assert_eq!(report.stderr, "small\n");
    }

    #[test]
    fn a_secret_crossing_a_cut_is_never_shown_in_part() {
        let secret = "SECRET-0123456789";
        let secrets = vec![secret.to_string()];
        // Output that fits the buffers whole, and output long enough to be dropped in between.
        for total in [OUTPUT_CAP + 100, 200_000] {
            for at in [KEEP_EACH_END - 5, total - KEEP_EACH_END - 5] {
                let mut output = vec![b'x'; total];
                output[at..at + secret.len()].copy_from_slice(secret.as_bytes());
                let mut capture = Capture::new(secret.len());
                for chunk in output.chunks(1000) {
                    capture.push(chunk);
                }
                let text = capture.render(&secrets);
                assert!(text.contains("***"), "{total} {at}");
                for part in secret.as_bytes().windows(4) {
                    let part = std::str::from_utf8(part).unwrap();
                    assert!(!text.contains(part), "{total} {at}: {part} shown");
                }
                assert!(text.contains("bytes cut"));
            }
        }
        // Short output is kept whole, every secret redacted.
        let mut capture = Capture::new(secret.len());
        capture.push(format!("a {secret} b {secret}").as_bytes());
        assert_eq!(capture.render(&secrets), "a *** b ***");
    }
}
