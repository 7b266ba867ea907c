//! Carrier keywords in an inbound SMS. Only a message that is exactly the keyword counts
//! ("STOP PLEASE" does not), in any case, trimmed; a provider's own verdict (Twilio's
//! `OptOutType`, sent with Advanced Opt-Out) wins over our matching.

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop all messages from this business (STOP, UNSUBSCRIBE, …).
    OptOut,
    /// Messages again (START, YES, UNSTOP): only the person's own message lifts an opt-out.
    OptIn,
    /// Who is this and how do I stop it (HELP, INFO).
    Help,
}

/// Twilio's default opt-out keywords for long codes (Advanced Opt-Out documentation).
pub const OPT_OUT: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
pub const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];
pub const HELP: [&str; 2] = ["HELP", "INFO"];

/// The keyword `body` is, if any.
pub fn classify(body: &str, provider_verdict: Option<&str>) -> Option<Keyword> {
    match provider_verdict.map(str::to_ascii_uppercase).as_deref() {
        Some("STOP") => return Some(Keyword::OptOut),
        Some("START") => return Some(Keyword::OptIn),
        Some("HELP") => return Some(Keyword::Help),
        _ => {}
    }
    let word = body.trim().to_uppercase();
    if OPT_OUT.contains(&word.as_str()) {
        Some(Keyword::OptOut)
    } else if OPT_IN.contains(&word.as_str()) {
        Some(Keyword::OptIn)
    } else if HELP.contains(&word.as_str()) {
        Some(Keyword::Help)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_message_in_any_case_is_a_keyword() {
        for stop in [
            "STOP",
            "stop",
            " sToP \n",
            "Unsubscribe",
            "stopall",
            "optout",
            "Quit",
            "end",
            "cancel",
            "revoke",
        ] {
            assert_eq!(classify(stop, None), Some(Keyword::OptOut), "{stop:?}");
        }
        for start in ["start", "YES", "unstop "] {
            assert_eq!(classify(start, None), Some(Keyword::OptIn), "{start:?}");
        }
        assert_eq!(classify("help", None), Some(Keyword::Help));
        assert_eq!(classify("Info", None), Some(Keyword::Help));
        for not in [
            "STOP PLEASE",
            "please stop",
            "yes please",
            "",
            "stop.",
            "helpful",
        ] {
            assert_eq!(classify(not, None), None, "{not:?}");
        }
    }

    #[test]
    fn the_providers_verdict_wins() {
        assert_eq!(classify("arrête", Some("STOP")), Some(Keyword::OptOut));
        assert_eq!(classify("STOP", Some("START")), Some(Keyword::OptIn));
        assert_eq!(classify("hello", Some("help")), Some(Keyword::Help));
    }
}
