//! `ops/`: one module per resource file (its operations' `OperationInfo`, methods and request
//! builders), and the client's entry points to them.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ir::{Api, Location, Operation, Param, Resource, Type};
use crate::names::{ident, snake};

use super::docs::{doc, doc_linked, part_releases_doc, releases_doc};
use super::types::{availability, bound, collect_defs, emit_defs, ty};

pub(super) fn const_name(op: &Operation) -> proc_macro2::Ident {
    format_ident!("{}", snake(&op.nickname).to_uppercase())
}

pub(super) fn param_info(api: &Api, p: &Param) -> TokenStream {
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

pub(super) fn op_info(api: &Api, res: &Resource, op: &Operation) -> TokenStream {
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
pub(super) fn arg(api: &Api, p: &Param) -> (TokenStream, TokenStream, TokenStream) {
    arg_in(api, p, &quote! {})
}

/// [`arg`], with the module path (`crate::generated::ops::channels::`) that enum and union types
/// need outside their own module.
pub(super) fn arg_in(
    api: &Api,
    p: &Param,
    scope: &TokenStream,
) -> (TokenStream, TokenStream, TokenStream) {
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
pub(super) fn to_wire(p: &Param, info: &proc_macro2::Ident) -> TokenStream {
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

pub(super) fn response_type(api: &Api, op: &Operation) -> (TokenStream, TokenStream) {
    match &op.response {
        None => (quote! { () }, quote! { send_unit }),
        Some(Type::Binary) => (quote! { bytes::Bytes }, quote! { send_binary }),
        Some(t) => (ty(api, t), quote! { send_json }),
    }
}

pub(super) fn op_doc(api: &Api, op: &Operation) -> String {
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

pub(super) fn emit_resource(api: &Api, res: &Resource) -> TokenStream {
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

pub(super) fn emit_ops_mod(resources: &[&Resource], external: bool) -> TokenStream {
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
