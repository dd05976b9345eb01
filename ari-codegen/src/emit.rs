//! IR -> tokens -> formatted files.
//!
//! The generated code targets the hand-written runtime of `ari-sdk`: `crate::meta` (static
//! operation descriptions), `crate::Request` and `crate::Client::{send_json, send_unit,
//! send_binary}`, `crate::Error::invalid_argument`, and `crate::decode` (event and enum decoding).

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Api, EnumDef, Field, Location, Model, Operation, Param, Resource, Type, UnionDef};
use crate::names::{ident, snake};
use crate::{COMMAND, GenError, ranges_text};

/// The items of the `ari-sdk` runtime that generated code calls: inside `ari-sdk` they are
/// `crate::...`; bindings generated for a user's crate ([`Api::runtime`] = `ari_sdk`) call them
/// as `ari_sdk::...`. This list is the runtime surface that ari-sdk keeps stable for them.
pub const RUNTIME_ITEMS: &[&str] = &[
    "meta",
    "Client",
    "Error",
    "Request",
    "RequestFuture",
    "Result",
    "decode",
];

/// Rewrites `crate::<runtime item>` to `<runtime>::<runtime item>` everywhere in `tokens`.
fn retarget(tokens: TokenStream, runtime: &TokenStream) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        let is_crate_path = matches!(&trees[i], TokenTree::Ident(id) if id == "crate")
            && matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':')
            && matches!(trees.get(i + 2), Some(TokenTree::Punct(p)) if p.as_char() == ':')
            && matches!(trees.get(i + 3), Some(TokenTree::Ident(id)) if RUNTIME_ITEMS.iter().any(|r| id == r));
        if is_crate_path {
            out.extend(runtime.clone());
            i += 1;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), retarget(g.stream(), runtime));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            t => out.push(t.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// Emits every file of a set of bindings. With [`Api::runtime`] other than `crate`, the files are
/// for a user's crate: they call the runtime through that path, and the client's resource
/// accessors (`client.channels()`) come from the trait `ops::Resources` instead of an inherent
/// impl.
pub fn emit(api: &Api) -> Result<BTreeMap<String, String>, GenError> {
    emit_files(api, false)
}

/// Emits ari-sdk's own bindings: every file of [`emit`], and `resources.rs`, the resource kinds
/// (`ResourceRef`, `ResourceKey`, the events that end each, resync) that the runtime itself uses
/// and that every set of bindings (a fixture's, a user's) refers to.
pub fn emit_sdk(api: &Api) -> Result<BTreeMap<String, String>, GenError> {
    emit_files(api, true)
}

fn emit_files(api: &Api, sdk: bool) -> Result<BTreeMap<String, String>, GenError> {
    let mut files = BTreeMap::new();
    let external = api.runtime != "crate";
    let runtime: TokenStream = api
        .runtime
        .parse()
        .map_err(|e| GenError::Spec(format!("runtime path `{}`: {e}", api.runtime)))?;
    let mut add = |name: &str, doc: &str, tokens: TokenStream| -> Result<(), GenError> {
        let tokens = if external {
            retarget(tokens, &runtime)
        } else {
            tokens
        };
        files.insert(name.to_owned(), format_file(name, doc, tokens)?);
        Ok(())
    };
    add(
        "mod.rs",
        "Bindings generated from Asterisk's ARI spec files.",
        emit_mod(sdk),
    )?;
    if sdk {
        add(
            "resources.rs",
            "Resource kinds: what events are routed by, the events that end each kind, and how a \
             resync after a reconnect finds out which still exist.",
            emit_resources(api),
        )?;
    }
    add(
        "models.rs",
        "ARI models (everything but events).",
        emit_models(api),
    )?;
    add(
        "events.rs",
        "ARI events: one struct per event type, and the [`Event`] enum.",
        emit_events(api),
    )?;
    add(
        "releases.rs",
        "The releases the bindings know, and which of them ship each model, field and event.",
        emit_releases(api),
    )?;
    add(
        "handles.rs",
        "Handles: one resource instance (a channel, a bridge, ...) with every operation on it as a method.",
        emit_handles(api),
    )?;
    let mut ops_mod = Vec::new();
    for res in api.resources.values() {
        add(
            &format!("ops/{}.rs", res.module),
            &format!("Operations of the `{}` resource.", res.wire),
            emit_resource(api, res),
        )?;
        ops_mod.push(res);
    }
    add(
        "ops/mod.rs",
        "One module per ARI resource file, and the client's entry points to them.",
        emit_ops_mod(&ops_mod, external),
    )?;
    Ok(files)
}

pub(crate) fn format_file(name: &str, doc: &str, tokens: TokenStream) -> Result<String, GenError> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| GenError::Syntax {
        file: name.to_owned(),
        error: e.to_string(),
    })?;
    Ok(format!(
        "// @generated by `{COMMAND}` from the ARI spec corpus: do not edit.\n\n//! {doc}\n\n{}",
        space_items(&prettyplease::unparse(&file))
    ))
}

