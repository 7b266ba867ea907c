//! How a call failed, which decides what the runtime does next. One classification for every
//! connector: the runtime retries [`ConnectorError::Retryable`] with backoff, fails the step on
//! [`ConnectorError::Permanent`] (and on [`ConnectorError::Rejected`], suppressing the address),
//! and never blindly repeats [`ConnectorError::Uncertain`].
//! Messages never hold a credential's value.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// Worth another attempt (timeouts before sending, 429, 5xx), optionally not before
    /// `retry_after`.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail again (bad request, unsubscribed recipient); `code` is the provider's.
    #[error("{message} (code {code})")]
    Permanent { code: String, message: String },
    /// The recipient refuses messages at this address (Twilio 21610: they replied STOP; an
    /// SMTP hard bounce): permanent, and the runtime puts the address on the tenant's
    /// suppression list so no flow tries it again.
    #[error("{message} (code {code})")]
    Rejected { code: String, message: String },
    /// The provider may or may not have acted (a timeout after the request was sent).
    #[error("{message}")]
    Uncertain { message: String },
}

impl ConnectorError {
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        ConnectorError::Permanent {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        ConnectorError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// The provider's code of a permanent error (`21610`), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ConnectorError::Permanent { code, .. } | ConnectorError::Rejected { code, .. } => {
                Some(code)
            }
            _ => None,
        }
    }
}
