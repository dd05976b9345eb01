//! What several files share: Rust types of spec types, availability constants, and the enums
//! and unions that fields and parameters use.

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Api, EnumDef, Type, UnionDef};
use crate::names::ident;
use crate::ranges_text;

use super::docs::doc;

/// A reference to the shared constant that holds `ranges` (defined once in `releases.rs`).
pub(super) fn availability(api: &Api, ranges: &[ari_spec::ReleaseRange]) -> TokenStream {
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
pub(super) fn availability_value(ranges: &[ari_spec::ReleaseRange]) -> TokenStream {
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

pub(super) fn release(r: ari_spec::Release) -> TokenStream {
    let (a, b, c) = (
        Literal::u16_unsuffixed(r.major),
        Literal::u16_unsuffixed(r.minor),
        Literal::u16_unsuffixed(r.patch),
    );
    quote! { crate::meta::Release::new(#a, #b, #c) }
}

/// Where a model's type lives.
pub(super) fn model_path(api: &Api, rust: &str) -> TokenStream {
    let id = ident(rust);
    let root = root(api);
    if api.lookup.event_types.contains(rust) {
        quote! { #root::events::#id }
    } else {
        quote! { #root::models::#id }
    }
}

/// The bindings' module path as tokens.
pub(super) fn root(api: &Api) -> TokenStream {
    api.root
        .parse()
        .unwrap_or_else(|_| quote! { crate::generated })
}

pub(super) fn ty(api: &Api, t: &Type) -> TokenStream {
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
pub(super) fn collect_defs(
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

pub(super) fn emit_enum(e: &EnumDef, place: &str) -> TokenStream {
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

pub(super) fn emit_union(api: &Api, u: &UnionDef, place: &str) -> TokenStream {
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

pub(super) fn emit_defs(
    api: &Api,
    enums: &BTreeMap<String, EnumDef>,
    unions: &BTreeMap<String, UnionDef>,
) -> TokenStream {
    let e = enums.values().map(|e| emit_enum(e, &e.rust));
    let u = unions.values().map(|u| emit_union(api, u, &u.rust));
    quote! { #(#e)* #(#u)* }
}

pub(super) fn bound(b: Option<f64>) -> String {
    b.map(|v| v.to_string())
        .unwrap_or_else(|| "unbounded".to_owned())
}
