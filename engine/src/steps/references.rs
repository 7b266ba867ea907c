//! What a template or expression may name, checked while a flow is validated: `steps.<id>`
//! an earlier step and one of its outputs, `config.<key>` and `templates.<name>` what the flow
//! or module declares, `contact.*`, `tenant.*` and `event.*` the fields those have.

use super::context::CheckCx;

impl CheckCx<'_> {
    /// `steps.<id>` must name an earlier step; `config.<key>` a declared key (modules);
    /// `contact.*`, `tenant.*` and `event.*` a field those have.
    pub(super) fn check_references(&mut self, field: &str, source: &str) {
        for message in super::fields::unknown_fields(source) {
            self.error(field, message);
        }
        self.check_step_references(field, source, "");
        let declared = [
            ("config", self.sink.config_keys.clone()),
            (
                "templates",
                self.sink.copy.as_ref().map(|c| c.keys().cloned().collect()),
            ),
        ];
        for (what, keys) in declared {
            let Some(keys) = keys else { continue };
            let prefix = format!("{what}.");
            let unknown: Vec<String> = references(source, &prefix)
                .filter(|k| !keys.iter().any(|c| c == k))
                .map(str::to_owned)
                .collect();
            for key in unknown {
                let hint = if what == "config" {
                    "declare it under the flow's `config.properties` (a module's under its `config`)"
                } else {
                    "declare it under the module's `templates`"
                };
                self.error(field, format!("{what}.{key} is not declared: {hint}"));
            }
        }
    }

    /// `steps.<id>` in `source` names a step before this one, and `steps.<id>.<field>` one of
    /// its outputs; `context` prefixes the message.
    pub(super) fn check_step_references(&mut self, field: &str, source: &str, context: &str) {
        for (name, output) in step_references(source) {
            let Some(step) = self.sink.earlier_steps.iter().find(|s| s.id == name) else {
                let known = if self.sink.earlier_steps.is_empty() {
                    "no step comes before this one".to_owned()
                } else {
                    let ids: Vec<&str> = self
                        .sink
                        .earlier_steps
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect();
                    format!("earlier steps: {}", ids.join(", "))
                };
                self.error(
                    field,
                    format!("{context}steps.{name} does not name an earlier step ({known})"),
                );
                continue;
            };
            let (Some(output), Some(outputs), true) =
                (output, &step.outputs, self.sink.check_outputs)
            else {
                continue;
            };
            let mut known: Vec<&str> = outputs.iter().map(String::as_str).collect();
            for failed in super::FAILED_OUTPUTS {
                if !known.contains(&failed) {
                    known.push(failed);
                }
            }
            if known.contains(&output) {
                continue;
            }
            let nearest = known
                .iter()
                .map(|f| (strsim::levenshtein(f, output), *f))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, f)| format!(" (did you mean `{f}`?)"))
                .unwrap_or_default();
            let message = format!(
                "{context}steps.{name}.{output} is not an output of `{name}`{nearest}; a {} step gives {}",
                step.kind,
                known.join(", ")
            );
            self.error(field, message);
        }
    }
}

/// Each `steps.<id>` in `source` with the field read from it, if any
/// (`steps.booked.timed_out` → (`booked`, `timed_out`)).
fn step_references(source: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    references(source, "steps.").map(move |id| {
        // `id` is a slice of `source`; what follows it decides whether a field is read.
        let end = id.as_ptr() as usize - source.as_ptr() as usize + id.len();
        let field = source[end..].strip_prefix('.').and_then(|rest| {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (len > 0 && !rest[len..].starts_with('(')).then(|| &rest[..len])
        });
        (id, field)
    })
}

/// Identifiers following `prefix` in `source` (`steps.` → `booked` in `steps.booked.timed_out`).
pub fn references<'s>(source: &'s str, prefix: &'s str) -> impl Iterator<Item = &'s str> + 's {
    source.match_indices(prefix).filter_map(move |(at, _)| {
        let before = source[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            return None;
        }
        let rest = &source[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}
