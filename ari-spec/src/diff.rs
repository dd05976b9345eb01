//! How the API changed between two releases of a corpus: the one implementation behind
//! `cargo xtask diff` and `ari spec diff`.
//!
//! Compared, with the corpus fix-ups applied to both sides:
//!
//! - operations (`resource.nickname`): added, removed, changed `httpMethod`, `path`,
//!   `responseClass`, `summary`;
//! - parameters of operations on both sides: added, removed, changed `dataType`, `required`,
//!   `paramType` (the location), `allowMultiple`, `allowableValues`, `defaultValue`;
//! - models (other than events, listed on their own): added, removed;
//! - fields of models (events included) on both sides: added, removed, changed `type`,
//!   `required`, `allowableValues`;
//! - events (the subtypes of `Event`): added, removed.
//!
//! Descriptions, notes and error responses are not compared. The text output is grouped by kind
//! and sorted; `--json` prints the same content as one JSON document.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use crate::swagger::{AllowableValues, Model, Operation, Parameter, Property};
use crate::{Corpus, DirSource, RawRevision, Release, ReleaseEntry, Revision, fixups};
use serde::Serialize;
use serde_json::Value;

/// Why two releases could not be compared.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DiffError(String);

/// One attribute that differs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The spec's name of the attribute: `dataType`, `required`, `allowableValues`, ...
    pub attribute: String,
    /// The old value (`null`: absent). Left out when the change is a list of added and removed
    /// allowable values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// The new value (`null`: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
    /// Allowable values that were added (both sides are LISTs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Allowable values that were removed (both sides are LISTs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl Change {
    fn value(attribute: &str, from: Value, to: Value) -> Change {
        Change {
            attribute: attribute.to_owned(),
            from: Some(from),
            to: Some(to),
            added: Vec::new(),
            removed: Vec::new(),
        }
    }

    /// The change as text: `required true -> false`, `allowableValues added a, b`.
    fn to_text(&self) -> String {
        let attr = &self.attribute;
        if self.from.is_none() && self.to.is_none() {
            let mut parts = Vec::new();
            if !self.added.is_empty() {
                parts.push(format!("added {}", self.added.join(", ")));
            }
            if !self.removed.is_empty() {
                parts.push(format!("removed {}", self.removed.join(", ")));
            }
            return format!("{attr} {}", parts.join(" and "));
        }
        let show = |v: &Option<Value>| match v {
            None | Some(Value::Null) => "none".to_owned(),
            Some(v) => value_text(attr, v),
        };
        format!("{attr} {} -> {}", show(&self.from), show(&self.to))
    }
}

/// A value as the text output shows it: names plain, free text and defaults as JSON, allowable
/// values as `LIST [a, b]` or `RANGE 0..10`.
fn value_text(attribute: &str, v: &Value) -> String {
    match (attribute, v) {
        ("allowableValues", Value::Object(o)) => {
            let kind = o.get("valueType").and_then(Value::as_str).unwrap_or("?");
            if kind == "RANGE" {
                let end = |k: &str| o.get(k).filter(|v| !v.is_null()).map(Value::to_string);
                format!(
                    "RANGE {}..{}",
                    end("min").unwrap_or_default(),
                    end("max").unwrap_or_default()
                )
            } else {
                let values: Vec<&str> = o
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!("{kind} [{}]", values.join(", "))
            }
        }
        ("summary" | "defaultValue", v) => v.to_string(),
        (_, Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    }
}

/// An operation that was added, removed or changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperationEntry {
    /// Resource file, e.g. `channels`.
    pub resource: String,
    /// Nickname, e.g. `externalMedia`.
    pub nickname: String,
    /// HTTP method (the newer one for a changed operation).
    pub method: String,
    /// Path template (the newer one for a changed operation).
    pub path: String,
    /// What changed (only for changed operations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// A parameter that was added, removed or changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParameterEntry {
    /// Resource file.
    pub resource: String,
    /// Operation nickname.
    pub nickname: String,
    /// Parameter wire name.
    pub name: String,
    /// Data type (the newer one for a changed parameter).
    pub data_type: String,
    /// `path`, `query` or `body`.
    pub location: String,
    /// Whether it is required.
    pub required: bool,
    /// What changed (only for changed parameters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// A model field that was added, removed or changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldEntry {
    /// Model name.
    pub model: String,
    /// Property wire name.
    pub field: String,
    /// Data type (the newer one for a changed field).
    pub data_type: String,
    /// Whether the spec calls it required.
    pub required: bool,
    /// What changed (only for changed fields).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// Added, removed and changed items of one kind, each list sorted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Changes<T> {
    /// Items only the newer release has.
    pub added: Vec<T>,
    /// Items only the older release has.
    pub removed: Vec<T>,
    /// Items both have, differently.
    pub changed: Vec<T>,
}

