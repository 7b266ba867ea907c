//! What a writer changed in a contact, to be applied to the contact's latest stored version
//! rather than to the copy the writer read. A run that tags a contact, or an admin's PATCH,
//! then never undoes what another writer did in between: above all an opt-out, which a
//! change can set but never clear.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Contact;

/// The difference between two versions of a contact, field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactChange {
    /// Named fields set to a value, or cleared (`null`).
    pub set: Map<String, Value>,
    /// Custom fields set to a value, or removed (`null`).
    pub fields: Map<String, Value>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
}

/// The named fields a change carries (the id never changes; tags and custom fields are
/// changed one by one).
const NAMED: [&str; 7] = [
    "phone",
    "email",
    "first_name",
    "last_name",
    "timezone",
    "sms_opt_out",
    "email_opt_out",
];

impl ContactChange {
    /// What turns `before` into `after`.
    pub fn between(before: &Contact, after: &Contact) -> Self {
        let (old, new) = (as_map(before), as_map(after));
        let mut change = Self::default();
        for name in NAMED {
            let value = new.get(name).cloned().unwrap_or(Value::Null);
            if old.get(name).cloned().unwrap_or(Value::Null) != value {
                change.set.insert(name.to_owned(), value);
            }
        }
        for (key, value) in &after.fields {
            if before.fields.get(key) != Some(value) {
                change.fields.insert(key.clone(), value.clone());
            }
        }
        for key in before.fields.keys() {
            if !after.fields.contains_key(key) {
                change.fields.insert(key.clone(), Value::Null);
            }
        }
        change.tags_added = new_items(&after.tags, &before.tags);
        change.tags_removed = new_items(&before.tags, &after.tags);
        change
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.fields.is_empty()
            && self.tags_added.is_empty()
            && self.tags_removed.is_empty()
    }

    /// `contact` with this change made. An opt-out set on `contact` stays set: consent comes
    /// back only by the contact's own act, never by a change made from an older copy.
    pub fn apply_to(&self, contact: &Contact) -> Contact {
        let mut map = as_map(contact);
        for (name, value) in &self.set {
            match value {
                Value::Null => map.remove(name),
                value => map.insert(name.clone(), value.clone()),
            };
        }
        let mut changed: Contact = serde_json::from_value(Value::Object(map))
            // Every key set was read from a Contact, so the map still is one.
            .unwrap_or_else(|_| contact.clone());
        changed.id.clone_from(&contact.id);
        changed.sms_opt_out |= contact.sms_opt_out;
        changed.email_opt_out |= contact.email_opt_out;
        for (key, value) in &self.fields {
            match value {
                Value::Null => changed.fields.remove(key),
                value => changed.fields.insert(key.clone(), value.clone()),
            };
        }
        changed.tags.retain(|t| !self.tags_removed.contains(t));
        for tag in &self.tags_added {
            if !changed.tags.contains(tag) {
                changed.tags.push(tag.clone());
            }
        }
        changed
    }
}

fn as_map(contact: &Contact) -> Map<String, Value> {
    match serde_json::to_value(contact) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The items of `these` not in `those`, in order.
fn new_items(these: &[String], those: &[String]) -> Vec<String> {
    these
        .iter()
        .filter(|t| !those.contains(t))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ana() -> Contact {
        Contact {
            id: "ana".into(),
            phone: Some("+15125550100".into()),
            first_name: Some("Ana".into()),
            tags: vec!["lead".into()],
            fields: Map::from_iter([("plan".to_owned(), json!("basic"))]),
            ..Contact::default()
        }
    }

    #[test]
    fn a_change_made_from_an_old_copy_keeps_what_others_did() {
        let read = ana();
        let mut mine = read.clone();
        mine.first_name = Some("Ana María".into());
        mine.tags.push("hot".into());
        mine.fields.insert("score".into(), json!(9));
        let change = ContactChange::between(&read, &mine);

        // Meanwhile someone else opted Ana out, tagged her and set a field.
        let mut theirs = read.clone();
        theirs.sms_opt_out = true;
        theirs.tags.push("vip".into());
        theirs.fields.insert("source".into(), json!("ad"));

        let merged = change.apply_to(&theirs);
        assert_eq!(merged.first_name.as_deref(), Some("Ana María"));
        assert!(merged.sms_opt_out, "an opt-out made meanwhile stays");
        assert_eq!(merged.tags, ["lead", "vip", "hot"]);
        assert_eq!(merged.fields["source"], "ad");
        assert_eq!(merged.fields["score"], 9);
        assert_eq!(merged.fields["plan"], "basic");
    }

    #[test]
    fn removals_and_clears_carry_over() {
        let read = ana();
        let mut mine = read.clone();
        mine.phone = None;
        mine.tags.clear();
        mine.fields.clear();
        let change = ContactChange::between(&read, &mine);
        assert_eq!(change.apply_to(&read), mine);
        assert!(ContactChange::between(&read, &read).is_empty());
    }

    #[test]
    fn a_change_never_clears_an_opt_out() {
        let mut opted_out = ana();
        opted_out.sms_opt_out = true;
        let mut cleared = opted_out.clone();
        cleared.sms_opt_out = false;
        let change = ContactChange::between(&opted_out, &cleared);
        assert!(change.apply_to(&opted_out).sms_opt_out);
    }
}
