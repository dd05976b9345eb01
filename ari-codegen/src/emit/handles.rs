//! `handles.rs`: one handle type per resource kind, with the operations on one resource as methods.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Api, Param};
use crate::names::{ident, snake};

use super::docs::{doc, doc_linked};
use super::ops::arg_in;
use super::types::root;

pub(super) fn emit_handles(api: &Api) -> TokenStream {
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