impl<T> Default for Changes<T> {
    fn default() -> Self {
        Changes {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        }
    }
}

impl<T> Changes<T> {
    fn len(&self) -> usize {
        self.added.len() + self.removed.len() + self.changed.len()
    }
}

/// Names added and removed, sorted.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Names {
    /// Names only the newer release has.
    pub added: Vec<String>,
    /// Names only the older release has.
    pub removed: Vec<String>,
}

/// The API change between two releases.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiDiff {
    /// The older release, as asked.
    pub from: String,
    /// Its revision folder.
    pub from_revision: String,
    /// The newer release, as asked.
    pub to: String,
    /// Its revision folder.
    pub to_revision: String,
    /// Operations.
    pub operations: Changes<OperationEntry>,
    /// Parameters of operations both releases have.
    pub parameters: Changes<ParameterEntry>,
    /// Models other than events.
    pub models: Names,
    /// Fields of models (events included) both releases have.
    pub fields: Changes<FieldEntry>,
    /// Events.
    pub events: Names,
}

impl ApiDiff {
    /// How many items differ in all.
    pub fn count(&self) -> usize {
        self.operations.len()
            + self.parameters.len()
            + self.models.added.len()
            + self.models.removed.len()
            + self.fields.len()
            + self.events.added.len()
            + self.events.removed.len()
    }

    /// The text report: a heading, then per kind a count line and one line per item, `+` added,
    /// `-` removed, `~` changed.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let same_rev = if self.from_revision == self.to_revision {
            format!(", both ship revision {}", self.from_revision)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "API changes from {} (revision {}) to {} (revision {}){same_rev}",
            self.from, self.from_revision, self.to, self.to_revision
        );
        if self.count() == 0 {
            out.push_str("no changes\n");
            return out;
        }
        section(&mut out, "operations", &self.operations, |e| {
            (
                format!("operation {}.{}", e.resource, e.nickname),
                format!("({} {})", e.method, e.path),
                &e.changes,
            )
        });
        section(&mut out, "parameters", &self.parameters, |e| {
            (
                format!("parameter {}.{}({})", e.resource, e.nickname, e.name),
                format!(
                    "({}, {}, {})",
                    e.data_type,
                    e.location,
                    if e.required { "required" } else { "optional" }
                ),
                &e.changes,
            )
        });
        names(&mut out, "models", "model", &self.models);
        section(&mut out, "fields", &self.fields, |e| {
            (
                format!("field {}.{}", e.model, e.field),
                format!(
                    "({}, {})",
                    e.data_type,
                    if e.required { "required" } else { "optional" }
                ),
                &e.changes,
            )
        });
        names(&mut out, "events", "event", &self.events);
        let _ = writeln!(out, "\n{} changes", self.count());
        out
    }
}

/// Writes one kind's count line and item lines; `show` gives an item's name, its details for
/// added and removed lines, and its changes.
fn section<T>(
    out: &mut String,
    title: &str,
    c: &Changes<T>,
    show: impl Fn(&T) -> (String, String, &Vec<Change>),
) {
    if c.len() == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "\n{title}: {} added, {} removed, {} changed",
        c.added.len(),
        c.removed.len(),
        c.changed.len()
    );
    for (sign, list) in [('+', &c.added), ('-', &c.removed)] {
        for e in list {
            let (name, detail, _) = show(e);
            let _ = writeln!(out, "{sign} {name} {detail}");
        }
    }
    for e in &c.changed {
        let (name, _, changes) = show(e);
        let text: Vec<String> = changes.iter().map(Change::to_text).collect();
        let _ = writeln!(out, "~ {name}: {}", text.join("; "));
    }
}

