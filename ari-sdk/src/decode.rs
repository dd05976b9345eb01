//! Decoding helpers the generated code calls: events by their `type` tag in one pass, and LIST
//! enums from borrowed strings.
//!
//! Asterisk writes `type` as the first key of every event, so the fast path reads it, then hands
//! the rest of the same JSON object straight to the event's struct: no intermediate
//! `serde_json::Value`. When `type` is not first (another producer, a hand-written test), the slow
//! path buffers the object into a `Value` and decodes from that; the result is the same.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// A type decoded from a JSON object by the value of its `type` key.
pub trait Tagged: Sized {
    /// What the decoder expects, for error messages.
    const EXPECTING: &'static str;
    /// Decodes the rest of an object whose `type` was `kind` and already consumed.
    fn from_map<'de, A: MapAccess<'de>>(kind: &str, map: A) -> Result<Self, A::Error>;
    /// Decodes a whole object, `type` included.
    fn from_value(kind: &str, value: serde_json::Value) -> Result<Self, serde_json::Error>;
}

/// Deserializes a [`Tagged`] type.
pub fn tagged<'de, D: Deserializer<'de>, T: Tagged>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let Some(first) = map.next_key_seed(KeySeed)? else {
            return Err(de::Error::missing_field("type"));
        };
        if first.is_type() {
            let kind: StrBuf<'de> = map.next_value()?;
            return T::from_map(kind.as_str(), map);
        }
        // Slow path: buffer everything, then find `type`.
        let mut object = serde_json::Map::new();
        let first_value: serde_json::Value = map.next_value()?;
        object.insert(first.into_string(), first_value);
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(k, v);
        }
        let kind = match object.get("type") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err(de::Error::custom("`type` is not a string")),
            None => return Err(de::Error::missing_field("type")),
        };
        T::from_value(&kind, serde_json::Value::Object(object)).map_err(de::Error::custom)
    }
}

/// A map key, borrowed when the input allows.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn is_type(&self) -> bool {
        match self {
            Key::Borrowed(s) => *s == "type",
            Key::Owned(s) => s == "type",
        }
    }
    fn into_string(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v))
    }
}

/// A string value, borrowed when the input allows (no allocation for the common case).
struct StrBuf<'de>(Key<'de>);

impl StrBuf<'_> {
    fn as_str(&self) -> &str {
        match &self.0 {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for StrBuf<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor).map(StrBuf)
    }
}

/// Deserializes a LIST enum from a string, borrowing when possible; unknown values become the
/// enum's `Unknown` variant.
pub fn str_enum<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: for<'a> From<&'a str> + From<String>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok(T::from(v))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
            Ok(T::from(v))
        }
    }
    deserializer.deserialize_str(V(PhantomData))
}

/// An object with `type` put back in, for unknown events and for serializing events.
pub fn with_type(
    kind: &str,
    mut map: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    map.insert(
        "type".to_owned(),
        serde_json::Value::String(kind.to_owned()),
    );
    serde_json::Value::Object(map)
}