/// prettyplease puts items right after one another; a blank line between items (and between
/// documented fields and variants) makes the generated source readable.
fn space_items(src: &str) -> String {
    const ITEM_STARTS: &[&str] = &[
        "///",
        "#[",
        "pub ",
        "pub(",
        "impl ",
        "impl<",
        "fn ",
        "async fn ",
        "const ",
        "static ",
        "struct ",
        "enum ",
        "type ",
        "mod ",
        "use ",
    ];
    let mut out = String::with_capacity(src.len() + src.len() / 16);
    let mut prev: Option<&str> = None;
    for line in src.lines() {
        if let Some(p) = prev {
            let indent = |l: &str| l.len() - l.trim_start().len();
            let (pt, t) = (p.trim(), line.trim_start());
            let same_level = indent(p) == indent(line);
            let after_item =
                matches!(pt, "}" | "};") && ITEM_STARTS.iter().any(|s| t.starts_with(s));
            let after_member = pt.ends_with(',') && t.starts_with("///");
            // An associated constant (`pub const INFO: .. ;`) before the next documented item.
            let after_const = pt.ends_with(';')
                && (pt.starts_with("pub const ") || pt.starts_with("const "))
                && t.starts_with("///");
            if same_level && (after_item || after_member || after_const) {
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
        prev = Some(line);
    }
    out
}

/// Spec text as doc attributes. Lines are trimmed so that indentation never turns into a doctest,
/// and brackets and angle brackets are escaped so that rustdoc reads them as text.
fn doc(text: &str) -> TokenStream {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            let escaped = l
                .replace('\\', "\\\\")
                .replace('[', "\\[")
                .replace(']', "\\]")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!(" {escaped}")
        })
        .collect();
    let lines = lines.iter().map(|l| l.trim_end().to_owned());
    quote! { #( #[doc = #lines] )* }
}

/// Text written by the generator itself, whose brackets are intra-doc links: not escaped.
fn doc_linked(text: &str) -> TokenStream {
    let lines = text
        .lines()
        .map(|l| format!(" {}", l.trim()).trim_end().to_owned());
    quote! { #( #[doc = #lines] )* }
}

/// The releases line of an item's docs. The part of the availability that is every release of
/// the corpus from some release on (in version order) reads as one phrase ("every release
/// since 20.0.0") instead of a range per release line; the ranges before it are listed.
pub(crate) fn releases_doc(api: &Api, ranges: &[ari_spec::ReleaseRange]) -> String {
    if ranges.is_empty() {
        return "Releases: none of the known releases.".to_owned();
    }
    let covered = |r: &ari_spec::Release| {
        ranges
            .iter()
            .any(|g| g.first.major == r.major && *r >= g.first && g.last.is_none_or(|l| *r <= l))
    };
    // The first release from which every later one (in version order) ships the item.
    let mut since = None;
    for r in api.releases.iter().rev() {
        if !covered(r) {
            break;
        }
        since = Some(*r);
    }
    // Within the newest line alone, `23.4.0+` says it better than a phrase.
    let newest = api.releases.last().map(|r| r.major);
    let Some(since) = since.filter(|s| Some(s.major) != newest) else {
        return format!("Releases: {}.", ranges_text(ranges));
    };
    let before: Vec<ari_spec::ReleaseRange> =
        ranges.iter().filter(|g| g.first < since).cloned().collect();
    match before.is_empty() {
        true => format!("Releases: every release since {since}."),
        false => format!(
            "Releases: {}, and every release since {since}.",
            ranges_text(&before)
        ),
    }
}

/// The releases line of a part (a field, a parameter), or nothing when the part ships wherever
/// its parent (the model, the operation) does.
fn part_releases_doc(
    api: &Api,
    ranges: &[ari_spec::ReleaseRange],
    parent: &[ari_spec::ReleaseRange],
) -> Option<String> {
    (ranges != parent).then(|| releases_doc(api, ranges))
}

/// A reference to the shared constant that holds `ranges` (defined once in `releases.rs`).
fn availability(api: &Api, ranges: &[ari_spec::ReleaseRange]) -> TokenStream {
    let root = root(api);
    match api.lookup.availability.get(&ranges_text(ranges)).copied() {
        Some(i) => {
            let name = format_ident!("AVAILABILITY_{}", i);
            quote! { #root::releases::#name }
        }
        None => availability_value(ranges),
    }
}

/// The literal value of an availability.
fn availability_value(ranges: &[ari_spec::ReleaseRange]) -> TokenStream {
    let items = ranges.iter().map(|r| {
        let first = release(r.first);
        let last = match r.last {
            Some(l) => {
                let l = release(l);
                quote! { Some(#l) }
            }
            None => quote! { None },
        };
        quote! { crate::meta::ReleaseRange { first: #first, last: #last } }
    });
    quote! { crate::meta::Availability { ranges: &[#(#items),*] } }
}

fn release(r: ari_spec::Release) -> TokenStream {
    let (a, b, c) = (
        Literal::u16_unsuffixed(r.major),
        Literal::u16_unsuffixed(r.minor),
        Literal::u16_unsuffixed(r.patch),
    );
    quote! { crate::meta::Release::new(#a, #b, #c) }
}

/// Where a model's type lives.
fn model_path(api: &Api, rust: &str) -> TokenStream {
    let id = ident(rust);
    let root = root(api);
    if api.lookup.event_types.contains(rust) {
        quote! { #root::events::#id }
    } else {
        quote! { #root::models::#id }
    }
}

/// The bindings' module path as tokens.
fn root(api: &Api) -> TokenStream {
    api.root
        .parse()
        .unwrap_or_else(|_| quote! { crate::generated })
}

fn ty(api: &Api, t: &Type) -> TokenStream {
    match t {
        Type::String | Type::Date => quote! { String },
        Type::Int => quote! { i64 },
        Type::Double => quote! { f64 },
        Type::Bool => quote! { bool },
        Type::Object => quote! { serde_json::Value },
        Type::Containers => quote! { std::collections::BTreeMap<String, String> },
        Type::Binary => quote! { bytes::Bytes },
        Type::List(inner) => {
            let inner = ty(api, inner);
            quote! { Vec<#inner> }
        }
        Type::Model(m) => model_path(api, m),
        Type::Enum(e) => {
            let id = ident(&e.rust);
            quote! { #id }
        }
        Type::Union(u) => {
            let id = ident(&u.rust);
            quote! { #id }
        }
    }
}

/// Enum and union definitions a type needs, collected for emission in the using module.
fn collect_defs(
    t: &Type,
    enums: &mut BTreeMap<String, EnumDef>,
    unions: &mut BTreeMap<String, UnionDef>,
) {
    match t {
        Type::Enum(e) => {
            enums.insert(e.rust.clone(), e.clone());
        }
        Type::Union(u) => {
            for (_, v) in &u.variants {
                collect_defs(v, enums, unions);
            }
            unions.insert(u.rust.clone(), u.clone());
        }
        Type::List(inner) => collect_defs(inner, enums, unions),
        _ => {}
    }
}

fn emit_enum(e: &EnumDef, place: &str) -> TokenStream {
    let name = ident(&e.rust);
    let variants: Vec<_> = e.values.iter().map(|(_, v)| ident(v)).collect();
    let wires: Vec<_> = e.values.iter().map(|(w, _)| w.as_str()).collect();
    let variant_docs = wires.iter().map(|w| doc(&format!("`{w}`")));
    let docs = doc(&format!(
        "The values of `{place}`.\n\n`Unknown` carries a value that the spec of no known release lists; it \
         round-trips unchanged."
    ));
    quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #( #variant_docs #variants, )*
            /// A value no known release lists, kept as received.
            Unknown(String),
        }
        impl #name {
            /// Every value the spec lists, as sent on the wire.
            pub const VALUES: &'static [&'static str] = &[#(#wires),*];
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#variants => #wires, )*
                    Self::Unknown(other) => other,
                }
            }
            /// Whether the value is one the spec lists.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }
        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #( #wires => Self::#variants, )*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }
        impl From<String> for #name {
            fn from(value: String) -> Self {
                match Self::from(value.as_str()) {
                    Self::Unknown(_) => Self::Unknown(value),
                    known => known,
                }
            }
        }
        impl std::str::FromStr for #name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }
        impl std::fmt::Display for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::decode::str_enum(deserializer)
            }
        }
    }
}

fn emit_union(api: &Api, u: &UnionDef, place: &str) -> TokenStream {
    let name = ident(&u.rust);
    let variants = u.variants.iter().map(|(v, t)| {
        let v = ident(v);
        let t = ty(api, t);
        quote! { #[doc = " The type as one group of releases defines it."] #v(#t) }
    });
    let docs = doc(&format!(
        "The releases disagree on the type of `{place}`: this holds whichever a server sends, \
         trying the newest release's type first."
    ));
    quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum #name { #(#variants,)* }
    }
}

fn field_tokens(api: &Api, f: &Field, parent: &[ari_spec::ReleaseRange]) -> TokenStream {
    let name = ident(&f.rust);
    let base = ty(api, &f.ty);
    let base = if f.boxed {
        quote! { Box<#base> }
    } else {
        base
    };
    let mut text = f.description.clone().unwrap_or_default();
    if let Some((min, max)) = f.range {
        text.push_str(&format!("\n\nRange: {} to {}.", bound(min), bound(max)));
    }
    if let Some(r) = part_releases_doc(api, &f.availability, parent) {
        text.push_str(&format!("\n\n{r}"));
    }
    if text.trim().is_empty() {
        text = format!("`{}` (the spec does not describe it).", f.wire);
    }
    let docs = doc(text.trim_start());
    let rename = (f.rust.trim_start_matches("r#") != f.wire).then(|| {
        let w = &f.wire;
        quote! { #[serde(rename = #w)] }
    });
    if f.optional {
        quote! {
            #docs
            #rename
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub #name: Option<#base>
        }
    } else {
        quote! { #docs #rename pub #name: #base }
    }
}

fn bound(b: Option<f64>) -> String {
    b.map(|v| v.to_string())
        .unwrap_or_else(|| "unbounded".to_owned())
}

fn emit_struct(
    api: &Api,
    m: &Model,
) -> (
    TokenStream,
    BTreeMap<String, EnumDef>,
    BTreeMap<String, UnionDef>,
) {
    let name = ident(&m.rust);
    let mut text = m.description.clone().unwrap_or_default();
    text.push_str(&format!("\n\n{}", releases_doc(api, &m.availability)));
    let docs = doc(text.trim_start());
    let fields = m
        .fields
        .iter()
        .map(|f| field_tokens(api, f, &m.availability));
    let (mut enums, mut unions) = (BTreeMap::new(), BTreeMap::new());
    for f in &m.fields {
        collect_defs(&f.ty, &mut enums, &mut unions);
    }
    let avail = availability(api, &m.availability);
    let wire = &m.wire;
    let tokens = quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[non_exhaustive]
        pub struct #name { #(#fields,)* }
        impl #name {
            /// The model's name in the spec.
            pub const WIRE_NAME: &'static str = #wire;
            /// The releases that ship this model.
            pub const AVAILABILITY: crate::meta::Availability = #avail;
        }
    };
    (tokens, enums, unions)
}

fn emit_defs(
    api: &Api,
    enums: &BTreeMap<String, EnumDef>,
    unions: &BTreeMap<String, UnionDef>,
) -> TokenStream {
    let e = enums.values().map(|e| emit_enum(e, &e.rust));
    let u = unions.values().map(|u| emit_union(api, u, &u.rust));
    quote! { #(#e)* #(#u)* }
}

/// The structs of `models`, followed by the enums and unions their fields use.
fn emit_structs<'a>(api: &Api, models: impl Iterator<Item = &'a Model>) -> TokenStream {
    let (mut enums, mut unions) = (BTreeMap::new(), BTreeMap::new());
    let structs: Vec<_> = models
        .map(|m| {
            let (t, e, u) = emit_struct(api, m);
            enums.extend(e);
            unions.extend(u);
            t
        })
        .collect();
    let defs = emit_defs(api, &enums, &unions);
    quote! { #(#structs)* #defs }
}

fn emit_models(api: &Api) -> TokenStream {
    emit_structs(api, api.models.values())
}

/// How an event's field names a resource, for routing: a field whose model is a routed kind's.
fn resource_ref(api: &Api, f: &Field) -> Option<TokenStream> {
    let Type::Model(m) = &f.ty else { return None };
    let kind = api.kinds.iter().find(|k| k.routed && k.model_rust == *m)?;
    let variant = ident(kind.spec.kind);
    let name = ident(&f.rust);
    let value = match kind.ids.as_slice() {
        [key] => {
            let k = ident(&key.rust);
            if key.optional {
                quote! { if let Some(id) = &v.#k { f(crate::meta::ResourceRef::#variant(id)); } }
            } else {
                quote! { f(crate::meta::ResourceRef::#variant(&v.#k)); }
            }
        }
        ids => {
            let names: Vec<_> = ids.iter().map(|i| ident(&i.rust)).collect();
            if ids.iter().all(|i| !i.optional) {
                quote! { f(crate::meta::ResourceRef::#variant { #(#names: &v.#names),* }); }
            } else {
                let values = ids.iter().zip(&names).map(|(i, n)| {
                    if i.optional {
                        quote! { v.#n.as_deref() }
                    } else {
                        quote! { Some(v.#n.as_str()) }
                    }
                });
                quote! {
                    if let (#(Some(#names)),*) = (#(#values),*) {
                        f(crate::meta::ResourceRef::#variant { #(#names),* });
                    }
                }
            }
        }
    };
    Some(wrap_optional(f.optional, &name, value))
}

fn wrap_optional(optional: bool, name: &proc_macro2::Ident, body: TokenStream) -> TokenStream {
    if optional {
        quote! { if let Some(v) = &e.#name { #body } }
    } else {
        quote! { { let v = &e.#name; #body } }
    }
}

fn emit_events(api: &Api) -> TokenStream {
    let structs = emit_structs(api, api.events.values());
    let events: Vec<&Model> = api.events.values().collect();
    let vars: Vec<_> = events.iter().map(|m| ident(&m.rust)).collect();
    let wires: Vec<_> = events.iter().map(|m| m.wire.as_str()).collect();
    let var_docs: Vec<_> = events
        .iter()
        .map(|m| {
            let first = m
                .description
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            doc(&format!(
                "{first}\n\n{}",
                releases_doc(api, &m.availability)
            ))
        })
        .collect();
    let application = events.iter().map(|m| {
        let v = ident(&m.rust);
        match m.fields.iter().find(|f| f.wire == "application") {
            Some(f) if f.optional => quote! { Event::#v(e) => e.application.as_deref(), },
            Some(_) => quote! { Event::#v(e) => Some(e.application.as_str()), },
            None => quote! { Event::#v(_) => None, },
        }
    });
    let timestamp = events.iter().map(|m| {
        let v = ident(&m.rust);
        match m.fields.iter().find(|f| f.wire == "timestamp") {
            Some(f) if f.optional => quote! { Event::#v(e) => e.timestamp.as_deref(), },
            Some(_) => quote! { Event::#v(e) => Some(e.timestamp.as_str()), },
            None => quote! { Event::#v(_) => None, },
        }
    });
    let mut any_ref = false;
    let visits: Vec<_> = events
        .iter()
        .map(|m| {
            let v = ident(&m.rust);
            let refs: Vec<_> = m
                .fields
                .iter()
                .filter_map(|f| resource_ref(api, f))
                .collect();
            any_ref |= !refs.is_empty();
            if refs.is_empty() {
                quote! { Event::#v(_) => {} }
            } else {
                quote! { Event::#v(e) => { #(#refs)* } }
            }
        })
        .collect();
    let visitor = if any_ref {
        quote! { mut f }
    } else {
        quote! { _f }
    };
    quote! {
        #structs

        /// An event from the events WebSocket, decoded by its `type`.
        ///
        /// One variant per event type that any known release sends, plus `MissingParams` (a
        /// message, not an event, that shares the socket), plus `Unknown`: an event type no known
        /// release has decodes to `Unknown` with its raw JSON, never to an error.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            #( #var_docs #vars(Box<#vars>), )*
            /// An event type that no known release sends, kept whole.
            Unknown {
                /// Its `type`.
                kind: String,
                /// The whole JSON object, `type` included.
                raw: serde_json::Value,
            },
        }

        /// The type of an [`Event`], without its payload.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            #( #var_docs #vars, )*
            /// An event type that no known release sends.
            Unknown,
        }

        impl EventKind {
            /// Every known kind.
            pub const ALL: &'static [EventKind] = &[#(EventKind::#vars),*];
            /// The `type` string on the wire (`"Unknown"` for unknown kinds).
            pub fn as_str(self) -> &'static str {
                match self { #( EventKind::#vars => #wires, )* EventKind::Unknown => "Unknown" }
            }
            /// The kind with this `type` string, if it is a known one.
            pub fn from_type(name: &str) -> Option<EventKind> {
                match name { #( #wires => Some(EventKind::#vars), )* _ => None }
            }
            /// The releases that send this event (none for `Unknown`).
            pub fn availability(self) -> crate::meta::Availability {
                match self {
                    #( EventKind::#vars => #vars::AVAILABILITY, )*
                    EventKind::Unknown => crate::meta::Availability { ranges: &[] },
                }
            }
        }

        impl std::fmt::Display for EventKind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Event {
            /// The event's kind.
            pub fn kind(&self) -> EventKind {
                match self { #( Event::#vars(_) => EventKind::#vars, )* Event::Unknown { .. } => EventKind::Unknown }
            }
            /// The `type` string as received.
            pub fn type_name(&self) -> &str {
                match self { #( Event::#vars(_) => #wires, )* Event::Unknown { kind, .. } => kind }
            }
            /// The application the event was sent to.
            pub fn application(&self) -> Option<&str> {
                match self {
                    #(#application)*
                    Event::Unknown { raw, .. } => raw.get("application").and_then(|v| v.as_str()),
                }
            }
            /// When Asterisk raised the event.
            pub fn timestamp(&self) -> Option<&str> {
                match self {
                    #(#timestamp)*
                    Event::Unknown { raw, .. } => raw.get("timestamp").and_then(|v| v.as_str()),
                }
            }
            /// Calls `f` with each channel, bridge, playback, live recording, endpoint and device
            /// state the event carries, so that it can be routed to whoever owns them.
            pub fn visit_resources<'a>(&'a self, #visitor: impl FnMut(crate::meta::ResourceRef<'a>)) {
                match self {
                    #(#visits)*
                    Event::Unknown { .. } => {}
                }
            }
        }

        impl crate::decode::Tagged for Event {
            const EXPECTING: &'static str = "an ARI event: a JSON object with a `type`";

            fn from_map<'de, A: serde::de::MapAccess<'de>>(kind: &str, map: A) -> Result<Self, A::Error> {
                use serde::Deserialize as _;
                let de = serde::de::value::MapAccessDeserializer::new(map);
                Ok(match kind {
                    #( #wires => Event::#vars(Box::new(#vars::deserialize(de)?)), )*
                    _ => Event::Unknown { kind: kind.to_owned(), raw: crate::decode::with_type(kind, serde_json::Map::deserialize(de)?) },
                })
            }

        }

        impl<'de> serde::Deserialize<'de> for Event {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::decode::tagged(deserializer)
            }
        }

        impl serde::Serialize for Event {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::Error as _;
                let value = match self {
                    #( Event::#vars(e) => serde_json::to_value(e).map_err(S::Error::custom)?, )*
                    Event::Unknown { raw, .. } => return raw.serialize(serializer),
                };
                let serde_json::Value::Object(map) = value else {
                    return Err(S::Error::custom("an event serialized to something other than an object"));
                };
                crate::decode::with_type(self.type_name(), map).serialize(serializer)
            }
        }
    }
}

fn emit_releases(api: &Api) -> TokenStream {
    let releases = api.releases.iter().map(|r| release(*r));
    let majors = api.majors.iter().map(|m| Literal::u16_unsuffixed(*m));
    let mut models: Vec<(&str, &Model)> = api
        .models
        .values()
        .chain(api.events.values())
        .map(|m| (m.wire.as_str(), m))
        .collect();
    models.sort_by_key(|(w, _)| *w);
    let model_rows = models.iter().map(|(w, m)| {
        let a = availability(api, &m.availability);
        quote! { (#w, #a) }
    });
    let mut fields: Vec<(&str, &str, &Field)> = models
        .iter()
        .flat_map(|(w, m)| m.fields.iter().map(move |f| (*w, f.wire.as_str(), f)))
        .collect();
    fields.sort_by_key(|(m, f, _)| (*m, *f));
    let field_rows = fields.iter().map(|(m, w, f)| {
        let a = availability(api, &f.availability);
        quote! { (#m, #w, #a) }
    });
    let n = api.releases.len();
    let shared = api.availabilities.iter().enumerate().map(|(i, a)| {
        let name = format_ident!("AVAILABILITY_{}", i);
        let value = availability_value(a);
        let docs = doc(&releases_doc(api, a));
        quote! { #docs pub const #name: Availability = #value; }
    });
    quote! {
        use crate::meta::{Availability, Release};

        #(#shared)*

        /// Every release the bindings were generated from, ascending.
        pub static RELEASES: [Release; #n] = [#(#releases),*];

        /// The major lines the bindings know; a server of another line is gated by nothing.
        pub static KNOWN_MAJORS: &[u16] = &[#(#majors),*];

        /// Every model and event by wire name, with the releases that ship it; sorted by name.
        pub static MODELS: &[(&str, Availability)] = &[#(#model_rows),*];

        /// Every model field by (model, field) wire names, with the releases that ship it; sorted.
        pub static FIELDS: &[(&str, &str, Availability)] = &[#(#field_rows),*];

        /// The releases that ship a model or event, by its wire name.
        pub fn model(name: &str) -> Option<Availability> {
            MODELS.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| MODELS[i].1)
        }

        /// The releases that ship a model field, by wire names.
        pub fn field(model: &str, field: &str) -> Option<Availability> {
            FIELDS
                .binary_search_by(|(m, f, _)| (*m, *f).cmp(&(model, field)))
                .ok()
                .map(|i| FIELDS[i].2)
        }
    }
}

fn const_name(op: &Operation) -> proc_macro2::Ident {
    format_ident!("{}", snake(&op.nickname).to_uppercase())
}

fn param_info(api: &Api, p: &Param) -> TokenStream {
    let name = &p.wire;
    let loc = match p.location {
        Location::Path => quote! { Path },
        Location::Query => quote! { Query },
        Location::Body => quote! { Body },
    };
    let req = p.required;
    let a = availability(api, &p.availability);
    quote! { crate::meta::ParamInfo { name: #name, location: crate::meta::ParamLocation::#loc, required: #req, availability: #a } }
}

fn op_info(api: &Api, res: &Resource, op: &Operation) -> TokenStream {
    let cname = const_name(op);
    let (resource, nickname, method, path, summary) =
        (&res.wire, &op.nickname, &op.method, &op.path, &op.summary);
    let params = op.params.iter().map(|p| param_info(api, p));
    let errors = op
        .errors
        .iter()
        .map(|(c, r)| quote! { crate::meta::ErrorInfo { code: #c, reason: #r } });
    let a = availability(api, &op.availability);
    let docs = doc(&format!(
        "`{method} {path}`: {summary}\n\n{}",
        releases_doc(api, &op.availability)
    ));
    quote! {
        #docs
        pub static #cname: crate::meta::OperationInfo = crate::meta::OperationInfo {
            resource: #resource, nickname: #nickname, method: #method, path: #path, summary: #summary,
            params: &[#(#params),*], errors: &[#(#errors),*], availability: #a,
        };
    }
}

/// The argument type a setter or method takes for a parameter, and how it becomes the stored type.
fn arg(api: &Api, p: &Param) -> (TokenStream, TokenStream, TokenStream) {
    arg_in(api, p, &quote! {})
}

/// [`arg`], with the module path (`crate::generated::ops::channels::`) that enum and union types
/// need outside their own module.
fn arg_in(api: &Api, p: &Param, scope: &TokenStream) -> (TokenStream, TokenStream, TokenStream) {
    let name = ident(&p.rust);
    let one = |t: &Type| -> (TokenStream, TokenStream) {
        match t {
            Type::String | Type::Date => (quote! { impl Into<String> }, quote! { String }),
            Type::Enum(e) => {
                let id = ident(&e.rust);
                (quote! { impl Into<#scope #id> }, quote! { #scope #id })
            }
            Type::Object => (
                quote! { impl Into<serde_json::Value> },
                quote! { serde_json::Value },
            ),
            other => {
                let t = ty(api, other);
                (quote! { #t }, t)
            }
        }
    };
    if p.multiple {
        let (a, stored) = one(&p.ty);
        let conv = if a.to_string().starts_with("impl") {
            quote! { v.into() }
        } else {
            quote! { v }
        };
        (
            quote! { impl IntoIterator<Item = #a> },
            quote! { Vec<#stored> },
            quote! { #name.into_iter().map(|v| #conv).collect() },
        )
    } else if p.ty == Type::Containers {
        (
            quote! { impl IntoIterator<Item = (impl Into<String>, impl Into<String>)> },
            quote! { std::collections::BTreeMap<String, String> },
            quote! { #name.into_iter().map(|(k, v)| (k.into(), v.into())).collect() },
        )
    } else {
        let (a, stored) = one(&p.ty);
        let conv = if a.to_string().starts_with("impl") {
            quote! { #name.into() }
        } else {
            quote! { #name }
        };
        (a, stored, conv)
    }
}

/// Code that turns the stored value `v` of a parameter into what the request carries.
fn to_wire(p: &Param, info: &proc_macro2::Ident) -> TokenStream {
    let wire = &p.wire;
    let one = |t: &Type, v: TokenStream| -> (TokenStream, TokenStream) {
        match t {
            Type::String | Type::Date => (quote! {}, v),
            Type::Enum(e) => {
                let id = ident(&e.rust);
                (
                    quote! {
                        if !#v.is_known() {
                            return Err(crate::Error::invalid_argument(&#info, #wire, format!("`{}` is not one of {:?}", #v, #id::VALUES)));
                        }
                    },
                    quote! { #v.as_str().to_owned() },
                )
            }
            Type::Bool => (
                quote! {},
                quote! { if #v { "true".to_owned() } else { "false".to_owned() } },
            ),
            _ => (quote! {}, quote! { #v.to_string() }),
        }
    };
    let range = p.range.map(|(min, max)| {
        let lo = min.map(|m| quote! { if (v as f64) < #m { return Err(crate::Error::invalid_argument(&#info, #wire, format!("{v} is below the minimum {}", #m))); } });
        let hi = max.map(|m| quote! { if (v as f64) > #m { return Err(crate::Error::invalid_argument(&#info, #wire, format!("{v} is above the maximum {}", #m))); } });
        quote! { #lo #hi }
    });
    match p.location {
        // Asterisk reads a `containers` body parameter as a member named after it
        // (`{"variables": {...}}`) but an `object` one as the whole body (the event filter).
        Location::Body => {
            let put = if p.ty == Type::Object {
                quote! { body_whole }
            } else {
                quote! { body_param }
            };
            quote! {
                let value = serde_json::to_value(&v).map_err(|e| crate::Error::invalid_argument(&#info, #wire, e.to_string()))?;
                req.#put(#wire, value);
            }
        }
        Location::Path => {
            let (check, s) = one(&p.ty, quote! { v });
            quote! { #check let s = #s; req.path_param(#wire, &s); }
        }
        Location::Query if p.multiple => {
            let (check, s) = one(&p.ty, quote! { x });
            quote! {
                let mut parts = Vec::with_capacity(v.len());
                for x in &v {
                    let x = x.clone();
                    #check
                    parts.push(#s);
                }
                req.query(#wire, parts.join(","));
            }
        }
        Location::Query => {
            let (check, s) = one(&p.ty, quote! { v });
            quote! { #range #check req.query(#wire, #s); }
        }
    }
}

fn response_type(api: &Api, op: &Operation) -> (TokenStream, TokenStream) {
    match &op.response {
        None => (quote! { () }, quote! { send_unit }),
        Some(Type::Binary) => (quote! { bytes::Bytes }, quote! { send_binary }),
        Some(t) => (ty(api, t), quote! { send_json }),
    }
}

fn op_doc(api: &Api, op: &Operation) -> String {
    let mut text = format!("{}\n\n`{} {}`", op.summary, op.method, op.path);
    if let Some(n) = &op.notes {
        text.push_str(&format!("\n\n{n}"));
    }
    let required: Vec<&Param> = op.params.iter().filter(|p| p.required).collect();
    if !required.is_empty() {
        text.push_str("\n\nArguments:");
        for p in required {
            let what = p.description.as_deref().unwrap_or("").trim();
            let what = what.lines().map(str::trim).collect::<Vec<_>>().join(" ");
            text.push_str(&format!(
                "\n- `{}`: {what}",
                p.rust.trim_start_matches("r#")
            ));
            if let Some(r) = part_releases_doc(api, &p.availability, &op.availability) {
                text.push_str(&format!(" ({})", r.trim_end_matches('.')));
            }
        }
    }
    if !op.errors.is_empty() {
        text.push_str("\n\nErrors the spec documents:");
        for (c, r) in &op.errors {
            text.push_str(&format!("\n- {c}: {r}"));
        }
    }
    text.push_str(&format!("\n\n{}", releases_doc(api, &op.availability)));
    text
}

fn emit_resource(api: &Api, res: &Resource) -> TokenStream {
    let entry = ident(&crate::names::camel(&res.wire));
    let (mut enums, mut unions) = (BTreeMap::new(), BTreeMap::new());
    let mut methods = Vec::new();
    let mut items = Vec::new();
    for op in &res.operations {
        items.push(op_info(api, res, op));
        for p in &op.params {
            collect_defs(&p.ty, &mut enums, &mut unions);
        }
        if let Some(r) = &op.response {
            collect_defs(r, &mut enums, &mut unions);
        }
        if let Some(protocol) = &op.websocket {
            let cname = const_name(op);
            let pname = format_ident!("{}_PROTOCOL", cname);
            let docs = doc(&format!("The WebSocket subprotocol of `{}`.", op.nickname));
            items.push(quote! { #docs pub const #pname: &str = #protocol; });
            continue;
        }
        let builder = ident(&op.builder);
        let fname = ident(&op.rust);
        let info = const_name(op);
        let docs = doc(&op_doc(api, op));
        let required: Vec<&Param> = op.params.iter().filter(|p| p.required).collect();
        let optional: Vec<&Param> = op.params.iter().filter(|p| !p.required).collect();
        let req_args = required.iter().map(|p| {
            let n = ident(&p.rust);
            let (a, _, _) = arg(api, p);
            quote! { #n: #a }
        });
        let req_init = required.iter().map(|p| {
            let n = ident(&p.rust);
            let (_, _, conv) = arg(api, p);
            if n == conv.to_string() {
                quote! { #n }
            } else {
                quote! { #n: #conv }
            }
        });
        let opt_init = optional.iter().map(|p| {
            let n = ident(&p.rust);
            quote! { #n: None }
        });
        methods.push(quote! {
            #docs
            pub fn #fname(&self, #(#req_args),*) -> #builder {
                #builder { client: self.client.clone(), #(#req_init,)* #(#opt_init,)* }
            }
        });
        let fields = op.params.iter().map(|p| {
            let n = ident(&p.rust);
            let (_, stored, _) = arg(api, p);
            if p.required {
                quote! { #n: #stored }
            } else {
                quote! { #n: Option<#stored> }
            }
        });
        let setters = optional.iter().map(|p| {
            let n = ident(&p.rust);
            let (a, _, conv) = arg(api, p);
            let mut text = p
                .description
                .clone()
                .unwrap_or_else(|| format!("Sets `{}`.", p.wire));
            if let Some(d) = &p.default {
                text.push_str(&format!("\n\nServer default: `{d}`."));
            }
            if let Some((min, max)) = p.range {
                text.push_str(&format!(
                    "\n\nRange: {} to {}, checked before sending.",
                    bound(min),
                    bound(max)
                ));
            }
            if let Some(r) = part_releases_doc(api, &p.availability, &op.availability) {
                text.push_str(&format!("\n\n{r}"));
            }
            let pdocs = doc(&text);
            quote! { #pdocs pub fn #n(mut self, #n: #a) -> Self { self.#n = Some(#conv); self } }
        });
        let sends = op.params.iter().map(|p| {
            let n = ident(&p.rust);
            let body = to_wire(p, &info);
            if p.required {
                quote! { { let v = self.#n; #body } }
            } else {
                quote! { if let Some(v) = self.#n { #body } }
            }
        });
        let (rt, send_fn) = response_type(api, op);
        // The builder links to the method that makes it, which carries the operation's docs.
        let bdocs = doc_linked(&format!(
            "A `{}.{}` request, made by [`{}::{}`]: {}`.await` it (or `.send().await`).",
            res.wire,
            op.nickname,
            crate::names::camel(&res.wire),
            op.rust.trim_start_matches("r#"),
            if optional.is_empty() {
                ""
            } else {
                "set optional parameters, then "
            },
        ));
        let needs_mut = !op.params.is_empty();
        let req_binding = if needs_mut {
            quote! { let mut req }
        } else {
            quote! { let req }
        };
        items.push(quote! {
            #bdocs
            #[derive(Clone, Debug)]
            #[must_use = "a request does nothing until it is awaited (or `.send().await`)"]
            pub struct #builder { client: crate::Client, #(#fields,)* }
            impl #builder {
                /// What the spec says about this operation.
                pub const INFO: &'static crate::meta::OperationInfo = &#info;
                #(#setters)*
                /// Sends the request.
                pub async fn send(self) -> crate::Result<#rt> {
                    #req_binding = crate::Request::new(&#info);
                    #(#sends)*
                    self.client.#send_fn(req).await
                }
            }
            impl std::future::IntoFuture for #builder {
                type Output = crate::Result<#rt>;
                type IntoFuture = crate::RequestFuture<#rt>;
                /// Sends the request: `.await` on the builder is `.send().await`.
                fn into_future(self) -> Self::IntoFuture { Box::pin(self.send()) }
            }
        });
    }
    let defs = emit_defs(api, &enums, &unions);
    let edocs = doc(&format!(
        "The `{}` resource: one method per operation. Get it with `Client::{}()`.",
        res.wire,
        accessor(res)
    ));
    quote! {
        #edocs
        #[derive(Clone, Debug)]
        pub struct #entry { client: crate::Client }
        impl #entry {
            pub(crate) fn new(client: crate::Client) -> Self { #entry { client } }
            #(#methods)*
        }
        #(#items)*
        #defs
    }
}

/// Client methods the hand-written runtime defines; a resource whose module has one of these
/// names gets `<name>_resource()` as its entry point instead, so the two never collide.
pub const RUNTIME_CLIENT_METHODS: &[&str] = &[
    "base_url",
    "builder",
    "connect",
    "event_stream",
    "known_release",
    "new",
    "send_binary",
    "send_json",
    "send_unit",
    "server_version",
    "snapshot",
    "username",
];

/// The `Client` method that returns a resource's entry type.
pub fn accessor(res: &Resource) -> String {
    accessor_of(&res.module)
}

/// [`accessor`] by module name.
pub fn accessor_of(module: &str) -> String {
    if RUNTIME_CLIENT_METHODS.contains(&module) {
        format!("{module}_resource")
    } else {
        module.to_owned()
    }
}

fn emit_ops_mod(resources: &[&Resource], external: bool) -> TokenStream {
    let mods: Vec<_> = resources.iter().map(|r| ident(&r.module)).collect();
    let accessors: Vec<_> = resources.iter().map(|r| ident(&accessor(r))).collect();
    let entries: Vec<_> = resources
        .iter()
        .map(|r| ident(&crate::names::camel(&r.wire)))
        .collect();
    let docs: Vec<_> = resources
        .iter()
        .map(|r| doc(&format!("The `{}` resource.", r.wire)))
        .collect();
    let all = resources.iter().flat_map(|r| {
        let m = ident(&r.module);
        r.operations.iter().map(move |op| {
            let c = const_name(op);
            quote! { &#m::#c }
        })
    });
    // A crate cannot add inherent methods to another crate's type: outside ari-sdk the
    // accessors are a trait implemented for the client.
    let accessors_impl = if external {
        quote! {
            /// The client's entry points to the resources: `use` this trait, then `client.channels()`.
            pub trait Resources {
                #( #docs fn #accessors(&self) -> #mods::#entries; )*
            }
            impl Resources for crate::Client {
                #( fn #accessors(&self) -> #mods::#entries { #mods::#entries::new(self.clone()) } )*
            }
        }
    } else {
        quote! {
            impl crate::Client {
                #( #docs pub fn #accessors(&self) -> #mods::#entries { #mods::#entries::new(self.clone()) } )*
            }
        }
    };
    quote! {
        #( #docs pub mod #mods; )*

        #accessors_impl

        /// Every operation of every known release, by resource file then spec order.
        pub static OPERATIONS: &[&crate::meta::OperationInfo] = &[#(#all),*];

        /// The operation with this resource file and nickname.
        pub fn operation(resource: &str, nickname: &str) -> Option<&'static crate::meta::OperationInfo> {
            OPERATIONS.iter().copied().find(|o| o.resource == resource && o.nickname == nickname)
        }
    }
}

fn emit_handles(api: &Api) -> TokenStream {
    let mut out = Vec::new();
    for h in &api.kinds {
        let Some(res) = api.resources.get(&h.resource) else {
            continue;
        };
        let ids: Vec<&str> = h.ids.iter().map(|i| i.param.as_str()).collect();
        let (prefix, what) = (h.spec.path, h.spec.what);
        let name = ident(&h.handle);
        let module = ident(&res.module);
        let entry = ident(&crate::names::camel(&res.wire));
        let id_fields: Vec<_> = ids.iter().map(|i| ident(&snake(i))).collect();
        let id_docs: Vec<_> = ids
            .iter()
            .map(|i| doc(&format!("The `{i}` this handle stands for.")))
            .collect();
        let mut methods = Vec::new();
        for op in &res.operations {
            let under = op.path == prefix || op.path.starts_with(&format!("{}/", prefix));
            if !under || op.websocket.is_some() {
                continue;
            }
            let fname = ident(&op.rust);
            let builder = ident(&op.builder);
            let required: Vec<&Param> = op.params.iter().filter(|p| p.required).collect();
            let root = root(api);
            let scope = quote! { #root::ops::#module:: };
            let args = required
                .iter()
                .filter(|p| !ids.contains(&p.wire.as_str()))
                .map(|p| {
                    let n = ident(&p.rust);
                    let (a, _, _) = arg_in(api, p, &scope);
                    quote! { #n: #a }
                });
            let call = required.iter().map(|p| {
                let n = ident(&p.rust);
                if ids.contains(&p.wire.as_str()) {
                    quote! { self.#n.clone() }
                } else {
                    quote! { #n }
                }
            });
            let docs = doc_linked(&format!(
                "[`{entry}::{f}`]({root_path}::ops::{module}::{entry}::{f}) on this {what}: {summary}",
                entry = crate::names::camel(&res.wire),
                f = op.rust.trim_start_matches("r#"),
                root_path = api.root,
                module = res.module,
                what = what.trim_start_matches("a ").trim_start_matches("an "),
                summary = op.summary.trim(),
            ));
            methods.push(quote! {
                #docs
                pub fn #fname(&self, #(#args),*) -> #root::ops::#module::#builder {
                    #root::ops::#module::#entry::new(self.client.clone()).#fname(#(#call),*)
                }
            });
        }
        let docs = doc(&format!(
            "A handle on {}: its id and a client, with every `{}` operation on it as a method.",
            what, h.resource
        ));
        let id_accessors = ids.iter().zip(&id_fields).map(|(wire, f)| {
            let d = doc(&format!("The `{wire}`."));
            quote! { #d pub fn #f(&self) -> &str { &self.#f } }
        });
        let single_id = (ids.len() == 1).then(|| {
            let f = &id_fields[0];
            quote! {
                /// The id this handle stands for.
                pub fn id(&self) -> &str { &self.#f }
            }
        });
        out.push(quote! {
            #docs
            #[derive(Clone, Debug)]
            pub struct #name { client: crate::Client, #( #id_docs #id_fields: String, )* }
            impl #name {
                /// Makes a handle; no request is sent.
                pub fn new(client: crate::Client, #(#id_fields: impl Into<String>),*) -> Self {
                    #name { client, #(#id_fields: #id_fields.into(),)* }
                }
                #single_id
                #(#id_accessors)*
                /// The client the handle sends its requests with.
                pub fn client(&self) -> &crate::Client { &self.client }
                #(#methods)*
            }
        });
    }
    quote! { #(#out)* }
}

fn emit_mod(sdk: bool) -> TokenStream {
    let resources = sdk.then(|| quote! { pub mod resources; });
    quote! {
        #![allow(clippy::too_many_arguments, clippy::unnecessary_cast, clippy::large_enum_variant)]
        #![allow(rustdoc::bare_urls)]

        pub mod events;
        pub mod handles;
        pub mod models;
        pub mod ops;
        pub mod releases;
        #resources
    }
}

/// The resource kinds as the runtime uses them ([`crate::kinds`]): `ResourceKind`,
/// `ResourceRef` and its owned form `ResourceKey`, the events that end each kind (typed and
/// from an undecoded event's JSON), and the requests a resync sends.
fn emit_resources(api: &Api) -> TokenStream {
    use crate::kinds::{Ending, Resync};
    let root = root(api);
    let kinds: Vec<&crate::kinds::Kind> = api.kinds.iter().filter(|k| k.routed).collect();
    let vars: Vec<_> = kinds.iter().map(|k| ident(k.spec.kind)).collect();
    let ending = |how: Ending| match how {
        Ending::Gone => quote! { Ending::Gone },
        Ending::LeftApp => quote! { Ending::LeftApp },
    };
    // `Channel(id)` / `Endpoint { technology, resource }`: a pattern and a constructor alike.
    let shape = |k: &crate::kinds::Kind, values: &[TokenStream]| -> TokenStream {
        let v = ident(k.spec.kind);
        match k.ids.as_slice() {
            [_] => {
                let value = &values[0];
                quote! { #v(#value) }
            }
            ids => {
                let fields = ids.iter().zip(values).map(|(i, value)| {
                    let n = ident(&i.rust);
                    // A binding of the field's own name is written as the shorthand.
                    if n == value.to_string() {
                        quote! { #n }
                    } else {
                        quote! { #n: #value }
                    }
                });
                quote! { #v { #(#fields),* } }
            }
        }
    };
    let bindings = |k: &crate::kinds::Kind| -> Vec<TokenStream> {
        k.ids
            .iter()
            .map(|i| {
                let n = ident(&i.rust);
                quote! { #n }
            })
            .collect()
    };
    let what = |k: &crate::kinds::Kind| {
        let mut w = k.spec.what.to_owned();
        if let Some(first) = w.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let by: Vec<&str> = k.ids.iter().map(|i| i.wire.as_str()).collect();
        format!("{w}, by {}.", by.join(" and "))
    };
    let variant_defs = |lifetime: TokenStream| {
        kinds
            .iter()
            .map(|k| {
                let docs = doc(&what(k));
                let v = ident(k.spec.kind);
                match k.ids.as_slice() {
                    [_] => quote! { #docs #v(#lifetime) },
                    ids => {
                        let fields = ids.iter().map(|i| {
                            let n = ident(&i.rust);
                            let d = doc(i.description.as_deref().unwrap_or(&i.wire));
                            quote! { #d #n: #lifetime }
                        });
                        quote! { #docs #v { #(#fields,)* } }
                    }
                }
            })
            .collect::<Vec<_>>()
    };
    let ref_variants = variant_defs(quote! { &'a str });
    let key_variants = variant_defs(quote! { String });
    let kind_docs: Vec<_> = kinds
        .iter()
        .map(|k| {
            doc(&format!(
                "{} (model `{}`, `{}`).",
                what(k).split(',').next().unwrap_or_default(),
                k.model,
                k.spec.path
            ))
        })
        .collect();
    let names: Vec<String> = kinds
        .iter()
        .map(|k| {
            use heck::ToLowerCamelCase as _;
            k.spec.kind.to_lower_camel_case()
        })
        .collect();
    let models: Vec<&str> = kinds.iter().map(|k| k.model.as_str()).collect();
    let paths: Vec<&str> = kinds.iter().map(|k| k.spec.path).collect();
    let id_fields = kinds.iter().map(|k| {
        let ids = k.ids.iter().map(|i| i.wire.as_str());
        quote! { &[#(#ids),*] }
    });
    let ending_events = kinds.iter().map(|k| {
        let rows = k.ends.iter().map(|e| {
            let ev = ident(&e.rust);
            let how = ending(e.how);
            quote! { (#root::events::EventKind::#ev, #how) }
        });
        quote! { &[#(#rows),*] }
    });
    let resyncs = kinds.iter().map(|k| match k.resync {
        Resync::List(_) => quote! { Resync::List },
        Resync::Get(_) => quote! { Resync::Get },
        Resync::Keep => quote! { Resync::Keep },
    });
    let ref_of_key = kinds.iter().map(|k| {
        let b = bindings(k);
        let (key, value) = (shape(k, &b), shape(k, &b));
        quote! { ResourceKey::#key => ResourceRef::#value, }
    });
    let key_of_ref = kinds.iter().map(|k| {
        let b = bindings(k);
        let owned: Vec<_> = b.iter().map(|n| quote! { #n.to_owned() }).collect();
        let (pat, value) = (shape(k, &b), shape(k, &owned));
        quote! { ResourceRef::#pat => ResourceKey::#value, }
    });
    let kind_of_ref = kinds.iter().map(|k| {
        let v = ident(k.spec.kind);
        match k.ids.len() {
            1 => quote! { ResourceRef::#v(_) => ResourceKind::#v, },
            _ => quote! { ResourceRef::#v { .. } => ResourceKind::#v, },
        }
    });
    let display = kinds.iter().zip(&names).map(|(k, name)| {
        let b = bindings(k);
        let pat = shape(k, &b);
        let prefix = format!("{name}:");
        let parts = b.iter().enumerate().map(|(i, n)| {
            let sep = (i > 0).then(|| quote! { f.write_str("/")?; });
            quote! { #sep f.write_str(#n)?; }
        });
        quote! { ResourceKey::#pat => { f.write_str(#prefix)?; #(#parts)* Ok(()) } }
    });
    // The typed ending of an event: the resource is read from the event's field.
    let typed_endings = kinds.iter().flat_map(|k| {
        k.ends.iter().map(move |e| {
            let ev = ident(&e.rust);
            let field = ident(&e.field.1);
            let get = if e.field.2 {
                quote! { e.#field.as_ref()? }
            } else {
                quote! { &e.#field }
            };
            let values: Vec<_> = k
                .ids
                .iter()
                .map(|i| {
                    let n = ident(&i.rust);
                    if i.optional {
                        quote! { v.#n.as_deref()? }
                    } else {
                        quote! { &v.#n }
                    }
                })
                .collect();
            let value = shape(k, &values);
            let how = ending(e.how);
            quote! { Event::#ev(e) => { let v = #get; Some((ResourceRef::#value, #how)) } }
        })
    });
    let json_endings = kinds.iter().flat_map(|k| {
        k.ends.iter().map(move |e| {
            let wire = &e.wire;
            let values: Vec<_> = k
                .ids
                .iter()
                .map(|i| {
                    let pointer = format!("/{}/{}", e.field.0, i.wire);
                    quote! { json.pointer(#pointer)?.as_str()?.to_owned() }
                })
                .collect();
            let value = shape(k, &values);
            let how = ending(e.how);
            quote! { #wire => Some((ResourceKey::#value, #how)), }
        })
    });
    let accessor_of = |k: &crate::kinds::Kind| {
        let res = &api.resources[&k.resource];
        ident(&accessor(res))
    };
    let listed: Vec<&&crate::kinds::Kind> = kinds
        .iter()
        .filter(|k| matches!(k.resync, Resync::List(_)))
        .collect();
    let list_names: Vec<_> = listed
        .iter()
        .map(|k| format_ident!("{}", snake(&k.resource)))
        .collect();
    let list_calls = listed.iter().map(|k| {
        let (acc, Resync::List(op)) = (accessor_of(k), &k.resync) else {
            unreachable!()
        };
        let op = ident(op);
        quote! { client.#acc().#op().send() }
    });
    let list_keys = listed.iter().zip(&list_names).map(|(k, list)| {
        let values: Vec<_> = k
            .ids
            .iter()
            .map(|i| {
                let n = ident(&i.rust);
                if i.optional {
                    quote! { v.#n.clone()? }
                } else {
                    quote! { v.#n.clone() }
                }
            })
            .collect();
        let value = shape(k, &values);
        if k.ids.iter().any(|i| i.optional) {
            quote! { keys.extend(#list.iter().filter_map(|v| Some(ResourceKey::#value))); }
        } else {
            quote! { keys.extend(#list.iter().map(|v| ResourceKey::#value)); }
        }
    });
    let list_body = if listed.is_empty() {
        quote! { let _ = client; Ok(Vec::new()) }
    } else {
        quote! {
            let (#(#list_names,)*) = futures::try_join!(#(#list_calls),*)?;
            let mut keys = Vec::new();
            #(#list_keys)*
            Ok(keys)
        }
    };
    let looked_up: Vec<_> = kinds
        .iter()
        .filter_map(|k| {
            let Resync::Get(op) = &k.resync else {
                return None;
            };
            let res = &api.resources[&k.resource];
            let get = res.operations.iter().find(|o| o.rust == *op)?;
            let b = bindings(k);
            let pat = shape(k, &b);
            let args = get.params.iter().filter(|p| p.required).map(|p| {
                let i = k.ids.iter().find(|i| i.param == p.wire);
                let n = ident(i.map(|i| i.rust.as_str()).unwrap_or(&p.rust));
                quote! { #n.clone() }
            });
            let (acc, op) = (accessor_of(k), ident(op));
            Some(quote! { ResourceKey::#pat => client.#acc().#op(#(#args),*).send().await.map(|_| ()), })
        })
        .collect();
    let look_up_rest = (looked_up.len() < kinds.len()).then(|| quote! { _ => Ok(()), });
    quote! {
        use #root::events::Event;

        /// A kind of resource that events are routed by.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ResourceKind {
            #( #kind_docs #vars, )*
        }

        impl ResourceKind {
            /// Every kind.
            pub const ALL: &'static [ResourceKind] = &[#(ResourceKind::#vars),*];
            /// The kind's name in a key's text (`channel:<id>`, `endpoint:<technology>/<resource>`).
            pub fn as_str(self) -> &'static str {
                match self { #( ResourceKind::#vars => #names, )* }
            }
            /// The wire name of the model that describes a resource of this kind.
            pub fn model(self) -> &'static str {
                match self { #( ResourceKind::#vars => #models, )* }
            }
            /// The REST path of one resource; its parameters are the resource's ids.
            pub fn path(self) -> &'static str {
                match self { #( ResourceKind::#vars => #paths, )* }
            }
            /// The model's fields that identify a resource (wire names), in path order.
            pub fn id_fields(self) -> &'static [&'static str] {
                match self { #( ResourceKind::#vars => #id_fields, )* }
            }
            /// The events that end a resource's life in the application, and how.
            pub fn ending_events(self) -> &'static [(#root::events::EventKind, Ending)] {
                match self { #( ResourceKind::#vars => #ending_events, )* }
            }
            /// How a resync after a reconnect tells whether a resource still exists.
            pub fn resync(self) -> Resync {
                match self { #( ResourceKind::#vars => #resyncs, )* }
            }
        }

        impl std::fmt::Display for ResourceKind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// How an event ends a resource's life in the application.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Ending {
            /// The resource is gone: every subscription to it ends.
            Gone,
            /// The channel left the application (`StasisEnd`): the subscriptions that wait for
            /// the channel's end stay.
            LeftApp,
        }

        /// How a resync after a reconnect tells whether a resource still exists.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Resync {
            /// One list of the collection tells for every resource.
            List,
            /// The kind has no list operation: each resource is looked up.
            Get,
            /// No event ends the kind's resources, so a resync never ends their subscriptions.
            Keep,
        }

        /// A resource that an event concerns, used to route events to the task that owns the resource.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ResourceRef<'a> {
            #(#ref_variants,)*
        }

        impl ResourceRef<'_> {
            /// The resource's kind.
            pub fn kind(&self) -> ResourceKind {
                match self { #(#kind_of_ref)* }
            }
        }

        /// A resource that events can be routed by; the owned form of [`ResourceRef`].
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum ResourceKey {
            #(#key_variants,)*
        }

        impl ResourceKey {
            /// The borrowed form.
            pub fn as_ref(&self) -> ResourceRef<'_> {
                match self { #(#ref_of_key)* }
            }

            /// The resource's kind.
            pub fn kind(&self) -> ResourceKind {
                self.as_ref().kind()
            }

            /// The resource whose life an event of type `kind` ends, read from the event's JSON
            /// (for an event that failed typed decoding), and how it ends.
            pub fn ended_by_json(kind: &str, json: &serde_json::Value) -> Option<(ResourceKey, Ending)> {
                match kind {
                    #(#json_endings)*
                    _ => None,
                }
            }

            /// Asks the server for the resource with its kind's `GET`, for the kinds that a
            /// resync looks up one by one ([`Resync::Get`]); other kinds answer `Ok` unasked.
            pub(crate) async fn look_up(&self, client: &crate::Client) -> crate::Result<()> {
                match self {
                    #(#looked_up)*
                    #look_up_rest
                }
            }
        }

        impl From<ResourceRef<'_>> for ResourceKey {
            fn from(r: ResourceRef<'_>) -> Self {
                match r { #(#key_of_ref)* }
            }
        }

        impl std::fmt::Display for ResourceKey {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self { #(#display)* }
            }
        }

        impl Event {
            /// The resource whose life in the application this event ends, if any, and how.
            pub fn ending(&self) -> Option<(ResourceRef<'_>, Ending)> {
                match self {
                    #(#typed_endings)*
                    _ => None,
                }
            }
        }

        /// Every resource of the kinds that a resync lists ([`Resync::List`]), the lists
        /// requested together.
        pub(crate) async fn list_for_resync(client: &crate::Client) -> crate::Result<Vec<ResourceKey>> {
            #list_body
        }
    }
}
