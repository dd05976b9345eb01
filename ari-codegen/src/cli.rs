//! IR -> the `ari` command line's command tree (`ari-cli/src/generated/`).
//!
//! The tree is data: one static `Resource` per resource file, one `Op` per operation, one
//! `Param` per parameter, with the help text already written. The hand-written runtime of
//! `ari-cli` (`crate::tree`) turns it into clap commands and dispatches a parsed command through
//! `ari_sdk::Request` and the operation's `ari_sdk::meta::OperationInfo`, so the CLI sends
//! exactly what the SDK would, release gating included. Data instead of one clap builder call
//! chain per operation keeps the generated code small and the binary's startup fast.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::GenError;
use crate::emit::{format_file, releases_doc};
use crate::ir::{Api, Location, Operation, Param, Type};
use crate::names::{Namespace, ident, snake};

/// Flags the CLI defines on every command; a parameter that would take one is a collision.
pub const GLOBAL_FLAGS: &[&str] = &[
    "help", "version", "url", "user", "password", "server", "output", "file", "config", "verbose",
    "dry_run",
];

/// A kebab-case command or flag name: `originateWithId` -> `originate-with-id`.
pub fn kebab(wire: &str) -> String {
    snake(wire).trim_start_matches("r#").replace('_', "-")
}

/// The flag of a parameter: `variables` reads as `--var key=value`, the others as their wire
/// name in kebab case.
pub fn flag_of(p: &Param) -> String {
    if p.wire == "variables" && p.ty == Type::Containers {
        "var".to_owned()
    } else {
        kebab(&p.wire)
    }
}

/// Emits `mod.rs` and one file per resource.
pub fn emit(api: &Api) -> Result<BTreeMap<String, String>, GenError> {
    let mut files = BTreeMap::new();
    let mut resources = Namespace::with_reserved(
        "the commands of `ari`",
        // Hand-written commands of the CLI.
        &["spec", "codegen", "config", "completions", "man", "help"],
    );
    let mut mods = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    for res in api.resources.values() {
        let name = kebab(&res.wire);
        resources.claim(&name.replace('-', "_"), format!("resource `{}`", res.wire))?;
        let module = ident(&res.module);
        let tokens = emit_resource(api, &name, &res.wire, &res.module, &res.operations)?;
        files.insert(
            format!("{}.rs", res.module),
            format_file(
                &format!("{}.rs", res.module),
                &format!("The `ari {name}` commands: the `{}` resource.", res.wire),
                tokens,
            )?,
        );
        mods.push(module);
        docs.push(format!(
            " The `ari {name}` commands (resource `{}`).",
            res.wire
        ));
    }
    let mod_tokens = quote! {
        #( #[doc = #docs] pub mod #mods; )*
        /// Every resource, in the order `ari --help` lists them.
        pub static RESOURCES: &[&crate::tree::Resource] = &[ #( &#mods::RESOURCE ),* ];
    };
    files.insert(
        "mod.rs".to_owned(),
        format_file(
            "mod.rs",
            "The command tree of `ari`, one module per ARI resource file.",
            mod_tokens,
        )?,
    );
    Ok(files)
}

fn emit_resource(
    api: &Api,
    name: &str,
    wire: &str,
    module: &str,
    ops: &[Operation],
) -> Result<TokenStream, GenError> {
    let mut names = Namespace::new(format!("the commands of `ari {name}`"));
    let mut out = Vec::new();
    for op in ops {
        let cmd = kebab(&op.nickname);
        names.claim(
            &cmd.replace('-', "_"),
            format!("operation `{wire}.{}`", op.nickname),
        )?;
        out.push(emit_op(api, module, &cmd, wire, op)?);
    }
    // A peek at what the resource does: its first command names, as many as fit one line.
    let mut about = format!("{} operations:", ops.len());
    for (i, op) in ops.iter().enumerate() {
        let name = kebab(&op.nickname);
        if about.len() + name.len() > 64 {
            about.push_str(" ...");
            break;
        }
        about.push_str(if i == 0 { " " } else { ", " });
        about.push_str(&name);
    }
    Ok(quote! {
        /// The resource and its operations.
        pub static RESOURCE: crate::tree::Resource = crate::tree::Resource {
            name: #name, wire: #wire, about: #about, ops: &[#(#out),*],
        };
    })
}

/// One line of spec text: whitespace runs collapsed, so help wraps it as clap likes.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn emit_op(
    api: &Api,
    module: &str,
    cmd: &str,
    wire: &str,
    op: &Operation,
) -> Result<TokenStream, GenError> {
    let mut flags = Namespace::with_reserved(
        format!("the flags of `ari {} {cmd}`", kebab(wire)),
        GLOBAL_FLAGS,
    );
    let mut params = Vec::new();
    for p in &op.params {
        let flag = flag_of(p);
        flags.claim(
            &flag.replace('-', "_"),
            format!("parameter `{wire}.{}({})`", op.nickname, p.wire),
        )?;
        params.push(emit_param(api, op, p, &flag));
    }
    let info = format_ident!("{}", snake(&op.nickname).to_uppercase());
    let module = ident(module);
    let about = one_line(&op.summary);
    let mut long = format!("{}\n\n{} {}", about, op.method, op.path);
    if let Some(n) = op.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        long.push_str(&format!("\n\n{}", one_line(n)));
    }
    if !op.errors.is_empty() {
        long.push_str("\n\nErrors the spec documents:");
        for (c, r) in &op.errors {
            long.push_str(&format!("\n  {c}: {}", one_line(r)));
        }
    }
    long.push_str(&format!("\n\n{}", releases_doc(api, &op.availability)));
    let response = match (&op.websocket, &op.response) {
        (Some(_), _) => quote! { WebSocket },
        (None, None) => quote! { Empty },
        (None, Some(Type::Binary)) => quote! { Binary },
        (None, Some(_)) => quote! { Json },
    };
    Ok(quote! {
        crate::tree::Op {
            name: #cmd,
            info: &ari_sdk::ops::#module::#info,
            about: #about,
            long_about: #long,
            response: crate::tree::Response::#response,
            params: &[#(#params),*],
        }
    })
}

