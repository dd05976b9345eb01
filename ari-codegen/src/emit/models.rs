//! `models.rs`: one struct per model (events share the struct emission).

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Api, EnumDef, Field, Model, UnionDef};
use crate::names::ident;

use super::docs::{doc, part_releases_doc, releases_doc};
use super::types::{availability, bound, collect_defs, emit_defs, ty};

pub(super) fn field_tokens(api: &Api, f: &Field, parent: &[ari_spec::ReleaseRange]) -> TokenStream {
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

pub(super) fn emit_struct(
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

/// The structs of `models`, followed by the enums and unions their fields use.
pub(super) fn emit_structs<'a>(api: &Api, models: impl Iterator<Item = &'a Model>) -> TokenStream {
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

pub(super) fn emit_models(api: &Api) -> TokenStream {
    emit_structs(api, api.models.values())
}
