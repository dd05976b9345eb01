//! Named corrections of mistakes in Asterisk's spec files.
//!
//! The vendored files stay byte-for-byte as Asterisk shipped them; their mistakes are corrected
//! here, after parsing. Each fix-up says what it corrects and reports how many places it changed,
//! so a fix-up that matches nothing anywhere in the corpus is caught as stale
//! ([`crate::Corpus::load`] fails) instead of lingering silently.

use crate::load::{RawRevision, Revision, SpecError};
use crate::swagger::{Parameter, Property};

/// One correction.
#[derive(Clone, Copy)]
pub struct Fixup {
    /// Short name, used in reports and errors.
    pub name: &'static str,
    /// What it corrects, and where Asterisk has the mistake.
    pub corrects: &'static str,
    apply: fn(&mut Revision) -> usize,
}

impl std::fmt::Debug for Fixup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixup").field("name", &self.name).finish()
    }
}

impl Fixup {
    /// Applies the fix-up; returns how many places it changed.
    pub fn apply(&self, rev: &mut Revision) -> usize {
        (self.apply)(rev)
    }
}

/// Every fix-up, in the order they are applied.
pub const FIXUPS: &[Fixup] = &[
    Fixup {
        name: "defalutValue",
        corrects: "parameters spelling `defaultValue` as `defalutValue`",
        apply: |rev| rename_param_key(rev, "defalutValue", |p, v| p.default_value = Some(v)),
    },
    Fixup {
        name: "descriptioni",
        corrects: "parameters spelling `description` as `descriptioni`",
        apply: |rev| {
            rename_param_key(rev, "descriptioni", |p, v| {
                p.description = v.as_str().map(str::to_owned)
            })
        },
    },
    Fixup {
        name: "events-claim-since",
        corrects: "`POST /events/claim` claiming `since` 20.17.0/22.7.0/23.1.0; the first releases \
                   that ship it are 20.20.0/22.10.0/23.4.0",
        apply: |rev| {
            let wrong = ["20.17.0", "22.7.0", "23.1.0"];
            let right = ["20.20.0", "22.10.0", "23.4.0"];
            let mut n = 0;
            for (res, decl) in &mut rev.resources {
                if res != "events" {
                    continue;
                }
                for op in decl.apis.iter_mut().flat_map(|a| a.operations.iter_mut()) {
                    if op.nickname == "claimChannel"
                        && op.since.as_deref().is_some_and(|s| s == wrong)
                    {
                        op.since = Some(right.iter().map(|s| s.to_string()).collect());
                        n += 1;
                    }
                }
            }
            n
        },
    },
    Fixup {
        name: "LiveRecording-repeated-properties",
        corrects: "`LiveRecording` listing `format` and `state` twice (12.0.0–12.4.0): the second \
                   entries win, as for a JSON reader that keeps the last value, without losing \
                   what only the first says (a description, the LIST of states)",
        apply: |rev| merge_repeated_properties(rev, "LiveRecording"),
    },
];

/// Merges each property that `model` lists more than once into its first entry: keys of a later
/// entry win, keys only an earlier one has are kept. Returns how many entries were merged away.
fn merge_repeated_properties(rev: &mut Revision, model: &str) -> usize {
    let mut n = 0;
    for (_, decl) in &mut rev.resources {
        for (name, m) in &mut decl.models {
            if name != model {
                continue;
            }
            let mut merged: Vec<(String, Property)> = Vec::with_capacity(m.properties.len());
            for (prop, later) in std::mem::take(&mut m.properties) {
                let Some((_, first)) = merged.iter_mut().find(|(p, _)| *p == prop) else {
                    merged.push((prop, later));
                    continue;
                };
                first.data_type = later.data_type;
                first.required = later.required;
                if later.description.is_some() {
                    first.description = later.description;
                }
                if later.allowable_values.is_some() {
                    first.allowable_values = later.allowable_values;
                }
                first.extra.extend(later.extra);
                n += 1;
            }
            m.properties = merged;
        }
    }
    n
}

