//! Every Rust name the generator makes comes from here: heck casing, keyword escaping, and a
//! namespace that refuses two items with one Rust name.

use std::collections::BTreeMap;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

use crate::GenError;

/// Words Rust reserves; a name equal to one is written as a raw identifier (`r#type`), which
/// keeps the wire spelling and needs no serde rename.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "static",
    "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield", "abstract", "become",
];

/// Words that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "super", "Self"];

/// A snake_case name for fields, functions and modules: `channelId` -> `channel_id`.
pub fn snake(wire: &str) -> String {
    let s = wire.to_snake_case();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{s}")
    } else {
        s
    }
}

/// An UpperCamelCase name for types and variants: `dialing offhook` -> `DialingOffhook`.
pub fn camel(wire: &str) -> String {
    // DTMF keys and the like have no letters: name the symbols.
    let spelled = wire
        .replace('#', " hash ")
        .replace('*', " star ")
        .replace('+', " plus ");
    let s = spelled.to_upper_camel_case();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{s}")
    } else {
        s
    }
}

/// A type name for a model: kept as Asterisk spells it (`RTPstat`, `CallerID`) when it is already
/// a valid type name, so users find the spec's names in the docs.
pub fn model_type(wire: &str) -> String {
    if !wire.is_empty()
        && wire.starts_with(|c: char| c.is_ascii_uppercase())
        && wire.chars().all(|c| c.is_ascii_alphanumeric())
    {
        wire.to_owned()
    } else {
        camel(wire)
    }
}

/// An identifier token, raw when the name is a keyword.
pub fn ident(name: &str) -> Ident {
    if KEYWORDS.contains(&name) && !NOT_RAW.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// One namespace (a module, a struct's fields, an enum's variants): registering two things under
/// one Rust name is an error that names both.
#[derive(Debug)]
pub struct Namespace {
    what: String,
    names: BTreeMap<String, String>,
}

impl Namespace {
    /// A namespace described for errors, e.g. "module `channels`".
    pub fn new(what: impl Into<String>) -> Self {
        Namespace {
            what: what.into(),
            names: BTreeMap::new(),
        }
    }

    /// Claims `rust` for the item described by `origin`.
    pub fn claim(&mut self, rust: &str, origin: impl Into<String>) -> Result<(), GenError> {
        let origin = origin.into();
        if let Some(prev) = self.names.get(rust) {
            return Err(GenError::Collision {
                namespace: self.what.clone(),
                rust: rust.to_owned(),
                first: prev.clone(),
                second: origin,
            });
        }
        self.names.insert(rust.to_owned(), origin);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casing() {
        assert_eq!(snake("channelId"), "channel_id");
        assert_eq!(snake("transfer_progress"), "transfer_progress");
        assert_eq!(snake("subscribeAll"), "subscribe_all");
        assert_eq!(camel("Dialing Offhook"), "DialingOffhook");
        assert_eq!(camel("Pre-ring"), "PreRing");
        assert_eq!(camel("no_answer"), "NoAnswer");
        assert_eq!(camel("1"), "V1");
        assert_eq!(camel("#"), "Hash");
        assert_eq!(camel("*"), "Star");
        assert_eq!(model_type("RTPstat"), "RTPstat");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("move").to_string(), "r#move");
        assert_eq!(ident("self").to_string(), "self_");
    }

    #[test]
    fn collisions_are_errors() {
        let mut ns = Namespace::new("module `m`");
        ns.claim("get", "operation `get`").unwrap();
        let err = ns.claim("get", "operation `Get`").unwrap_err();
        assert_eq!(
            err.to_string(),
            "name collision in module `m`: operation `Get` and operation `get` would both be `get`"
        );
    }
}
