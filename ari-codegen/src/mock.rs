//! IR -> the route table of `ari-mock`: every operation of every release, with its method, path
//! template, parameters and the releases that ship each, so that the mock answers exactly the
//! routes of the release it simulates (unknown paths 404, operations the release lacks absent).

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::GenError;
use crate::emit::format_file;
use crate::ir::{Api, Location, Param, Type};

/// Emits the files of `ari-mock/src/generated/`.
pub fn emit(api: &Api) -> Result<BTreeMap<String, String>, GenError> {
    let mut files = BTreeMap::new();
    files.insert(
        "mod.rs".to_owned(),
        format_file(
            "mod.rs",
            "Tables generated from Asterisk's ARI spec files.",
            quote! {
                pub mod routes;
            },
        )?,
    );
    files.insert(
        "routes.rs".to_owned(),
        format_file(
            "routes.rs",
            "Every ARI operation of every known release, as the mock routes it.",
            routes(api),
        )?,
    );
    Ok(files)
}

/// Distinct availabilities, each emitted once as a static and referred to by name.
#[derive(Default)]
struct Avail {
    by_text: BTreeMap<String, usize>,
    defs: Vec<TokenStream>,
}

impl Avail {
    fn get(&mut self, r: &[ari_spec::ReleaseRange]) -> TokenStream {
        let text = crate::ranges_text(r);
        let n = match self.by_text.get(&text) {
            Some(n) => *n,
            None => {
                let n = self.defs.len();
                let name = quote::format_ident!("A{}", n);
                let value = ranges(r);
                self.defs.push(quote! { static #name: &[Range] = #value; });
                self.by_text.insert(text, n);
                n
            }
        };
        let name = quote::format_ident!("A{}", n);
        quote! { #name }
    }
}

fn ranges(r: &[ari_spec::ReleaseRange]) -> TokenStream {
    let items = r.iter().map(|r| {
        let first = release(r.first);
        let last = match r.last {
            Some(l) => {
                let l = release(l);
                quote! { Some(#l) }
            }
            None => quote! { None },
        };
        quote! { Range { first: #first, last: #last } }
    });
    quote! { &[#(#items),*] }
}

fn release(r: ari_spec::Release) -> TokenStream {
    let (a, b, c) = (
        Literal::u16_unsuffixed(r.major),
        Literal::u16_unsuffixed(r.minor),
        Literal::u16_unsuffixed(r.patch),
    );
    quote! { (#a, #b, #c) }
}

fn kind(t: &Type) -> (TokenStream, Vec<String>) {
    match t {
        Type::Int => (quote! { Kind::Int }, Vec::new()),
        Type::Double => (quote! { Kind::Double }, Vec::new()),
        Type::Bool => (quote! { Kind::Bool }, Vec::new()),
        Type::Object | Type::Containers => (quote! { Kind::Object }, Vec::new()),
        Type::Binary => (quote! { Kind::Binary }, Vec::new()),
        Type::List(inner) => kind(inner),
        Type::Enum(e) => (
            quote! { Kind::Enum },
            e.values.iter().map(|(w, _)| w.clone()).collect(),
        ),
        _ => (quote! { Kind::String }, Vec::new()),
    }
}

fn param(p: &Param, avail: &mut Avail) -> TokenStream {
    let name = &p.wire;
    let loc = match p.location {
        Location::Path => quote! { Location::Path },
        Location::Query => quote! { Location::Query },
        Location::Body => quote! { Location::Body },
    };
    let (kind, values) = kind(&p.ty);
    let multiple = p.multiple;
    let required = p.required;
    let av = avail.get(&p.availability);
    quote! {
        Param { name: #name, location: #loc, kind: #kind, multiple: #multiple,
            required: #required, values: &[#(#values),*], availability: #av }
    }
}

fn routes(api: &Api) -> TokenStream {
    let mut items = Vec::new();
    let mut avail = Avail::default();
    for res in api.resources.values() {
        for op in &res.operations {
            let resource = &res.wire;
            let nickname = &op.nickname;
            let method = &op.method;
            let path = &op.path;
            let params: Vec<_> = op.params.iter().map(|p| param(p, &mut avail)).collect();
            let av = avail.get(&op.availability);
            let ws = op.websocket.is_some();
            items.push(quote! {
                Route { resource: #resource, nickname: #nickname, method: #method, path: #path,
                    params: &[#(#params),*], availability: #av, websocket: #ws }
            });
        }
    }
    let releases = api.releases.iter().map(|r| release(*r));
    let defs = &avail.defs;
    quote! {
        use crate::routes::{Kind, Location, Param, Range, Route};

        /// Every release the tables know, ascending.
        pub static RELEASES: &[(u16, u16, u16)] = &[#(#releases),*];

        /// Every operation, by resource file, in spec order.
        pub static ROUTES: &[Route] = &[#(#items),*];

        #(#defs)*
    }
}