/// The fix-ups that changed something in one revision, with how many places each.
pub type Applied = Vec<(&'static str, usize)>;

/// Parses and checks a revision with every fix-up applied between the two (a repeated property
/// would fail the check), and says which fix-ups changed something, and how many places each.
pub fn parse_fixed(raw: &RawRevision) -> Result<(Revision, Applied), SpecError> {
    let mut applied = Vec::new();
    let rev = Revision::parse_with(raw, |rev| {
        applied = apply_all(rev).into_iter().filter(|(_, n)| *n > 0).collect();
    })?;
    Ok((rev, applied))
}

/// Moves a misspelled parameter key out of `extra`, unless the correct key is also present (then
/// the correct one wins and the typo is only dropped).
fn rename_param_key(
    rev: &mut Revision,
    typo: &str,
    set: impl Fn(&mut Parameter, serde_json::Value),
) -> usize {
    let mut n = 0;
    for (_, decl) in &mut rev.resources {
        for op in decl.apis.iter_mut().flat_map(|a| a.operations.iter_mut()) {
            for p in &mut op.parameters {
                if let Some(v) = p.extra.remove(typo) {
                    set(p, v);
                    n += 1;
                }
            }
        }
    }
    n
}

/// Applies every fix-up to a revision; returns `(name, places changed)` for each.
pub fn apply_all(rev: &mut Revision) -> Vec<(&'static str, usize)> {
    FIXUPS.iter().map(|f| (f.name, f.apply(rev))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::RawRevision;

    fn revision(events_ops: &str, param_extra: &str) -> Revision {
        Revision::parse(&raw_revision(events_ops, param_extra, "")).unwrap()
    }

    fn raw_revision(events_ops: &str, param_extra: &str, models: &str) -> RawRevision {
        let listing = r#"{"apiVersion":"1","swaggerVersion":"1.1","basePath":"x","apis":[
            {"path":"/api-docs/events.{format}"}]}"#;
        let events = format!(
            r#"{{"apiVersion":"1","swaggerVersion":"1.2","basePath":"x","resourcePath":"r",
            "apis":[{{"path":"/events/claim","operations":[{{"httpMethod":"POST",
            "nickname":"claimChannel","responseClass":"void",{events_ops}
            "parameters":[{{"name":"p","paramType":"query","dataType":"string"{param_extra}}}]}}]}}],
            "models":{{{models}}}}}"#
        );
        let mut raw = RawRevision::default();
        raw.files.insert("resources.json".into(), listing.into());
        raw.files
            .insert("api-docs/events.json".into(), events.into_bytes());
        raw
    }

    fn param(rev: &Revision) -> &Parameter {
        &rev.resources[0].1.apis[0].operations[0].parameters[0]
    }

    #[test]
    fn defalut_value_is_moved() {
        let mut rev = revision("", r#","defalutValue":"ulaw""#);
        assert_eq!(FIXUPS[0].apply(&mut rev), 1);
        assert_eq!(param(&rev).default_value, Some("ulaw".into()));
        assert!(param(&rev).extra.is_empty());
        assert_eq!(FIXUPS[0].apply(&mut rev), 0, "applies once");
    }

    #[test]
    fn descriptioni_is_moved() {
        let mut rev = revision("", r#","descriptioni":"The thing""#);
        assert_eq!(FIXUPS[1].apply(&mut rev), 1);
        assert_eq!(param(&rev).description.as_deref(), Some("The thing"));
    }

    #[test]
    fn claim_since_is_corrected_only_when_wrong() {
        let mut rev = revision(r#""since":["20.17.0","22.7.0","23.1.0"],"#, "");
        assert_eq!(FIXUPS[2].apply(&mut rev), 1);
        let since = rev.resources[0].1.apis[0].operations[0]
            .since
            .clone()
            .unwrap();
        assert_eq!(since, ["20.20.0", "22.10.0", "23.4.0"]);
        let mut fixed = revision(r#""since":["20.20.0"],"#, "");
        assert_eq!(FIXUPS[2].apply(&mut fixed), 0);
    }

    #[test]
    fn repeated_live_recording_properties_are_merged() {
        // The shape of 12.0.0's LiveRecording, abridged.
        let models = r#""LiveRecording":{"id":"LiveRecording","properties":{
            "name":{"required":true,"type":"string"},
            "format":{"required":true,"type":"string","description":"Recording format"},
            "state":{"required":false,"type":"string",
                     "allowableValues":{"valueType":"LIST","values":["queued","done"]}},
            "cause":{"type":"string"},
            "state":{"required":true,"type":"string"},
            "format":{"required":true,"type":"string"}}}"#;
        let raw = raw_revision("", "", models);
        let e = Revision::parse(&raw).unwrap_err();
        assert_eq!(e.file, "api-docs/events.json");
        assert_eq!(e.path, "models.LiveRecording.properties.state");
        assert_eq!(e.problem, "property `state` is listed twice");

        let (rev, applied) = parse_fixed(&raw).unwrap();
        assert_eq!(applied, [("LiveRecording-repeated-properties", 2)]);
        let props = &rev.resources[0].1.models[0].1.properties;
        let names: Vec<_> = props.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["name", "format", "state", "cause"]);
        let state = &props[2].1;
        assert!(state.required, "the later entry's `required` wins");
        let values = state.allowable_values.as_ref().unwrap().values.clone();
        assert_eq!(
            values.unwrap(),
            ["queued", "done"],
            "the first's LIST is kept"
        );
        assert_eq!(props[1].1.description.as_deref(), Some("Recording format"));

        // Another model listing a property twice is no known mistake: still refused.
        let other = models.replace("LiveRecording", "Other");
        let e = parse_fixed(&raw_revision("", "", &other)).unwrap_err();
        assert_eq!(e.path, "models.Other.properties.state");
    }
}
