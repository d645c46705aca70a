//! What librdkafka says about its connections, made visible: its log lines and global errors
//! go to `tracing` (target `librdkafka`; `-v` shows its errors and warnings, `-vv` its notices),
//! and the
//! last error is kept so a failed request can name its cause — the broker address and
//! librdkafka's reason ("Connect to ipv4#127.0.0.1:1 failed: Connection refused", a DNS or TLS
//! failure, an authentication error) — instead of a bare timeout. A client that cannot reach
//! any broker at all says so at once ([`ClientLog::unreachable`]), which lets a command fail
//! within a few seconds.

use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::Notify;

use crate::model::Role;

#[derive(Debug, Default)]
struct Shared {
    /// librdkafka's last global error, with its reason.
    last_error: Mutex<Option<String>>,
    /// Set once no broker can be reached (all brokers down, a name that does not resolve, TLS
    /// or authentication failing).
    unreachable: Mutex<Option<String>>,
    changed: Notify,
}

/// The context of cutover's librdkafka clients; clones share what they heard.
#[derive(Debug, Clone)]
pub struct ClientLog {
    role: Role,
    shared: Arc<Shared>,
}

impl ClientLog {
    pub fn new(role: Role) -> ClientLog {
        ClientLog {
            role,
            shared: Arc::default(),
        }
    }

    /// librdkafka's last global error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().ok()?.clone()
    }

    /// Resolves with librdkafka's reason once no broker of the cluster can be reached.
    pub async fn unreachable(&self) -> String {
        loop {
            let notified = self.shared.changed.notified();
            if let Some(reason) = self.shared.unreachable.lock().ok().and_then(|u| u.clone()) {
                return reason;
            }
            notified.await;
        }
    }
}

/// Errors after which no request can succeed until the network, DNS, TLS or credentials
/// change.
fn cannot_connect(code: Option<RDKafkaErrorCode>) -> bool {
    matches!(
        code,
        Some(
            RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::SSL
                | RDKafkaErrorCode::Authentication
        )
    )
}

impl ClientContext for ClientLog {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let role = self.role.to_string();
        let role = role.as_str();
        // Connection failures (facility FAIL: refused, DNS, TLS, SASL) carry the broker's
        // address and the reason: the cause a failed request should name.
        if fac == "FAIL" || (level as i32) <= (RDKafkaLogLevel::Error as i32) {
            if let Ok(mut last) = self.shared.last_error.lock() {
                *last = Some(log_message.to_string());
            }
        }
        // One notch below cutover's own messages: `-v` shows librdkafka's errors and warnings,
        // `-vv` its notices; the command's own error already names the cause.
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::info!(target: "librdkafka", role, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::debug!(target: "librdkafka", role, facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::trace!(target: "librdkafka", role, facility = fac, "{log_message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let role = self.role.to_string();
        let role = role.as_str();
        let code = error.rdkafka_error_code();
        if reason.is_empty() {
            // The same error, seen again on the consumer queue without its reason.
            tracing::debug!(target: "librdkafka", role, "{error}");
        } else {
            tracing::info!(target: "librdkafka", role, "{error}: {reason}");
        }
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_string()
        };
        if let Ok(mut last) = self.shared.last_error.lock() {
            // Keep the most precise reason: a broker's own (with its address) over "1/1
            // brokers are down", and any reason over none.
            let vaguer = code == Some(RDKafkaErrorCode::AllBrokersDown) || reason.is_empty();
            if !vaguer || last.is_none() {
                *last = Some(text.clone());
            }
        }
        if cannot_connect(code) {
            let reason = self.last_error().unwrap_or(text);
            if let Ok(mut u) = self.shared.unreachable.lock() {
                *u = Some(reason);
            }
            self.shared.changed.notify_waiters();
        }
    }
}

impl ConsumerContext for ClientLog {}