/// Writes the count line and item lines of added and removed names.
fn names(out: &mut String, title: &str, kind: &str, n: &Names) {
    if n.added.is_empty() && n.removed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{title}: {} added, {} removed",
        n.added.len(),
        n.removed.len()
    );
    for a in &n.added {
        let _ = writeln!(out, "+ {kind} {a}");
    }
    for r in &n.removed {
        let _ = writeln!(out, "- {kind} {r}");
    }
}

/// Finds a release in the map; an unknown one is an error naming the nearest known releases.
fn find_release<'a>(
    releases: &'a [ReleaseEntry],
    text: &str,
    corpus_dir: &Path,
) -> Result<&'a ReleaseEntry, DiffError> {
    let release: Release = text.parse().map_err(DiffError)?;
    if let Some(e) = releases.iter().find(|e| e.release == release) {
        return Ok(e);
    }
    let at = releases.partition_point(|e| e.release < release);
    let near: Vec<String> = releases[at.saturating_sub(2)..(at + 2).min(releases.len())]
        .iter()
        .map(|e| e.release.to_string())
        .collect();
    Err(DiffError(format!(
        "release {release} is not in the corpus ({}); nearest known releases: {}",
        corpus_dir.join("releases.tsv").display(),
        if near.is_empty() {
            "none".to_owned()
        } else {
            near.join(", ")
        }
    )))
}

/// Loads the revision a release ships, with the fix-ups applied.
fn load_revision(corpus_dir: &Path, entry: &ReleaseEntry) -> Result<Revision, DiffError> {
    let dir = corpus_dir.join(&entry.revision);
    let (rev, _) = RawRevision::fetch(&DirSource::new(dir))
        .and_then(|raw| fixups::parse_fixed(&raw))
        .map_err(|e| {
            DiffError(format!(
                "loading revision {} of release {}: {}/{e}",
                entry.revision, entry.release, entry.revision
            ))
        })?;
    Ok(rev)
}

/// The revision that `release` ships in the corpus at `corpus_dir`, fix-ups applied, and its
/// entry in the release map; an unknown release is an error naming the nearest known ones.
pub fn load_release(
    corpus_dir: &Path,
    release: &str,
) -> Result<(ReleaseEntry, Revision), DiffError> {
    let releases = Corpus::read_release_map(corpus_dir).map_err(|e| DiffError(e.to_string()))?;
    let entry = find_release(&releases, release, corpus_dir)?;
    let rev = load_revision(corpus_dir, entry)?;
    Ok((entry.clone(), rev))
}

/// The API change between two releases of the corpus in `corpus_dir`.
pub fn diff_releases(corpus_dir: &Path, from: &str, to: &str) -> Result<ApiDiff, DiffError> {
    let releases = Corpus::read_release_map(corpus_dir).map_err(|e| DiffError(e.to_string()))?;
    let a = find_release(&releases, from, corpus_dir)?;
    let b = find_release(&releases, to, corpus_dir)?;
    let ra = load_revision(corpus_dir, a)?;
    let rb = load_revision(corpus_dir, b)?;
    let mut diff = diff_revisions(&ra, &rb);
    diff.from = a.release.to_string();
    diff.from_revision = a.revision.clone();
    diff.to = b.release.to_string();
    diff.to_revision = b.revision.clone();
    Ok(diff)
}

/// An operation with the path it lives on.
struct Op<'a> {
    path: &'a str,
    op: &'a Operation,
}

/// The items of one revision, keyed for comparison.
struct Surface<'a> {
    operations: BTreeMap<(&'a str, &'a str), Op<'a>>,
    models: BTreeMap<&'a str, &'a Model>,
    events: BTreeSet<String>,
}

