//! `resources.rs` (ari-sdk's own bindings only): the resource kinds as the runtime uses them.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ir::Api;
use crate::names::{ident, snake};

use super::docs::doc;
use super::ops::accessor;
use super::types::root;

/// The resource kinds as the runtime uses them ([`crate::kinds`]): `ResourceKind`,
/// `ResourceRef` and its owned form `ResourceKey`, the events that end each kind (typed and
/// from an undecoded event's JSON), and the requests a resync sends.
pub(super) fn emit_resources(api: &Api) -> TokenStream {
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
