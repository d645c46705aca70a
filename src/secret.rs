//! A secret value (a password, a token, a header value from `headers-env`) that formats as
//! `***`: in `Debug`, in `Display`, and so in any log line, journal record, report or error
//! message that holds one by mistake.
//!
//! [`Secret::expose`] is the one way out, for the one place that must send the value (an HTTP
//! header, a client, a hook's environment). `Secret` must not implement `Serialize`, `Deref` or
//! `AsRef<str>`: each would be a second way out that a reviewer does not see.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; [`Secret::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it (an HTTP header, a client).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_stars_and_exposes_only_on_request() {
        let secret = Secret::new("pw-S3CRET");
        let shown = format!("{secret} {secret:?} {secret:#?} {:?}", Some(&secret));
        assert_eq!(shown, "*** *** *** Some(***)");
        assert_eq!(secret.expose(), "pw-S3CRET");
    }
}