impl<'a> Surface<'a> {
    fn of(rev: &'a Revision) -> Surface<'a> {
        let mut operations = BTreeMap::new();
        for (res, decl) in &rev.resources {
            for api in &decl.apis {
                for op in &api.operations {
                    operations.insert(
                        (res.as_str(), op.nickname.as_str()),
                        Op {
                            path: &api.path,
                            op,
                        },
                    );
                }
            }
        }
        Surface {
            operations,
            models: rev.models().map(|(_, name, m)| (name, m)).collect(),
            events: rev.event_names().into_iter().collect(),
        }
    }
}

/// Splits the keys of two maps into only-in-a, in-both, only-in-b.
fn split<'k, K: Ord + Copy, A, B>(
    a: &'k BTreeMap<K, A>,
    b: &'k BTreeMap<K, B>,
) -> (Vec<K>, Vec<K>, Vec<K>) {
    let removed = a.keys().filter(|k| !b.contains_key(k)).copied().collect();
    let both = a.keys().filter(|k| b.contains_key(k)).copied().collect();
    let added = b.keys().filter(|k| !a.contains_key(k)).copied().collect();
    (removed, both, added)
}

/// The API change from revision `a` to revision `b` (release names left empty).
pub fn diff_revisions(a: &Revision, b: &Revision) -> ApiDiff {
    let (sa, sb) = (Surface::of(a), Surface::of(b));
    let mut diff = ApiDiff {
        from: String::new(),
        from_revision: String::new(),
        to: String::new(),
        to_revision: String::new(),
        operations: Changes::default(),
        parameters: Changes::default(),
        models: Names::default(),
        fields: Changes::default(),
        events: Names::default(),
    };

    let op_entry = |(res, nick): (&str, &str), o: &Op, changes| OperationEntry {
        resource: res.to_owned(),
        nickname: nick.to_owned(),
        method: o.op.http_method.clone(),
        path: o.path.to_owned(),
        changes,
    };
    let (removed, both, added) = split(&sa.operations, &sb.operations);
    diff.operations.removed = removed
        .iter()
        .map(|k| op_entry(*k, &sa.operations[k], Vec::new()))
        .collect();
    diff.operations.added = added
        .iter()
        .map(|k| op_entry(*k, &sb.operations[k], Vec::new()))
        .collect();
    for k in both {
        let (oa, ob) = (&sa.operations[&k], &sb.operations[&k]);
        let changes = operation_changes(oa, ob);
        if !changes.is_empty() {
            diff.operations.changed.push(op_entry(k, ob, changes));
        }
        let (pa, pb) = (params_of(oa), params_of(ob));
        let p_entry = |p: &Parameter, changes| ParameterEntry {
            resource: k.0.to_owned(),
            nickname: k.1.to_owned(),
            name: p.name.clone(),
            data_type: p.data_type.clone(),
            location: p.param_type.clone(),
            required: p.required,
            changes,
        };
        let (removed, both, added) = split(&pa, &pb);
        diff.parameters
            .removed
            .extend(removed.iter().map(|n| p_entry(pa[n], Vec::new())));
        diff.parameters
            .added
            .extend(added.iter().map(|n| p_entry(pb[n], Vec::new())));
        for n in both {
            let changes = parameter_changes(pa[n], pb[n]);
            if !changes.is_empty() {
                diff.parameters.changed.push(p_entry(pb[n], changes));
            }
        }
    }

    let (removed, both, added) = split(&sa.models, &sb.models);
    let not_event = |s: &Surface, n: &&str| !s.events.contains(*n);
    diff.models.removed = removed
        .iter()
        .filter(|n| not_event(&sa, n))
        .map(|n| n.to_string())
        .collect();
    diff.models.added = added
        .iter()
        .filter(|n| not_event(&sb, n))
        .map(|n| n.to_string())
        .collect();
    for m in both {
        let (fa, fb) = (props_of(sa.models[m]), props_of(sb.models[m]));
        let f_entry = |field: &str, p: &Property, changes| FieldEntry {
            model: m.to_owned(),
            field: field.to_owned(),
            data_type: p.data_type.clone(),
            required: p.required,
            changes,
        };
        let (removed, both, added) = split(&fa, &fb);
        diff.fields
            .removed
            .extend(removed.iter().map(|f| f_entry(f, fa[f], Vec::new())));
        diff.fields
            .added
            .extend(added.iter().map(|f| f_entry(f, fb[f], Vec::new())));
        for f in both {
            let changes = field_changes(fa[f], fb[f]);
            if !changes.is_empty() {
                diff.fields.changed.push(f_entry(f, fb[f], changes));
            }
        }
    }

    diff.events.removed = sa.events.difference(&sb.events).cloned().collect();
    diff.events.added = sb.events.difference(&sa.events).cloned().collect();
    diff
}

