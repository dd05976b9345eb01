//! Named corrections of mistakes in Asterisk's spec files.
//!
//! The vendored files stay byte-for-byte as Asterisk shipped them; their mistakes are corrected
//! here, after parsing. Each fix-up says what it corrects and reports how many places it changed,
//! so a fix-up that matches nothing anywhere in the corpus is caught as stale
//! ([`crate::Corpus::load`] fails) instead of lingering silently.

use crate::load::Revision;
use crate::swagger::Parameter;

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
];

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
        let listing = r#"{"apiVersion":"1","swaggerVersion":"1.1","basePath":"x","apis":[
            {"path":"/api-docs/events.{format}"}]}"#;
        let events = format!(
            r#"{{"apiVersion":"1","swaggerVersion":"1.2","basePath":"x","resourcePath":"r",
            "apis":[{{"path":"/events/claim","operations":[{{"httpMethod":"POST",
            "nickname":"claimChannel","responseClass":"void",{events_ops}
            "parameters":[{{"name":"p","paramType":"query","dataType":"string"{param_extra}}}]}}]}}],
            "models":{{}}}}"#
        );
        let mut raw = RawRevision::default();
        raw.files.insert("resources.json".into(), listing.into());
        raw.files
            .insert("api-docs/events.json".into(), events.into_bytes());
        Revision::parse(&raw).unwrap()
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
}
