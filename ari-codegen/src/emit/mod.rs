//! IR -> tokens -> formatted files.
//!
//! The generated code targets the hand-written runtime of `ari-sdk`: `crate::meta` (static
//! operation descriptions), `crate::Request` and `crate::Client::{send_json, send_unit,
//! send_binary}`, `crate::Error::invalid_argument`, and `crate::decode` (event and enum decoding).
//!
//! One submodule per generated file or family of files (`models`, `events`, `releases`, `ops`,
//! `handles`, `resources`), with what they share in `types` (type paths, availability constants,
//! enums and unions) and `docs` (doc attributes, the releases line); this module drives them and
//! formats what they emit.

mod docs;
mod events;
mod handles;
mod models;
mod ops;
mod releases;
mod resources;
mod types;

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Api;
use crate::{COMMAND, GenError};

pub(crate) use docs::releases_doc;
use events::emit_events;
use handles::emit_handles;
use models::emit_models;
pub use ops::{RUNTIME_CLIENT_METHODS, accessor, accessor_of};
use ops::{emit_ops_mod, emit_resource};
use releases::emit_releases;
use resources::emit_resources;

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
