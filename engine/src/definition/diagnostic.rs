//! Diagnostics: what is wrong (or suspicious) in a document, where, and how to fix it.

use std::fmt;

use serde::Serialize;

/// Errors fail validation; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with its file, 1-based line and column, and the path inside the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: u64,
    pub column: u64,
    /// JSON pointer, e.g. `/steps/2/wait/for`.
    pub pointer: String,
    /// The same place written for people, e.g. `steps[2].wait.for`.
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic whose file and position are filled in later by the loader.
    pub fn new(severity: Severity, pointer: String, message: impl Into<String>) -> Self {
        let path = display_path(&pointer);
        Self {
            severity,
            file: String::new(),
            line: 0,
            column: 0,
            pointer,
            path,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let path = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        write!(
            f,
            "{}:{}:{}: {severity}: {path}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// `/steps/2/then/0/send_sms/body` → `steps[2].then[0].send_sms.body`.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_code() {
        assert_eq!(display_path("/steps/2/wait/for"), "steps[2].wait.for");
        assert_eq!(display_path(""), "");
        assert_eq!(
            display_path("/steps/0/http/headers/a~1b"),
            "steps[0].http.headers.a/b"
        );
    }
}
