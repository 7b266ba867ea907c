//! Every step kind, one line each. Adding a kind: a folder beside this file and a line here.

use super::erased::{ErasedKind, Kind};
use super::{
    calendar, crm, http, llm, notify, send_email, send_sms, set, stop, tag, update_contact, wait,
    wait_for,
};

static KINDS: [&dyn ErasedKind; 13] = [
    &Kind::<send_sms::SendSms>::NEW,
    &Kind::<send_email::SendEmail>::NEW,
    &Kind::<notify::Notify>::NEW,
    &Kind::<http::Http>::NEW,
    &Kind::<crm::Crm>::NEW,
    &Kind::<calendar::Calendar>::NEW,
    &Kind::<llm::Llm>::NEW,
    &Kind::<wait::Wait>::NEW,
    &Kind::<wait_for::WaitFor>::NEW,
    &Kind::<set::Set>::NEW,
    &Kind::<tag::Tag>::NEW,
    &Kind::<update_contact::UpdateContact>::NEW,
    &Kind::<stop::Stop>::NEW,
];

/// All registered kinds (the `if` branch is structural and not among them).
pub fn kinds() -> &'static [&'static dyn ErasedKind] {
    &KINDS
}

/// The kind registered under `key`.
pub fn find(key: &str) -> Option<&'static dyn ErasedKind> {
    KINDS.iter().copied().find(|k| k.key() == key)
}
