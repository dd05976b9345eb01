//! `events.rs`: the event structs, the `Event` and `EventKind` enums, decoding by `type`, and
//! the resources each event carries (`visit_resources`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Api, Field, Model, Type};
use crate::names::ident;

use super::docs::{doc, releases_doc};
use super::models::emit_structs;

/// How an event's field names a resource, for routing: a field whose model is a routed kind's.
pub(super) fn resource_ref(api: &Api, f: &Field) -> Option<TokenStream> {
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

pub(super) fn wrap_optional(
    optional: bool,
    name: &proc_macro2::Ident,
    body: TokenStream,
) -> TokenStream {
    if optional {
        quote! { if let Some(v) = &e.#name { #body } }
    } else {
        quote! { { let v = &e.#name; #body } }
    }
}

pub(super) fn emit_events(api: &Api) -> TokenStream {
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
