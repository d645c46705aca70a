//! One answer of the link's REST API: its body read up to a limit, so that an endless or huge
//! answer cannot exhaust memory, and the few hundred characters of an error answer that an
//! error message repeats.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// Most bytes cutover reads of one answer, and of all the pages of one collection together.
/// A link's largest answer (its mirror topics, with a lag per partition) is a few MiB for
/// thousands of topics; a longer body is refused after this many bytes, never held whole.
pub(super) const MAX_ANSWER_BYTES: usize = 64 << 20;

/// One HTTP answer, its body read up to a limit.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) retry_after: Option<Duration>,
    /// The body, or its first `limit` bytes when `too_long`.
    pub(super) body: Vec<u8>,
    /// The body is longer than the limit (announced or sent): the rest was not read.
    pub(super) too_long: bool,
}

/// Sends the request and reads at most `limit` bytes of the answer's body, so that an endless
/// or huge answer cannot exhaust memory.
pub(super) async fn exchange(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Answer, reqwest::Error> {
    let mut response = request.send().await?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = Vec::new();
    let mut too_long = response
        .content_length()
        .is_some_and(|announced| announced > limit as u64);
    while !too_long {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let room = limit - body.len();
        too_long = chunk.len() > room;
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(Answer {
        status,
        retry_after,
        body,
        too_long,
    })
}

/// The operator-facing message of an error answer: the JSON `message` (with its
/// `error_code`), an HTML page's title (a 429 from a gateway is HTML), or the text itself; at
/// most [`MESSAGE_CHARS`] characters of it.
pub(super) fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) {
        let message = obj.get("message").and_then(Value::as_str).map(shortened);
        let code = obj.get("error_code").and_then(Value::as_i64);
        match (message, code) {
            (Some(m), Some(c)) => return format!("{m} (error code {c})"),
            (Some(m), None) => return m,
            (None, Some(c)) => return format!("error code {c}"),
            (None, None) => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let reason = status.canonical_reason().unwrap_or("no reason given");
    if text.is_empty() {
        return reason.to_string();
    }
    if text.starts_with('<') {
        let lower = text.to_ascii_lowercase();
        if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>")) {
            let title = text.get(start + "<title>".len()..end).unwrap_or("").trim();
            if !title.is_empty() {
                return shortened(title);
            }
        }
        return reason.to_string();
    }
    shortened(text)
}

/// Most characters of an error answer's text that an error message repeats.
pub(super) const MESSAGE_CHARS: usize = 300;

/// `text`, or its first [`MESSAGE_CHARS`] characters and `…`.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
