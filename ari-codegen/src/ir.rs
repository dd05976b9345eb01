//! The intermediate representation: one API merged over every revision of a corpus.
//!
//! Every operation, parameter, model, field and event that any release ships appears once, with
//! both its wire name and its Rust name, and the releases that ship it. Differences between
//! revisions are resolved here by explicit rules:
//! - a field is `Option` unless every revision that has its model has it and marks it required
//!   (and [`OMITTED_BY_SERVERS`] does not list it);
//! - a parameter is a required argument only when every revision that has its operation has it
//!   and requires it; otherwise it is a builder method;
//! - LIST values are the union over revisions (newest revision's order first); a string is an enum
//!   only when every revision that has it lists its values: bridges.create's `type`, a LIST of two in
//!   12.0–12.1 and free text (comma-separated attributes) since 12.2, stays a `String`, so that no
//!   value a newer server accepts is refused before sending;
//! - descriptions, summaries and error reasons come from the newest revision that has the item;
//! - when revisions disagree on a type, the type becomes an untagged enum of every type seen,
//!   newest first, and the disagreement is recorded in [`Api::conflicts`].

use std::collections::{BTreeMap, BTreeSet};

use ari_spec::swagger::{self, DataType};
use ari_spec::{AvailabilityIndex, Corpus, Item, Release, ReleaseRange, Revision};

use crate::GenError;
use crate::names::{self, Namespace};

/// Fields that the spec marks required but real servers leave out; they are `Option` so that
/// decoding what a real server sends never fails. Each entry says where it was seen.
pub const OMITTED_BY_SERVERS: &[(&str, &str, &str)] = &[];

/// The merged API.
#[derive(Debug)]
pub struct Api {
    /// The module path the bindings live at inside `ari-sdk` (`crate::generated`); snapshot
    /// tests put fixture bindings elsewhere.
    pub root: String,
    /// The path of the runtime crate the bindings call (`crate` inside `ari-sdk`; `ari_sdk` for
    /// bindings that live in a user's crate, see [`crate::emit::emit`]).
    pub runtime: String,
    /// Every release of the corpus, ascending.
    pub releases: Vec<Release>,
    /// Major lines of the corpus.
    pub majors: Vec<u16>,
    /// Models other than events, by wire name.
    pub models: BTreeMap<String, Model>,
    /// Event models (subtypes of `Event`, and `MissingParams`), by wire name.
    pub events: BTreeMap<String, Model>,
    /// Resources by file name.
    pub resources: BTreeMap<String, Resource>,
    /// Type disagreements between revisions and how they were resolved.
    pub conflicts: Vec<Conflict>,
    /// Per release: (operations, models, events) as counted in its revision.
    pub counts: BTreeMap<Release, (usize, usize, usize)>,
    /// Every distinct availability that some item has, ordered by its text; the generated code
    /// defines each once and refers to it by index.
    pub availabilities: Vec<Vec<ReleaseRange>>,
    /// The resource kinds ([`crate::kinds::KINDS`]) that the API has, resolved against it.
    pub kinds: Vec<crate::kinds::Kind>,
    /// Lookups for the emitter, so that emitting stays linear in the number of items.
    pub(crate) lookup: Lookup,
}

/// Indexes over [`Api`] that the emitter asks per field and per item.
#[derive(Debug, Default)]
pub(crate) struct Lookup {
    /// Rust names of the event structs (they live in `events`, the others in `models`).
    pub(crate) event_types: BTreeSet<String>,
    /// Wire name of each model (not event) by its Rust name.
    pub(crate) model_by_rust: BTreeMap<String, String>,
    /// Index into [`Api::availabilities`] by the ranges' text.
    pub(crate) availability: BTreeMap<String, usize>,
}

impl Lookup {
    fn of(api: &Api) -> Lookup {
        Lookup {
            event_types: api.events.values().map(|m| m.rust.clone()).collect(),
            model_by_rust: api
                .models
                .values()
                .map(|m| (m.rust.clone(), m.wire.clone()))
                .collect(),
            availability: api
                .availabilities
                .iter()
                .enumerate()
                .map(|(i, a)| (crate::ranges_text(a), i))
                .collect(),
        }
    }
}

/// A type disagreement between revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// Where: `channels.externalMedia -> response` or `TextMessage.variables`.
    pub place: String,
    /// The types, newest first, each with the releases that use it.
    pub types: Vec<(String, String)>,
    /// The Rust type chosen.
    pub resolution: String,
}