/// An operation's parameters by name.
fn params_of<'a>(o: &Op<'a>) -> BTreeMap<&'a str, &'a Parameter> {
    o.op.parameters
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect()
}

/// A model's properties by name.
fn props_of(model: &Model) -> BTreeMap<&str, &Property> {
    model
        .properties
        .iter()
        .map(|(n, p)| (n.as_str(), p))
        .collect()
}

/// Pushes a change of a plain attribute when the values differ.
fn compare(out: &mut Vec<Change>, attribute: &str, a: Value, b: Value) {
    if a != b {
        out.push(Change::value(attribute, a, b));
    }
}

fn opt_text(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

fn operation_changes(a: &Op, b: &Op) -> Vec<Change> {
    let mut out = Vec::new();
    let s = |v: &str| Value::String(v.to_owned());
    compare(
        &mut out,
        "httpMethod",
        s(&a.op.http_method),
        s(&b.op.http_method),
    );
    compare(&mut out, "path", s(a.path), s(b.path));
    compare(
        &mut out,
        "responseClass",
        s(&a.op.response_class),
        s(&b.op.response_class),
    );
    compare(
        &mut out,
        "summary",
        opt_text(&a.op.summary),
        opt_text(&b.op.summary),
    );
    out
}

fn parameter_changes(a: &Parameter, b: &Parameter) -> Vec<Change> {
    let mut out = Vec::new();
    let s = |v: &str| Value::String(v.to_owned());
    compare(&mut out, "dataType", s(&a.data_type), s(&b.data_type));
    compare(&mut out, "required", a.required.into(), b.required.into());
    compare(&mut out, "paramType", s(&a.param_type), s(&b.param_type));
    compare(
        &mut out,
        "allowMultiple",
        a.allow_multiple.into(),
        b.allow_multiple.into(),
    );
    allowable_changes(&mut out, &a.allowable_values, &b.allowable_values);
    compare(
        &mut out,
        "defaultValue",
        a.default_value.clone().unwrap_or(Value::Null),
        b.default_value.clone().unwrap_or(Value::Null),
    );
    out
}

fn field_changes(a: &Property, b: &Property) -> Vec<Change> {
    let mut out = Vec::new();
    let s = |v: &str| Value::String(v.to_owned());
    compare(&mut out, "type", s(&a.data_type), s(&b.data_type));
    compare(&mut out, "required", a.required.into(), b.required.into());
    allowable_changes(&mut out, &a.allowable_values, &b.allowable_values);
    out
}

/// Compares allowable values: two LISTs give the values added and removed (order ignored);
/// anything else that differs gives the old and new constraint.
fn allowable_changes(
    out: &mut Vec<Change>,
    a: &Option<AllowableValues>,
    b: &Option<AllowableValues>,
) {
    let list = |v: &Option<AllowableValues>| -> Option<Vec<String>> {
        v.as_ref()
            .filter(|v| v.value_type == "LIST")
            .map(|v| v.values.clone().unwrap_or_default())
    };
    if let (Some(la), Some(lb)) = (list(a), list(b)) {
        let added: Vec<String> = lb.iter().filter(|v| !la.contains(v)).cloned().collect();
        let removed: Vec<String> = la.iter().filter(|v| !lb.contains(v)).cloned().collect();
        if !added.is_empty() || !removed.is_empty() {
            out.push(Change {
                attribute: "allowableValues".to_owned(),
                from: None,
                to: None,
                added,
                removed,
            });
        }
        return;
    }
    let json = |v: &Option<AllowableValues>| -> Value {
        v.as_ref().map_or(Value::Null, |v| {
            let mut o = serde_json::Map::new();
            o.insert("valueType".into(), v.value_type.clone().into());
            if let Some(values) = &v.values {
                o.insert("values".into(), values.clone().into());
            }
            if let Some(min) = &v.min {
                o.insert("min".into(), min.clone());
            }
            if let Some(max) = &v.max {
                o.insert("max".into(), max.clone());
            }
            Value::Object(o)
        })
    };
    compare(out, "allowableValues", json(a), json(b));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendored(a: &str, b: &str) -> ApiDiff {
        diff_releases(&Corpus::vendored_dir(), a, b).unwrap()
    }

    fn op_names(list: &[OperationEntry]) -> Vec<String> {
        list.iter()
            .map(|e| format!("{}.{}", e.resource, e.nickname))
            .collect()
    }

    fn param_names(list: &[ParameterEntry]) -> Vec<String> {
        list.iter()
            .map(|e| format!("{}.{}({})", e.resource, e.nickname, e.name))
            .collect()
    }

    /// 22.0.0 -> 22.10.1, checked by hand against the JSON files (22.10.1 ships the 22.10.0
    /// folder).
    #[test]
    fn diff_22_0_to_22_10_1() {
        let d = vendored("22.0.0", "22.10.1");
        assert_eq!(
            (d.from_revision.as_str(), d.to_revision.as_str()),
            ("22.0.0", "22.10.0")
        );
        assert_eq!(
            op_names(&d.operations.added),
            [
                "bridges.getBridgeVar",
                "bridges.getBridgeVars",
                "bridges.setBridgeVar",
                "bridges.setBridgeVars",
                "channels.getChannelVars",
                "channels.progress",
                "channels.setChannelVars",
                "channels.transfer_progress",
                "events.claimChannel",
            ]
        );
        assert!(d.operations.removed.is_empty());
        let claim = &d.operations.added[8];
        assert_eq!(
            (claim.method.as_str(), claim.path.as_str()),
            ("POST", "/events/claim")
        );
        // The only operation-level change: createWithId's summary.
        assert_eq!(op_names(&d.operations.changed), ["bridges.createWithId"]);
        assert_eq!(
            d.operations.changed[0].changes,
            [Change::value(
                "summary",
                "Create a new bridge or updates an existing one.".into(),
                "Create a new bridge.".into()
            )]
        );

        // Parameters of operations both have (the new operations' parameters are not listed).
        assert_eq!(
            param_names(&d.parameters.added),
            [
                "bridges.create(variables)",
                "bridges.createWithId(variables)",
                "bridges.play(announcer_format)",
                "bridges.playWithId(announcer_format)",
                "bridges.record(recorder_format)",
                "channels.externalMedia(transport_data)",
                "channels.setChannelVar(report_events)",
            ]
        );
        assert!(d.parameters.removed.is_empty());
        assert_eq!(
            param_names(&d.parameters.changed),
            [
                "channels.externalMedia(connection_type)",
                "channels.externalMedia(encapsulation)",
                "channels.externalMedia(external_host)",
                "channels.externalMedia(transport)",
            ]
        );
        let list_added = |i: usize| d.parameters.changed[i].changes[0].added.clone();
        assert_eq!(list_added(0), ["server"]);
        assert_eq!(list_added(1), ["none"]);
        assert_eq!(list_added(3), ["websocket"]);
        assert_eq!(
            d.parameters.changed[2].changes,
            [Change::value("required", true.into(), false.into())]
        );

        assert_eq!(
            d.models.added,
            [
                "AdditionalParam",
                "RESTHeader",
                "RESTQueryStringParameter",
                "RESTRequest",
                "ReferTo",
                "ReferredBy",
                "RequiredDestination",
                "Variables",
            ]
        );
        assert!(d.models.removed.is_empty());
        assert_eq!(
            d.events.added,
            [
                "ApplicationRegistered",
                "ApplicationUnregistered",
                "CallBroadcast",
                "CallClaimed",
                "ChannelTransfer",
                "RESTResponse",
            ]
        );
        assert!(d.events.removed.is_empty());
        let fields: Vec<String> = d
            .fields
            .added
            .iter()
            .map(|f| format!("{}.{}:{}", f.model, f.field, f.data_type))
            .collect();
        assert_eq!(
            fields,
            [
                "Bridge.bridgevars:object",
                "ChannelDestroyed.tech_cause:int",
                "ChannelHangupRequest.tech_cause:int",
            ]
        );
        assert!(d.fields.removed.is_empty() && d.fields.changed.is_empty());

        let text = d.to_text();
        for line in [
            "+ operation events.claimChannel (POST /events/claim)",
            "+ operation channels.progress (POST /channels/{channelId}/progress)",
            "~ parameter channels.externalMedia(transport): allowableValues added websocket",
            "~ parameter channels.externalMedia(external_host): required true -> false",
            "~ operation bridges.createWithId: summary \"Create a new bridge or updates an \
             existing one.\" -> \"Create a new bridge.\"",
            "+ event CallBroadcast",
            "+ event CallClaimed",
            "+ model Variables",
            "+ field Bridge.bridgevars (object, optional)",
            "+ parameter channels.setChannelVar(report_events) (boolean, query, optional)",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
    }

    /// Counts `+ kind`, `- kind`, `~ kind` lines of the text output.
    fn count(text: &str, sign: char, kind: &str) -> usize {
        let prefix = format!("{sign} {kind} ");
        text.lines().filter(|l| l.starts_with(&prefix)).count()
    }

    /// The JSON form parses and has the text form's counts.
    #[test]
    fn json_matches_text() {
        let d = vendored("20.0.0", "22.10.1");
        let text = d.to_text();
        let json: Value = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        let n = |path: &str| json.pointer(path).and_then(Value::as_array).unwrap().len();
        let mut total = 0;
        for (kind, section, changed) in [
            ("operation", "operations", true),
            ("parameter", "parameters", true),
            ("model", "models", false),
            ("field", "fields", true),
            ("event", "events", false),
        ] {
            assert_eq!(
                count(&text, '+', kind),
                n(&format!("/{section}/added")),
                "{kind}"
            );
            assert_eq!(
                count(&text, '-', kind),
                n(&format!("/{section}/removed")),
                "{kind}"
            );
            total += n(&format!("/{section}/added")) + n(&format!("/{section}/removed"));
            if changed {
                assert_eq!(
                    count(&text, '~', kind),
                    n(&format!("/{section}/changed")),
                    "{kind}"
                );
                total += n(&format!("/{section}/changed"));
            }
        }
        assert!(total > 20, "20.0.0 -> 22.10.1 changes a lot: {total}");
        assert_eq!(total, d.count());
        assert!(text.ends_with(&format!("\n{total} changes\n")), "{text}");
        assert_eq!(json["from"], "20.0.0");
        assert_eq!(json["to_revision"], "22.10.0");
        // Deterministic.
        assert_eq!(vendored("20.0.0", "22.10.1").to_text(), text);
    }

    /// Reversing the releases swaps added and removed and keeps changed items.
    #[test]
    fn reverse_swaps_added_and_removed() {
        let ab = vendored("20.0.0", "22.10.1");
        let ba = vendored("22.10.1", "20.0.0");
        assert_eq!(
            op_names(&ab.operations.added),
            op_names(&ba.operations.removed)
        );
        assert_eq!(
            op_names(&ab.operations.removed),
            op_names(&ba.operations.added)
        );
        assert_eq!(
            op_names(&ab.operations.changed),
            op_names(&ba.operations.changed)
        );
        assert_eq!(
            param_names(&ab.parameters.added),
            param_names(&ba.parameters.removed)
        );
        assert_eq!(
            param_names(&ab.parameters.removed),
            param_names(&ba.parameters.added)
        );
        assert_eq!(ab.models.added, ba.models.removed);
        assert_eq!(ab.models.removed, ba.models.added);
        assert_eq!(ab.events.added, ba.events.removed);
        assert_eq!(ab.events.removed, ba.events.added);
        assert_eq!(ab.fields.added, ba.fields.removed);
        assert_eq!(ab.count(), ba.count());
        // Changes flip direction.
        let d = vendored("22.10.1", "22.0.0");
        assert_eq!(
            op_names(&d.operations.removed).last().map(String::as_str),
            Some("events.claimChannel")
        );
        let transport = d
            .parameters
            .changed
            .iter()
            .find(|e| e.name == "transport")
            .unwrap();
        assert_eq!(transport.changes[0].removed, ["websocket"]);
        assert!(transport.changes[0].added.is_empty());
        assert!(d.to_text().contains(
            "~ parameter channels.externalMedia(transport): allowableValues removed websocket"
        ));
    }

    #[test]
    fn same_release_or_revision_has_no_changes() {
        let d = vendored("22.10.1", "22.10.1");
        assert_eq!(d.count(), 0);
        assert!(d.to_text().ends_with("no changes\n"), "{}", d.to_text());
        let d = vendored("22.10.0", "22.10.1");
        assert_eq!(d.count(), 0);
        assert!(d.to_text().contains("both ship revision 22.10.0"));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["operations"]["added"], Value::Array(Vec::new()));
    }

    #[test]
    fn unknown_release_names_the_nearest() {
        let err = diff_releases(&Corpus::vendored_dir(), "22.10.7", "22.0.0").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("release 22.10.7 is not in the corpus"),
            "{msg}"
        );
        assert!(msg.contains("22.10.0, 22.10.1"), "{msg}");
        let err = diff_releases(&Corpus::vendored_dir(), "22.0.0", "99.0.0").unwrap_err();
        assert!(err.to_string().contains("23.4.0, 23.4.1"), "{err}");
        let err = diff_releases(&Corpus::vendored_dir(), "22.0.0", "twenty").unwrap_err();
        assert!(
            err.to_string().contains("`twenty` is not a release"),
            "{err}"
        );
        let err = diff_releases(Path::new("/nonexistent"), "22.0.0", "22.1.0").unwrap_err();
        assert!(err.to_string().contains("releases.tsv"), "{err}");
    }

    /// Attribute changes of parameters and fields other than LIST deltas, on hand-made values.
    #[test]
    fn attribute_changes() {
        let p = |json: &str| -> Parameter { serde_json::from_str(json).unwrap() };
        let a = p(
            r#"{"name":"x","paramType":"query","dataType":"string","defaultValue":"a",
            "allowableValues":{"valueType":"LIST","values":["a","b"]}}"#,
        );
        let b = p(
            r#"{"name":"x","paramType":"body","dataType":"int","required":true,
            "allowMultiple":true,"allowableValues":{"valueType":"RANGE","min":0,"max":9}}"#,
        );
        let changes = parameter_changes(&a, &b);
        let text: Vec<String> = changes.iter().map(Change::to_text).collect();
        assert_eq!(
            text,
            [
                "dataType string -> int",
                "required false -> true",
                "paramType query -> body",
                "allowMultiple false -> true",
                "allowableValues LIST [a, b] -> RANGE 0..9",
                "defaultValue \"a\" -> none",
            ]
        );
        assert!(parameter_changes(&a, &a).is_empty());
        // Same LIST values in another order is no change; both added and removed in one line.
        let c = p(
            r#"{"name":"x","paramType":"query","dataType":"string","defaultValue":"a",
            "allowableValues":{"valueType":"LIST","values":["b","a"]}}"#,
        );
        assert!(parameter_changes(&a, &c).is_empty());
        let d = p(
            r#"{"name":"x","paramType":"query","dataType":"string","defaultValue":"a",
            "allowableValues":{"valueType":"LIST","values":["a","c","d"]}}"#,
        );
        assert_eq!(
            parameter_changes(&a, &d)[0].to_text(),
            "allowableValues added c, d and removed b"
        );

        let f = |json: &str| -> Property { serde_json::from_str(json).unwrap() };
        let fa = f(r#"{"type":"string"}"#);
        let fb = f(r#"{"type":"List[string]","required":true,
            "allowableValues":{"valueType":"LIST","values":["x"]}}"#);
        let text: Vec<String> = field_changes(&fa, &fb)
            .iter()
            .map(Change::to_text)
            .collect();
        assert_eq!(
            text,
            [
                "type string -> List[string]",
                "required false -> true",
                "allowableValues none -> LIST [x]",
            ]
        );
    }
}
