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

/// Names the generated code itself uses in the type namespace of a module (prelude types and
/// variants, and the fixed items of `events.rs`): a spec item that would take one is refused, as
/// it would shadow what the generated code means.
pub const RESERVED_TYPES: &[&str] = &[
    "Box",
    "Err",
    "Event",
    "EventKind",
    "None",
    "Ok",
    "Option",
    "Result",
    "Self",
    "Some",
    "String",
    "Unknown",
    "Vec",
];

/// Every character that cannot be part of an identifier becomes a word break, so the casing below
/// sees ASCII words only (`a.b` -> `a b`, `größe` -> `gr e`).
fn ascii_words(wire: &str) -> String {
    wire.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect()
}

/// A snake_case name for fields, functions and modules: `channelId` -> `channel_id`. Characters
/// that cannot be in an identifier separate words; a leading digit gets an `n`; `self` and the
/// like get a trailing `_`. The result is empty when the name has no ASCII letter or digit,
/// which [`Namespace::claim`] refuses.
pub fn snake(wire: &str) -> String {
    let s = ascii_words(wire).to_snake_case();
    let s = if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{s}")
    } else {
        s
    };
    unraw(s)
}

/// `crate`, `self`, `super` and `Self` cannot be raw identifiers: they get a trailing `_`, here,
/// so that namespaces see the final spelling.
fn unraw(s: String) -> String {
    if NOT_RAW.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

/// Whether `name` can be emitted by [`ident`]: ASCII, not empty, not starting with a digit, not
/// `_` alone, and not a word that cannot be raw.
pub fn is_ident(name: &str) -> bool {
    !name.is_empty()
        && name != "_"
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !NOT_RAW.contains(&name)
}

/// An UpperCamelCase name for types and variants: `dialing offhook` -> `DialingOffhook`.
pub fn camel(wire: &str) -> String {
    // DTMF keys and the like have no letters: name the symbols.
    let spelled = wire
        .replace('#', " hash ")
        .replace('*', " star ")
        .replace('+', " plus ");
    let s = ascii_words(&spelled).to_upper_camel_case();
    let s = if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{s}")
    } else {
        s
    };
    unraw(s)
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

/// An identifier token, raw when the name is a keyword. Never panics: every name the generator
/// emits was claimed in a [`Namespace`] first, which refuses what [`is_ident`] refuses; should
/// one slip through, it comes out as `invalid_name_<length>` instead of aborting.
pub fn ident(name: &str) -> Ident {
    if !is_ident(name) {
        return Ident::new(&format!("invalid_name_{}", name.len()), Span::call_site());
    }
    if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
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

    /// A namespace with `reserved` already taken by the generated code itself.
    pub fn with_reserved(what: impl Into<String>, reserved: &[&str]) -> Self {
        let mut ns = Namespace::new(what);
        for r in reserved {
            ns.names
                .insert((*r).to_owned(), "a name the generated code uses".to_owned());
        }
        ns
    }

    /// Claims `rust` for the item described by `origin`; refuses a name that is no identifier
    /// (the spec name had no ASCII letter or digit).
    pub fn claim(&mut self, rust: &str, origin: impl Into<String>) -> Result<(), GenError> {
        let origin = origin.into();
        if !is_ident(rust) {
            return Err(GenError::Spec(format!(
                "{origin} in {}: the name has no ASCII letter or digit, so it cannot become a Rust name",
                self.what
            )));
        }
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
        assert_eq!(snake("self"), "self_");
        assert_eq!(camel("self"), "Self_");
        assert_eq!(snake("größe"), "gr_e");
        assert_eq!(snake("a.b-c d"), "a_b_c_d");
        assert_eq!(snake("-"), "");
        assert_eq!(snake("9lives"), "n9lives");
        assert!(!is_ident(""));
        assert!(!is_ident("_"));
        assert!(!is_ident("self"));
        assert_eq!(ident("").to_string(), "invalid_name_0");
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