/// A model or event.
#[derive(Clone, Debug)]
pub struct Model {
    /// Wire name, e.g. `Channel`.
    pub wire: String,
    /// Rust type name.
    pub rust: String,
    /// Description from the newest revision.
    pub description: Option<String>,
    /// Fields, inherited ones first.
    pub fields: Vec<Field>,
    /// Releases that ship it.
    pub availability: Vec<ReleaseRange>,
}

/// A model field.
#[derive(Clone, Debug)]
pub struct Field {
    /// Wire name.
    pub wire: String,
    /// Rust name.
    pub rust: String,
    /// Type.
    pub ty: Type,
    /// Whether it is `Option`.
    pub optional: bool,
    /// Description from the newest revision.
    pub description: Option<String>,
    /// RANGE bounds, documented.
    pub range: Option<(Option<f64>, Option<f64>)>,
    /// Releases that ship it.
    pub availability: Vec<ReleaseRange>,
    /// Held in a `Box`: the field's type contains, by value, the model the field is in (directly
    /// or through other models), which without the box would be a type of infinite size.
    pub boxed: bool,
}

/// A Rust-side type.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// `String`.
    String,
    /// `i64` (`int` and `long`).
    Int,
    /// `f64`.
    Double,
    /// `bool`.
    Bool,
    /// A timestamp string.
    Date,
    /// `serde_json::Value`.
    Object,
    /// `BTreeMap<String, String>`.
    Containers,
    /// `bytes::Bytes`.
    Binary,
    /// `Vec<T>`.
    List(Box<Type>),
    /// A model, by Rust name.
    Model(String),
    /// A LIST enum.
    Enum(EnumDef),
    /// Types that differ between revisions: an untagged enum.
    Union(UnionDef),
}

/// A LIST enum.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumDef {
    /// Rust type name.
    pub rust: String,
    /// (wire value, variant name), union over revisions.
    pub values: Vec<(String, String)>,
}

/// An untagged enum over the types revisions disagree on.
#[derive(Clone, Debug, PartialEq)]
pub struct UnionDef {
    /// Rust type name.
    pub rust: String,
    /// (variant name, type), newest first.
    pub variants: Vec<(String, Type)>,
}

/// A resource file's operations.
#[derive(Clone, Debug)]
pub struct Resource {
    /// File name, e.g. `deviceStates`.
    pub wire: String,
    /// Module name, e.g. `device_states`.
    pub module: String,
    /// Operations in spec order (newest revision first, then older-only ones).
    pub operations: Vec<Operation>,
}

/// An operation.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Nickname.
    pub nickname: String,
    /// Method name.
    pub rust: String,
    /// Builder type name.
    pub builder: String,
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Summary.
    pub summary: String,
    /// Notes.
    pub notes: Option<String>,
    /// Parameters in spec order.
    pub params: Vec<Param>,
    /// Response type; `None` for void.
    pub response: Option<Type>,
    /// Documented errors (code, reason).
    pub errors: Vec<(u16, String)>,
    /// Releases that ship it.
    pub availability: Vec<ReleaseRange>,
    /// The WebSocket subprotocol when the operation is a WebSocket upgrade (the events socket).
    pub websocket: Option<String>,
}

/// Where a parameter travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// Path segment.
    Path,
    /// Query string.
    Query,
    /// JSON body member.
    Body,
}

/// A parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Wire name.
    pub wire: String,
    /// Rust name.
    pub rust: String,
    /// Where it travels.
    pub location: Location,
    /// Type of one value.
    pub ty: Type,
    /// Several values, comma-joined.
    pub multiple: bool,
    /// A required argument (see the module doc for the rule).
    pub required: bool,
    /// Description.
    pub description: Option<String>,
    /// Default the server applies.
    pub default: Option<String>,
    /// RANGE bounds, checked before sending.
    pub range: Option<(Option<f64>, Option<f64>)>,
    /// Releases that accept it.
    pub availability: Vec<ReleaseRange>,
}

/// Accumulates one field or parameter over revisions (newest first).
struct Acc {
    types: Vec<(DataType, BTreeSet<Release>)>,
    values: Vec<String>,
    /// Some revision gives no LIST (see the module doc's enum rule).
    unlisted: bool,
    /// The same values as a set, for a linear union.
    value_set: BTreeSet<String>,
    required_everywhere: bool,
    revisions: usize,
    description: Option<String>,
    range: Option<(Option<f64>, Option<f64>)>,
}

impl Acc {
    fn new() -> Self {
        Acc {
            types: Vec::new(),
            values: Vec::new(),
            unlisted: false,
            value_set: BTreeSet::new(),
            required_everywhere: true,
            revisions: 0,
            description: None,
            range: None,
        }
    }

