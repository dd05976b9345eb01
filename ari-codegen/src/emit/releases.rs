//! `releases.rs`: the releases the bindings know, and the availability tables of models and fields.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Api, Field, Model};

use super::docs::{doc, releases_doc};
use super::types::{availability, availability_value, release};

pub(super) fn emit_releases(api: &Api) -> TokenStream {
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
