//! How long each kind of rendered text may be. Renders stop at the limit (a tenant's snippets
//! cannot expand a small settings patch into megabytes), and publishing refuses a text that
//! can never fit.

/// A length limit with what it limits, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The most characters the text may have.
    pub chars: usize,
    /// What the text is, e.g. "an SMS body".
    pub what: &'static str,
}

/// An SMS body: 1,600 characters is the most a carrier-grade provider takes in one message
/// (Twilio: 10 segments of 160 GSM-7 characters).
pub const SMS_BODY: Limit = Limit {
    chars: 1_600,
    what: "an SMS body",
};

/// An email subject (RFC 5322 allows 998 characters on a line).
pub const EMAIL_SUBJECT: Limit = Limit {
    chars: 998,
    what: "an email subject",
};

/// An email body.
pub const EMAIL_BODY: Limit = Limit {
    chars: 100_000,
    what: "an email body",
};

/// A staff notification (Slack shows at most 4,000 characters of a message's text).
pub const NOTIFY_TEXT: Limit = Limit {
    chars: 4_000,
    what: "a notification",
};

/// The body of an `http` step's request, and an `llm` prompt.
pub const REQUEST_BODY: Limit = Limit {
    chars: 100_000,
    what: "a request body",
};

/// Any other text: addresses, URLs, headers, tags, contact fields, reasons.
pub const DEFAULT: Limit = Limit {
    chars: 10_000,
    what: "this field",
};