    fn add(
        &mut self,
        ty: DataType,
        rels: &BTreeSet<Release>,
        required: bool,
        desc: &Option<String>,
        av: &Option<swagger::AllowableValues>,
    ) {
        match self.types.iter_mut().find(|(t, _)| *t == ty) {
            Some((_, r)) => r.extend(rels.iter().copied()),
            None => self.types.push((ty, rels.clone())),
        }
        self.required_everywhere &= required;
        self.unlisted |= av.as_ref().is_none_or(|av| av.value_type != "LIST");
        self.revisions += 1;
        if self.description.is_none() {
            self.description = desc.clone().filter(|d| !d.trim().is_empty());
        }
        if let Some(av) = av {
            match av.value_type.as_str() {
                "LIST" => {
                    for v in av.values.iter().flatten() {
                        if self.value_set.insert(v.clone()) {
                            self.values.push(v.clone());
                        }
                    }
                }
                _ => {
                    if self.range.is_none() {
                        let num =
                            |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.as_f64());
                        self.range = Some((num(&av.min), num(&av.max)));
                    }
                }
            }
        }
    }
}

/// Builds the merged API from a corpus.
pub fn build(corpus: &Corpus) -> Result<Api, GenError> {
    let index = corpus.availability();
    // Revisions newest first: the newest revision's text and order win.
    let mut revs: Vec<(&str, &Revision, BTreeSet<Release>)> = corpus
        .revisions
        .iter()
        .map(|(name, rev)| {
            let rels = corpus
                .releases
                .iter()
                .filter(|e| e.revision == *name)
                .map(|e| e.release)
                .collect::<BTreeSet<_>>();
            (name.as_str(), rev, rels)
        })
        .filter(|(_, _, rels)| !rels.is_empty())
        .collect();
    revs.sort_by_key(|(_, _, rels)| std::cmp::Reverse(rels.iter().next_back().copied()));

    let mut counts = BTreeMap::new();
    for e in &corpus.releases {
        let rev = &corpus.revisions[&e.revision];
        let ops = rev
            .resources
            .iter()
            .map(|(_, d)| d.apis.iter().map(|a| a.operations.len()).sum::<usize>())
            .sum();
        counts.insert(
            e.release,
            (ops, rev.models().count(), rev.event_names().len()),
        );
    }

    let mut conflicts = Vec::new();
    let (models, events) = build_models(&revs, &index, &mut conflicts)?;
    let resources = build_resources(&revs, &index, &mut conflicts)?;
    let mut majors: Vec<u16> = corpus.releases.iter().map(|e| e.release.major).collect();
    majors.dedup();
    let mut api = Api {
        lookup: Lookup::default(),
        kinds: Vec::new(),
        availabilities: Vec::new(),
        root: "crate::generated".to_owned(),
        runtime: "crate".to_owned(),
        releases: corpus.releases.iter().map(|e| e.release).collect(),
        majors,
        models,
        events,
        resources,
        conflicts,
        counts,
    };
    api.check_counts(&index)?;
    api.availabilities = distinct_availabilities(&api);
    box_recursive_fields(&mut api);
    api.lookup = Lookup::of(&api);
    api.kinds = crate::kinds::resolve(&api)?;
    Ok(api)
}

