//! A change the link refuses, with the REST status, error code and message it answers with.

/// A change refused (a config, a mirror action), with the REST status and message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub error_code: i32,
    pub message: String,
}

impl Refusal {
    pub fn bad_request(message: String) -> Refusal {
        Refusal {
            status: 400,
            error_code: 40002,
            message,
        }
    }

    pub fn not_found(message: String) -> Refusal {
        Refusal {
            status: 404,
            error_code: 40403,
            message,
        }
    }

    /// The answer to an action on a topic the link does not mirror.
    pub fn not_a_mirror(topic: &str, link: &str) -> Refusal {
        Refusal {
            status: 404,
            error_code: 404,
            message: format!("Topic '{topic}' is not a mirror topic of link '{link}'"),
        }
    }
}