fn kind_of(t: &Type) -> (TokenStream, Vec<String>) {
    match t {
        Type::String | Type::Date | Type::Model(_) | Type::Union(_) => (quote! { Text }, vec![]),
        Type::Enum(e) => (
            quote! { Text },
            e.values.iter().map(|(w, _)| w.clone()).collect(),
        ),
        Type::Int => (quote! { Int }, vec![]),
        Type::Double => (quote! { Double }, vec![]),
        Type::Bool => (quote! { Bool }, vec![]),
        Type::Containers => (quote! { KeyValue }, vec![]),
        Type::Object | Type::Binary => (quote! { Json }, vec![]),
        Type::List(inner) => kind_of(inner),
    }
}

fn emit_param(api: &Api, op: &Operation, p: &Param, flag: &str) -> TokenStream {
    let wire = &p.wire;
    let (kind, values) = kind_of(&p.ty);
    let multiple = p.multiple || matches!(p.ty, Type::List(_));
    // Required path and query parameters are positional; a required body parameter (a JSON
    // object or key=value pairs) reads better as a flag.
    let positional = p.required && p.location != Location::Body;
    let required = p.required;
    let mut help = p.description.as_deref().map(one_line).unwrap_or_default();
    if let Some(d) = &p.default {
        help.push_str(&format!(" [server default: {d}]"));
    }
    if let Some((lo, hi)) = p.range {
        let b = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        help.push_str(&format!(" [range: {}..{}]", b(lo), b(hi)));
    }
    if p.ty == Type::Containers {
        help.push_str(" (key=value, repeatable)");
    } else if multiple {
        help.push_str(" (repeatable or comma-separated)");
    }
    if p.availability != op.availability {
        help.push_str(&format!(
            " ({})",
            releases_doc(api, &p.availability).trim_end_matches('.')
        ));
    }
    let help = help.trim().to_owned();
    let range = match p.range {
        Some((lo, hi)) => {
            let b = |v: Option<f64>| match v {
                Some(v) => quote! { Some(#v) },
                None => quote! { None },
            };
            let (lo, hi) = (b(lo), b(hi));
            quote! { Some((#lo, #hi)) }
        }
        None => quote! { None },
    };
    quote! {
        crate::tree::Param {
            wire: #wire, flag: #flag, kind: crate::tree::Kind::#kind, multiple: #multiple,
            positional: #positional, required: #required, help: #help,
            values: &[#(#values),*], range: #range,
        }
    }
}