/// The models a type holds by value: through unions, not through `Vec` (which is a pointer).
fn by_value_models<'a>(t: &'a Type, out: &mut Vec<&'a str>) {
    // An explicit stack: types nest only as deep as the spec's `List[` (bounded), but no walk of
    // ours recurses on input.
    let mut stack = vec![t];
    while let Some(t) = stack.pop() {
        match t {
            Type::Model(m) => out.push(m),
            Type::Union(u) => stack.extend(u.variants.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Marks as boxed every field whose type holds, by value, a model of the same strongly connected
/// component of the "contains by value" graph as its own model: that breaks every cycle (each
/// cycle lies inside one component) and boxes nothing else. Tarjan's algorithm, iterative: linear
/// in models plus fields.
fn box_recursive_fields(api: &mut Api) {
    let all: Vec<&Model> = api.models.values().chain(api.events.values()).collect();
    let index_of: BTreeMap<&str, usize> = all
        .iter()
        .enumerate()
        .map(|(i, m)| (m.rust.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = all
        .iter()
        .map(|m| {
            let mut targets = Vec::new();
            for f in &m.fields {
                by_value_models(&f.ty, &mut targets);
            }
            targets
                .iter()
                .filter_map(|t| index_of.get(t).copied())
                .collect()
        })
        .collect();
    let comp = components(&edges);
    let mut boxed: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, m) in all.iter().enumerate() {
        for f in &m.fields {
            let mut targets = Vec::new();
            by_value_models(&f.ty, &mut targets);
            if targets
                .iter()
                .filter_map(|t| index_of.get(t))
                .any(|&j| comp[j] == comp[i])
            {
                boxed.insert((m.wire.clone(), f.wire.clone()));
            }
        }
    }
    for m in api.models.values_mut().chain(api.events.values_mut()) {
        for f in &mut m.fields {
            f.boxed = boxed.contains(&(m.wire.clone(), f.wire.clone()));
        }
    }
}

/// Strongly connected components (Tarjan, with an explicit stack): the component id of each node.
fn components(edges: &[Vec<usize>]) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let n = edges.len();
    let (mut index, mut low, mut comp) = (vec![NONE; n], vec![0; n], vec![NONE; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut next_index, mut next_comp) = (Vec::new(), 0, 0);
    for root in 0..n {
        if index[root] != NONE {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if let Some(&w) = edges[v].get(*e) {
                *e += 1;
                if index[w] == NONE {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

fn distinct_availabilities(api: &Api) -> Vec<Vec<ReleaseRange>> {
    let mut all: BTreeMap<String, Vec<ReleaseRange>> = BTreeMap::new();
    let mut add = |r: &Vec<ReleaseRange>| {
        all.entry(crate::ranges_text(r))
            .or_insert_with(|| r.clone());
    };
    for m in api.models.values().chain(api.events.values()) {
        add(&m.availability);
        m.fields.iter().for_each(|f| add(&f.availability));
    }
    for op in api.resources.values().flat_map(|r| &r.operations) {
        add(&op.availability);
        op.params.iter().for_each(|p| add(&p.availability));
    }
    all.into_values().collect()
}

/// Names of the abstract bases, which become no struct: `Message` and `Event`.
const BASES: &[&str] = &["Message", "Event"];

/// Models that arrive on the events socket: every subtype, transitively, of a model with a
/// discriminator (`Message`): the events and `MissingParams`; the bases themselves excluded.
fn messages(rev: &Revision) -> BTreeSet<String> {
    let models: BTreeMap<&str, &swagger::Model> = rev.models().map(|(_, n, m)| (n, m)).collect();
    let mut out = BTreeSet::new();
    let mut stack: Vec<&str> = models
        .iter()
        .filter(|(_, m)| m.discriminator.is_some())
        .map(|(n, _)| *n)
        .collect();
    while let Some(m) = stack.pop() {
        for s in models
            .get(m)
            .map(|m| m.sub_types.as_slice())
            .unwrap_or_default()
        {
            if out.insert(s.clone()) {
                stack.push(s);
            }
        }
    }
    out.retain(|m| !BASES.contains(&m.as_str()));
    out
}

/// Per revision: each model's parent (the first model, by name, whose `subTypes` list it) and
/// the models by name. Built once per revision, so flattening every model stays linear.
struct Hierarchy<'a> {
    models: BTreeMap<&'a str, &'a swagger::Model>,
    parent: BTreeMap<&'a str, &'a str>,
}

impl<'a> Hierarchy<'a> {
    fn of(rev: &'a Revision) -> Self {
        let models: BTreeMap<&str, &swagger::Model> =
            rev.models().map(|(_, n, m)| (n, m)).collect();
        let mut parent = BTreeMap::new();
        for (n, m) in &models {
            for s in &m.sub_types {
                parent.entry(s.as_str()).or_insert(*n);
            }
        }
        Hierarchy { models, parent }
    }
}

/// A model's fields with those of its ancestors first (minus the discriminator), as one revision
/// defines them.
fn flattened<'a>(h: &Hierarchy<'a>, name: &'a str) -> Vec<(&'a str, &'a swagger::Property)> {
    let mut chain = vec![name];
    let mut discriminators = BTreeSet::new();
    // The loader refuses cycles and chains deeper than a small bound; the guard keeps this
    // finite for a `Revision` built by other means.
    while let Some(&parent) = h.parent.get(chain[chain.len() - 1]) {
        if chain.contains(&parent) || chain.len() > ari_spec::load::MAX_INHERITANCE_DEPTH {
            break;
        }
        if let Some(d) = h.models.get(parent).and_then(|m| m.discriminator.as_ref()) {
            discriminators.insert(d.as_str());
        }
        chain.push(parent);
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for m in chain.iter().rev() {
        if let Some(model) = h.models.get(m) {
            for (f, p) in &model.properties {
                if !discriminators.contains(f.as_str()) && seen.insert(f.as_str()) {
                    out.push((f.as_str(), p));
                }
            }
        }
    }
    out
}

type ModelMaps = (BTreeMap<String, Model>, BTreeMap<String, Model>);

fn build_models(
    revs: &[(&str, &Revision, BTreeSet<Release>)],
    index: &AvailabilityIndex,
    conflicts: &mut Vec<Conflict>,
) -> Result<ModelMaps, GenError> {
    // model -> (description, field order, field accumulators, revisions having the model, is event)
    struct MAcc {
        description: Option<String>,
        order: Vec<String>,
        fields: BTreeMap<String, Acc>,
        /// Where the model was first seen, for errors: `<revision>/api-docs/<file>.json`.
        file: String,
        revisions: usize,
        event: bool,
    }
    let mut accs: BTreeMap<String, MAcc> = BTreeMap::new();
    for (rev_name, rev, rels) in revs {
        let events = messages(rev);
        let hierarchy = Hierarchy::of(rev);
        for (res, name, model) in rev.models() {
            if BASES.contains(&name) {
                continue;
            }
            let acc = accs.entry(name.to_owned()).or_insert_with(|| MAcc {
                description: None,
                order: Vec::new(),
                fields: BTreeMap::new(),
                file: format!("{rev_name}/api-docs/{res}.json"),
                revisions: 0,
                event: false,
            });
            acc.revisions += 1;
            acc.event |= events.contains(name);
            if acc.description.is_none() {
                acc.description = model.description.clone();
            }
            for (fname, prop) in flattened(&hierarchy, name) {
                let ty = DataType::parse(&prop.data_type).map_err(|e| {
                    GenError::Spec(format!(
                        "{rev_name}/api-docs/{res}.json: at models.{name}.properties.{fname}.type: {e}"
                    ))
                })?;
                // `fields` holds every name `order` does: a linear membership test.
                if !acc.fields.contains_key(fname) {
                    acc.order.push(fname.to_owned());
                }
                acc.fields
                    .entry(fname.to_owned())
                    .or_insert_with(Acc::new)
                    .add(
                        ty,
                        rels,
                        prop.required,
                        &prop.description,
                        &prop.allowable_values,
                    );
            }
        }
    }
    let mut models = BTreeMap::new();
    let mut events = BTreeMap::new();
    let mut types =
        Namespace::with_reserved("module `models`/`events` (types)", names::RESERVED_TYPES);
    for (name, acc) in &accs {
        let rust = names::model_type(name);
        types.claim(
            &rust,
            format!("model `{name}` ({}: models.{name})", acc.file),
        )?;
        let mut ns = Namespace::new(format!("struct `{rust}`"));
        let mut fields = Vec::new();
        for fname in &acc.order {
            let f = &acc.fields[fname];
            let frust = names::snake(fname);
            ns.claim(
                &frust,
                format!(
                    "field `{}` ({}: models.{name}.properties.{})",
                    fname.escape_debug(),
                    acc.file,
                    fname.escape_debug()
                ),
            )?;
            let place = format!("{name}.{fname}");
            let ty = resolve(
                &place,
                &format!("{rust}{}", names::camel(fname)),
                f,
                index,
                conflicts,
                &mut types,
            )?;
            let omitted = OMITTED_BY_SERVERS
                .iter()
                .any(|(m, x, _)| m == name && x == fname);
            let avail = inherited_availability(index, name, fname);
            fields.push(Field {
                wire: fname.clone(),
                rust: frust,
                ty,
                optional: !(f.required_everywhere && f.revisions == acc.revisions) || omitted,
                description: f.description.clone(),
                range: f.range,
                availability: avail,
                boxed: false,
            });
        }
        let model = Model {
            wire: name.clone(),
            rust,
            description: acc.description.clone(),
            fields,
            availability: index.ranges_of(&Item::Model(name.clone())),
        };
        if acc.event {
            events.insert(name.clone(), model);
        } else {
            models.insert(name.clone(), model);
        }
    }
    Ok((models, events))
}

/// A field's releases: its own entry, or for an inherited base field, the model's releases
/// intersected with the base field's.
fn inherited_availability(
    index: &AvailabilityIndex,
    model: &str,
    field: &str,
) -> Vec<ReleaseRange> {
    let own = index.releases_of(&Item::field(model, field));
    if !own.is_empty() {
        return index.ranges(&own);
    }
    let model_rels = index.releases_of(&Item::Model(model.to_owned()));
    let mut base = BTreeSet::new();
    for b in BASES {
        base.extend(index.releases_of(&Item::field(b, field)));
    }
    index.ranges(&model_rels.intersection(&base).copied().collect())
}

/// Maps the data types seen for one field or parameter to one Rust type; registers enum and union
/// names in `types`.
fn resolve(
    place: &str,
    type_name: &str,
    acc: &Acc,
    index: &AvailabilityIndex,
    conflicts: &mut Vec<Conflict>,
    types: &mut Namespace,
) -> Result<Type, GenError> {
    let enum_def = |types: &mut Namespace| -> Result<Option<EnumDef>, GenError> {
        if acc.values.is_empty() || acc.unlisted {
            return Ok(None);
        }
        types.claim(type_name, format!("the values of `{place}`"))?;
        // `Err` would make the `FromStr` impl's `Self::Err` ambiguous.
        let mut ns = Namespace::with_reserved(format!("enum `{type_name}`"), &["Err"]);
        ns.claim(
            "Unknown",
            "the catch-all for values this release does not know",
        )?;
        let mut values = Vec::new();
        for v in &acc.values {
            let mut variant = names::camel(v);
            if variant == "Unknown" || variant == "Err" {
                variant.push_str("Value");
            }
            if variant.is_empty() {
                variant = "Empty".to_owned();
            }
            ns.claim(
                &variant,
                format!("value `{}` of `{place}`", v.escape_debug()),
            )?;
            values.push((v.clone(), variant));
        }
        Ok(Some(EnumDef {
            rust: type_name.to_owned(),
            values,
        }))
    };
    let map = |t: &DataType, types: &mut Namespace| -> Result<Type, GenError> {
        map_type(t, &mut || enum_def(types))
    };
    if acc.types.len() == 1 {
        return map(&acc.types[0].0, types);
    }
    let union = format!("{type_name}Type");
    types.claim(&union, format!("the types of `{place}`"))?;
    let mut variants = Vec::new();
    let mut seen = Vec::new();
    for (t, rels) in &acc.types {
        let ty = map(t, types)?;
        let variant = match t {
            DataType::List(_) => "List".to_owned(),
            DataType::Model(m) => names::model_type(m),
            other => names::camel(&other.to_string()),
        };
        seen.push((t.to_string(), crate::ranges_text(&index.ranges(rels))));
        variants.push((variant, ty));
    }
    conflicts.push(Conflict {
        place: place.to_owned(),
        types: seen,
        resolution: format!("untagged enum `{union}`, newest type first"),
    });
    Ok(Type::Union(UnionDef {
        rust: union,
        variants,
    }))
}

fn map_type(
    t: &DataType,
    enum_def: &mut dyn FnMut() -> Result<Option<EnumDef>, GenError>,
) -> Result<Type, GenError> {
    Ok(match t {
        DataType::Void => Type::Object,
        DataType::String => match enum_def()? {
            Some(e) => Type::Enum(e),
            None => Type::String,
        },
        DataType::Int | DataType::Long => Type::Int,
        DataType::Double => Type::Double,
        DataType::Boolean => Type::Bool,
        DataType::Date => Type::Date,
        DataType::Object => Type::Object,
        DataType::Containers => Type::Containers,
        DataType::Binary => Type::Binary,
        DataType::List(inner) => Type::List(Box::new(map_type(inner, enum_def)?)),
        DataType::Model(m) => Type::Model(names::model_type(m)),
    })
}

fn build_resources(
    revs: &[(&str, &Revision, BTreeSet<Release>)],
    index: &AvailabilityIndex,
    conflicts: &mut Vec<Conflict>,
) -> Result<BTreeMap<String, Resource>, GenError> {
    struct OpAcc {
        op: swagger::Operation,
        path: String,
        revisions: usize,
        responses: Vec<(DataType, BTreeSet<Release>)>,
        params: Vec<(String, swagger::Parameter, Acc)>,
        errors: BTreeMap<u16, String>,
    }
    let mut res_ops: BTreeMap<String, Vec<(String, OpAcc)>> = BTreeMap::new();
    // Position of each operation in `res_ops` and of each parameter in its `params`, so that
    // merging stays linear in the number of operations and parameters.
    let mut op_pos: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut param_pos: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    // Where each operation and parameter was first seen, for errors.
    let mut origin: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (rev_name, rev, rels) in revs {
        for (res, decl) in &rev.resources {
            let ops = res_ops.entry(res.clone()).or_default();
            for (ai, api) in decl.apis.iter().enumerate() {
                for (oi, op) in api.operations.iter().enumerate() {
                    let at = format!("{rev_name}/api-docs/{res}.json: apis[{ai}].operations[{oi}]");
                    let pos = match op_pos.get(&(res.clone(), op.nickname.clone())) {
                        Some(&p) => p,
                        None => {
                            op_pos.insert((res.clone(), op.nickname.clone()), ops.len());
                            origin.insert(
                                (res.clone(), op.nickname.clone(), String::new()),
                                format!("{at}.nickname"),
                            );
                            ops.push((
                                op.nickname.clone(),
                                OpAcc {
                                    op: op.clone(),
                                    path: api.path.clone(),
                                    revisions: 0,
                                    responses: Vec::new(),
                                    params: Vec::new(),
                                    errors: BTreeMap::new(),
                                },
                            ));
                            ops.len() - 1
                        }
                    };
                    let acc = &mut ops[pos].1;
                    if acc.path != api.path || acc.op.http_method != op.http_method {
                        return Err(GenError::Spec(format!(
                            "{rev_name}: {res}.{} is `{} {}` here but `{} {}` in a newer revision",
                            op.nickname, op.http_method, api.path, acc.op.http_method, acc.path
                        )));
                    }
                    acc.revisions += 1;
                    let rt = DataType::parse(&op.response_class)
                        .map_err(|e| GenError::Spec(format!("{at}.responseClass: {e}")))?;
                    match acc.responses.iter_mut().find(|(t, _)| *t == rt) {
                        Some((_, r)) => r.extend(rels.iter().copied()),
                        None => acc.responses.push((rt, rels.clone())),
                    }
                    for e in &op.error_responses {
                        acc.errors.entry(e.code).or_insert_with(|| e.reason.clone());
                    }
                    for (pi, p) in op.parameters.iter().enumerate() {
                        let pat = format!("{at}.parameters[{pi}]");
                        let ty = DataType::parse(&p.data_type)
                            .map_err(|e| GenError::Spec(format!("{pat}.dataType: {e}")))?;
                        let key = (res.clone(), op.nickname.clone(), p.name.clone());
                        let i = match param_pos.get(&key) {
                            Some(&i) => i,
                            None => {
                                param_pos.insert(key.clone(), acc.params.len());
                                origin.insert(key, format!("{pat}.name"));
                                acc.params.push((p.name.clone(), p.clone(), Acc::new()));
                                acc.params.len() - 1
                            }
                        };
                        let (_, first, pacc) = &mut acc.params[i];
                        if first.param_type != p.param_type {
                            return Err(GenError::Spec(format!(
                                "{rev_name}: parameter `{}` of {res}.{} travels in `{}` here but in `{}` in a newer revision",
                                p.name, op.nickname, p.param_type, first.param_type
                            )));
                        }
                        pacc.add(ty, rels, p.required, &p.description, &p.allowable_values);
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut modules = Namespace::new("module `ops`");
    // The `Client` methods: the runtime's own, and one entry point per resource.
    let mut client_methods = Namespace::with_reserved(
        "the methods of `Client`",
        crate::emit::RUNTIME_CLIENT_METHODS,
    );
    for (res, ops) in res_ops {
        let module = names::snake(&res);
        let res_origin = format!("resource `{res}`");
        modules.claim(&module, &res_origin)?;
        client_methods.claim(&crate::emit::accessor_of(&module), &res_origin)?;
        // The entry type has `new`; a handle has `new`, `id`, `client` and its id accessors.
        let mut reserved_fns = vec!["new".to_owned(), "id".to_owned(), "client".to_owned()];
        reserved_fns.extend(crate::kinds::handle_ids(&res).map(names::snake));
        let reserved_fns: Vec<&str> = reserved_fns.iter().map(String::as_str).collect();
        let mut fns =
            Namespace::with_reserved(format!("resource `{res}` (methods)"), &reserved_fns);
        let mut consts = Namespace::new(format!("module `{module}` (constants)"));
        let mut types =
            Namespace::with_reserved(format!("module `{module}` (types)"), names::RESERVED_TYPES);
        types.claim(&names::camel(&res), "the resource's entry type")?;
        let mut operations = Vec::new();
        for (nick, acc) in ops {
            let nick_origin = format!(
                "operation `{}` ({})",
                nick.escape_debug(),
                origin[&(res.clone(), nick.clone(), String::new())]
            );
            let rust = names::snake(&nick);
            fns.claim(&rust, &nick_origin)?;
            consts.claim(&rust.to_uppercase(), &nick_origin)?;
            if acc
                .op
                .upgrade
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
            {
                consts.claim(
                    &format!("{}_PROTOCOL", rust.to_uppercase()),
                    format!("the WebSocket protocol of {nick_origin}"),
                )?;
            }
            let builder = names::camel(&nick);
            types.claim(&builder, format!("the builder of {nick_origin}"))?;
            // A builder has the field `client` and the method `send` besides one per parameter.
            let mut pns = Namespace::with_reserved(
                format!("parameters of `{res}.{nick}`"),
                &["client", "send"],
            );
            let mut params = Vec::new();
            for (wire, first, pacc) in &acc.params {
                let prust = names::snake(wire);
                pns.claim(
                    &prust,
                    format!(
                        "parameter `{}` ({})",
                        wire.escape_debug(),
                        origin[&(res.clone(), nick.clone(), wire.clone())]
                    ),
                )?;
                let place = format!("{res}.{nick}({wire})");
                let ty = resolve(
                    &place,
                    &format!("{builder}{}", names::camel(wire)),
                    pacc,
                    index,
                    conflicts,
                    &mut types,
                )?;
                let location = match first.param_type.as_str() {
                    "path" => Location::Path,
                    "body" => Location::Body,
                    _ => Location::Query,
                };
                params.push(Param {
                    wire: wire.clone(),
                    rust: prust,
                    location,
                    ty,
                    multiple: first.allow_multiple,
                    required: location == Location::Path
                        || (pacc.required_everywhere && pacc.revisions == acc.revisions),
                    description: pacc.description.clone(),
                    default: first.default_value.as_ref().map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                    range: pacc.range,
                    availability: index.ranges_of(&Item::parameter(&res, &nick, wire)),
                });
            }
            let response = if acc.responses.len() == 1 && acc.responses[0].0 == DataType::Void {
                None
            } else {
                let racc = Acc {
                    types: acc.responses.clone(),
                    ..Acc::new()
                };
                let place = format!("{res}.{nick} -> response");
                Some(resolve(
                    &place,
                    &format!("{builder}Response"),
                    &racc,
                    index,
                    conflicts,
                    &mut types,
                )?)
            };
            operations.push(Operation {
                summary: acc.op.summary.clone().unwrap_or_default(),
                notes: acc.op.notes.clone(),
                method: acc.op.http_method.clone(),
                path: acc.path.clone(),
                params,
                response,
                errors: acc.errors.into_iter().collect(),
                availability: index.ranges_of(&Item::operation(&res, &nick)),
                websocket: acc
                    .op
                    .upgrade
                    .as_deref()
                    .filter(|u| u.eq_ignore_ascii_case("websocket"))
                    .map(|_| acc.op.websocket_protocol.clone().unwrap_or_default()),
                nickname: nick,
                rust,
                builder,
            });
        }
        out.insert(
            res.clone(),
            Resource {
                wire: res,
                module,
                operations,
            },
        );
    }
    Ok(out)
}

impl Api {
    /// Asserts that, for every release, the operations, models and events whose availability
    /// includes it number exactly what its revision holds.
    fn check_counts(&self, index: &AvailabilityIndex) -> Result<(), GenError> {
        let has = |ranges: &[ReleaseRange], r: Release| {
            ranges
                .iter()
                .any(|x| x.first.major == r.major && r >= x.first && x.last.is_none_or(|l| r <= l))
        };
        for (&r, &(ops, models, events)) in &self.counts {
            let got_ops = self
                .resources
                .values()
                .flat_map(|res| &res.operations)
                .filter(|o| has(&o.availability, r))
                .count();
            let bases = BASES
                .iter()
                .filter(|b| !index.releases_of(&Item::Model(b.to_string())).is_empty())
                .filter(|b| index.releases_of(&Item::Model(b.to_string())).contains(&r))
                .count();
            let got_models = self
                .models
                .values()
                .chain(self.events.values())
                .filter(|m| has(&m.availability, r))
                .count()
                + bases;
            let got_events = self
                .events
                .values()
                .filter(|m| m.wire != "MissingParams" && has(&m.availability, r))
                .count();
            if (got_ops, got_models, got_events) != (ops, models, events) {
                return Err(GenError::Count {
                    release: r.to_string(),
                    expected: (ops, models, events),
                    got: (got_ops, got_models, got_events),
                });
            }
        }
        Ok(())
    }
}
