//! All of the SDK's JSON decoding: whole documents (REST answers, event frames) with errors that
//! name the JSON path and show an excerpt, and the helpers the generated code calls: events by
//! their `type` tag in one pass, and LIST enums from borrowed strings.
//!
//! Asterisk writes `type` as the first key of most events, so the fast path reads it, then hands
//! the rest of the same JSON object straight to the event's struct: no intermediate
//! `serde_json::Value`. When `type` is not first (Asterisk 22's `ChannelVarset` and
//! `ChannelHangupRequest`, a third of real traffic; other producers), the slow path buffers only
//! the entries before `type` (in Asterisk's events, one or two scalars), then decodes the struct
//! from those followed by the rest of the same object, still straight from the input. The result
//! is the same either way.
//!
//! Bindings that `ari codegen` writes into a user's crate call these too (as `ari_sdk::decode`),
//! like [`meta`](crate::meta), [`Request`](crate::Request), [`Client`](crate::Client)'s
//! `send_*`, [`Error::invalid_argument`](crate::Error::invalid_argument), [`Result`](crate::Result)
//! and [`RequestFuture`](crate::RequestFuture): that set (`ari_codegen::emit::RUNTIME_ITEMS`) is
//! the runtime surface kept stable for generated code.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// Decodes JSON text the way the SDK decodes events and REST answers: on failure, a
/// [`Decode`](crate::ErrorKind::Decode) error that names the JSON path
/// ([`Error::json_path`](crate::Error::json_path)) and shows an excerpt around the failure. For
/// captured events in tests, or a type of your own.
pub fn json<T: serde::de::DeserializeOwned>(text: &str) -> crate::Result<T> {
    decode_json_str(text)
}

/// The same JSON object with its top-level `type` member moved to the front, when it is not
/// there already (Asterisk 22 writes `type` after `variable`/`value` in `ChannelVarset` and
/// after `cause`/`soft` in `ChannelHangupRequest`, a third of real traffic).
///
/// The events stream's decoder ([`event_frame`]) reorders every frame this way, so that it
/// decodes each event on the fast path alone. Anything that is not an object with a key `type`
/// is returned as it is, for the decoder to report.
pub fn type_first(text: &str) -> std::borrow::Cow<'_, str> {
    match type_span(text) {
        Some(span) => std::borrow::Cow::Owned(span.moved(text)),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Where [`type_first`] finds the top-level `type` member of a frame that does not start with
/// it: enough to build the moved text and to map a position in it back to the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TypeSpan {
    /// The opening brace.
    open: usize,
    /// The first member's start.
    first: usize,
    /// The end of the member before `type`.
    prev_end: usize,
    /// The start of `"type"` and the end of its value.
    key_start: usize,
    value_end: usize,
}

impl TypeSpan {
    /// `{`, the `type` member, `,`, the members before it, then the rest as it was.
    fn moved(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 1);
        out.push('{');
        out.push_str(&text[self.key_start..self.value_end]);
        out.push(',');
        out.push_str(&text[self.first..self.prev_end]);
        out.push_str(&text[self.value_end..]);
        out
    }

    /// The index in the frame of the byte at index `at` of the moved text.
    fn original_index(&self, at: usize) -> usize {
        let member = self.value_end - self.key_start;
        let before = self.prev_end - self.first;
        if at == 0 {
            self.open
        } else if at <= member {
            // The moved `type` member, after the `{`.
            self.key_start + at - 1
        } else if at == member + 1 {
            // The `,` put after it: the frame's separator before `type` starts here.
            self.prev_end
        } else if at < member + 2 + before {
            // The members that were before `type`.
            self.first + (at - member - 2)
        } else {
            self.value_end + (at - member - 2 - before)
        }
    }
}

fn type_span(text: &str) -> Option<TypeSpan> {
    let b = text.as_bytes();
    let open = skip_ws(b, 0);
    if b.get(open) != Some(&b'{') {
        return None;
    }
    let first = skip_ws(b, open + 1);
    let mut at = first;
    let mut prev_end = None;
    loop {
        let key_start = skip_ws(b, at);
        if b.get(key_start) != Some(&b'"') {
            return None;
        }
        let key_end = end_of_string(b, key_start)?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(b, colon + 1);
        let value_end = end_of_value(b, value_start)?;
        if is_type_key(&text[key_start..key_end]) {
            return Some(TypeSpan {
                open,
                first,
                prev_end: prev_end?,
                key_start,
                value_end,
            });
        }
        prev_end = Some(value_end);
        let next = skip_ws(b, value_end);
        if b.get(next) != Some(&b',') {
            return None;
        }
        at = next + 1;
    }
}

/// Whether a JSON string (with its quotes) is `"type"`, escaped or not.
fn is_type_key(key: &str) -> bool {
    key == "\"type\""
        || (key.contains('\\') && serde_json::from_str::<String>(key).is_ok_and(|k| k == "type"))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The index just past the string that starts (with its quote) at `i`.
fn end_of_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
    None
}

/// The index just past the JSON value that starts at `i` (not validated: the decoder does that).
fn end_of_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => end_of_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = end_of_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

// Whole documents: REST answers and event frames, and the errors that name where they failed.

/// Decodes an event frame as `T` on the fast path alone: the frame is reordered by
/// [`type_first`] and decoded with a visitor that expects `type` first, so each event's
/// decoder is compiled once, for the input type serde_json reads. The full [`tagged`] path
/// (members in any order, any deserializer), which `T`'s `Deserialize` goes through, compiles
/// every event's decoder a second time for its slow path, and the events stream never needs
/// it. Errors are of the frame as received: positions in the reordered text are mapped back.
///
/// Public for captured frames (a test's fixtures, a log): this decodes them exactly as the
/// stream does. The result is the same as [`json`]'s, which decodes through `T`'s
/// `Deserialize`.
pub fn event_frame<T: Tagged>(frame: &str) -> crate::Result<T> {
    let span = type_span(frame);
    let moved;
    let text = match &span {
        Some(span) => {
            moved = span.moved(frame);
            moved.as_str()
        }
        None => frame,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let decoded = de
        .deserialize_map(TypeFirstVisitor::<T>(PhantomData))
        .and_then(|value| de.end().map(|()| value));
    decoded.map_err(|e| match span {
        None => decode_error(e, frame),
        Some(span) => moved_decode_error(e, text, frame, span),
    })
}

/// [`decode_error`] for an error found in the reordered text of `frame`: the path is the
/// same in both; the position, the message's `line`/`column` and the excerpt are the frame's.
fn moved_decode_error(
    err: serde_json::Error,
    moved: &str,
    frame: &str,
    span: TypeSpan,
) -> crate::Error {
    let at = offset_of(moved.as_bytes(), err.line(), err.column());
    let path = json_path_at(moved.as_bytes(), at);
    // serde_json's position is just past the last byte it read: map that byte.
    let last = span.original_index(at.saturating_sub(1)).min(frame.len());
    let b = frame.as_bytes();
    let line = 1 + b[..last].iter().filter(|c| **c == b'\n').count();
    let column = last + 1 - line_start(b, line);
    let mut message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    if err.line() > 0 && message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
        message.push_str(&format!(" at line {line} column {column}"));
    }
    crate::Error::decode(path, message, excerpt_at(b, line, column))
}

/// The visitor of [`event_frame`]: `type` first, then the rest straight to `T`.
struct TypeFirstVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TypeFirstVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut first = true;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key.is_type() {
                if !first {
                    // `type_first` moves every top-level `type` it can find; one it could not
                    // is past something it could not skip, which the decoder reports first.
                    return Err(de::Error::custom(
                        "`type` comes after a value that is not valid JSON",
                    ));
                }
                let kind: StrBuf<'de> = map.next_value()?;
                return T::from_map(kind.as_str(), map);
            }
            first = false;
            map.next_value::<de::IgnoredAny>()?;
        }
        Err(de::Error::missing_field("type"))
    }
}

/// Decodes JSON, reporting the path and an excerpt of the body on failure.
///
/// Decoded as text: JSON is UTF-8, and decoding from `&str` shares one compiled decoder per
/// model with the events stream (whose frames are text) instead of compiling every model's
/// decoder a second time for byte input: less code in the binary and in memory.
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> crate::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => decode_json_str(text),
        Err(e) => {
            let at = e.valid_up_to();
            Err(crate::Error::decode(
                ".".to_owned(),
                format!("the body is not UTF-8 (invalid byte at offset {at})"),
                String::from_utf8_lossy(&body[at.saturating_sub(60)..(at + 60).min(body.len())])
                    .into_owned(),
            ))
        }
    }
}

/// [`decode_json`] for text already known to be UTF-8 (WebSocket text frames): serde_json then
/// skips validating every string again.
pub(crate) fn decode_json_str<T: DeserializeOwned>(text: &str) -> crate::Result<T> {
    // Trailing garbage after the value is an error here too (`from_str` checks the end).
    serde_json::from_str(text).map_err(|e| decode_error(e, text))
}

/// Makes a decode error with the JSON path and a short excerpt of the body around the failure.
///
/// The path is found by scanning the text up to where serde_json stopped, not by tracking it
/// during decoding: a tracking deserializer would compile every model's decoder a second time,
/// for a path that only a failure needs.
pub(crate) fn decode_error(err: serde_json::Error, text: &str) -> crate::Error {
    let at = offset_of(text.as_bytes(), err.line(), err.column());
    let path = json_path_at(text.as_bytes(), at);
    let excerpt = excerpt_at(text.as_bytes(), err.line(), err.column());
    crate::Error::decode(path, err.to_string(), excerpt)
}

/// The byte offset just past a 1-based line and column (serde_json's position of an error: the
/// last byte it read).
fn offset_of(body: &[u8], line: usize, column: usize) -> usize {
    (line_start(body, line) + column).min(body.len())
}

/// The byte offset where 1-based `line` starts: just past the `\n` that ends the line before
/// (so a `\r` of a CRLF stays with the line it ends). Line 1, and a line past the last one
/// (serde_json never reports one), start at 0.
fn line_start(body: &[u8], line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    body.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(line - 2)
        .map_or(0, |(i, _)| i + 1)
}

/// The path (`caller.name`, `[1].state`, `.` for the top) of the value that `body[..end]`
/// ends inside. A key stays on the path until the `,` or the bracket after its value, so a
/// value that was read whole but was of the wrong type keeps its key, and an object that ended
/// without a required field is named itself.
pub(crate) fn json_path_at(body: &[u8], end: usize) -> String {
    enum Frame {
        /// An object, with the key whose value is being read (if any).
        Object(Option<String>),
        /// An array, with the index of the element being read.
        Array(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let end = end.min(body.len());
    let mut i = 0;
    // Whether the next string in an object is a key.
    let mut want_key = false;
    while i < end {
        match body[i] {
            b'{' => {
                stack.push(Frame::Object(None));
                want_key = true;
            }
            b'[' => {
                stack.push(Frame::Array(0));
                want_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                want_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object(key)) => {
                    *key = None;
                    want_key = true;
                }
                Some(Frame::Array(n)) => *n += 1,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < end && body[j] != b'"' {
                    j += if body[j] == b'\\' { 2 } else { 1 };
                }
                if want_key {
                    if let Some(Frame::Object(key)) = stack.last_mut() {
                        let raw = &body[start..j.min(end)];
                        *key = Some(String::from_utf8_lossy(raw).into_owned());
                    }
                    want_key = false;
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None) => {}
            Frame::Array(n) => {
                path.push('[');
                path.push_str(&n.to_string());
                path.push(']');
            }
        }
    }
    if path.is_empty() {
        path.push('.');
    }
    path
}

/// Up to about 120 bytes of `body` centred on a 1-based line and column, on one line.
fn excerpt_at(body: &[u8], line: usize, column: usize) -> String {
    const HALF: usize = 60;
    let at = (line_start(body, line) + column.saturating_sub(1)).min(body.len());
    let start = at.saturating_sub(HALF);
    let end = (at + HALF).min(body.len());
    let piece = String::from_utf8_lossy(&body[start..end]);
    let mut out = String::with_capacity(piece.len() + 6);
    if start > 0 {
        out.push('…');
    }
    out.extend(piece.chars().map(|c| if c.is_control() { ' ' } else { c }));
    if end < body.len() {
        out.push('…');
    }
    out
}

/// A type decoded from a JSON object by the value of its `type` key.
pub trait Tagged: Sized {
    /// What the decoder expects, for error messages.
    const EXPECTING: &'static str;
    /// Decodes the rest of an object whose `type` was `kind` and already consumed.
    fn from_map<'de, A: MapAccess<'de>>(kind: &str, map: A) -> Result<Self, A::Error>;
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
        // Slow path: buffer the entries before `type` as values, then decode the struct from
        // those followed by the rest of the same map. Asterisk puts `type` after one or two
        // scalars (`variable`/`value`, `cause`/`soft`), so what is buffered is small and the
        // bulk of the object (the channel) is still decoded straight from the input.
        let mut before: Vec<(Key<'de>, serde_json::Value)> = Vec::with_capacity(4);
        let mut key = first;
        loop {
            if key.is_type() {
                let kind: StrBuf<'de> = map.next_value()?;
                return T::from_map(
                    kind.as_str(),
                    Chained {
                        before: before.into_iter(),
                        value: None,
                        rest: map,
                    },
                );
            }
            let value: serde_json::Value = map.next_value()?;
            before.push((key, value));
            key = match map.next_key_seed(KeySeed)? {
                Some(key) => key,
                None => return Err(de::Error::missing_field("type")),
            };
        }
    }
}

/// The entries read before `type`, then the rest of the live map: one map for the struct.
struct Chained<'de, A> {
    before: std::vec::IntoIter<(Key<'de>, serde_json::Value)>,
    /// The buffered value whose key was just handed out, with that key for error messages.
    value: Option<(Key<'de>, serde_json::Value)>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Chained<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.before.next() else {
            return self.rest.next_key_seed(seed);
        };
        let name = match &key {
            Key::Borrowed(s) => seed.deserialize(de::value::BorrowedStrDeserializer::new(s)),
            Key::Owned(s) => seed.deserialize(de::value::StrDeserializer::new(s)),
        };
        self.value = Some((key, value));
        name.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            // A buffered value is decoded outside the input's own tracking of where it is, so
            // its errors name the key themselves.
            Some((key, value)) => seed
                .deserialize(value)
                .map_err(|e| de::Error::custom(format_args!("`{}`: {e}", key.as_str()))),
            None => self.rest.next_value_seed(seed),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.rest.size_hint().map(|n| n + self.before.len())
    }
}

/// A map key, borrowed when the input allows.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn is_type(&self) -> bool {
        self.as_str() == "type"
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
        self.0.as_str()
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

#[cfg(test)]
mod tests {
    use super::{decode_error, excerpt_at, line_start, offset_of, type_first};
    use crate::generated::events::{Event, EventKind};
    use crate::generated::models::ChannelState;
    use crate::meta::ResourceRef;

    const CHANNEL: &str = r#"{"id":"c1","name":"Local/wait@default-00000001;1","state":"Up",
        "protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},
        "accountcode":"","dialplan":{"context":"default","exten":"wait","priority":1,
        "app_name":"Stasis","app_data":"app"},"creationtime":"2026-11-22T06:00:00.000+0000",
        "language":"en"}"#;

    fn stasis_start(type_first: bool) -> String {
        let body = format!(
            r#""timestamp":"2026-11-22T06:00:00.000+0000","args":["a"],"channel":{CHANNEL},
               "asterisk_id":"52:54:00:00:00:01","application":"app""#
        );
        if type_first {
            format!(r#"{{"type":"StasisStart",{body}}}"#)
        } else {
            format!(r#"{{{body},"type":"StasisStart"}}"#)
        }
    }

    #[test]
    fn excerpt_is_centred_and_single_line() {
        let body = format!("{{\"a\":\n{}\"bad\"{}}}", " ".repeat(200), "x".repeat(200));
        let ex = excerpt_at(body.as_bytes(), 2, 201);
        assert!(ex.contains("\"bad\""), "{ex}");
        assert!(ex.starts_with('…') && ex.ends_with('…'));
        assert!(!ex.contains('\n'));
        assert_eq!(excerpt_at(b"", 1, 1), "");
    }

    #[test]
    fn line_starts_at_the_edges() {
        // The first line, and a body of one line without a newline.
        assert_eq!(line_start(b"", 1), 0);
        assert_eq!(line_start(b"abc", 1), 0);
        assert_eq!(line_start(b"abc", 0), 0);
        // The last line, without a newline after it.
        assert_eq!(line_start(b"ab\ncd", 2), 3);
        assert_eq!(line_start(b"ab\ncd\nef", 3), 6);
        // A newline that ends the body starts an empty last line.
        assert_eq!(line_start(b"ab\n", 2), 3);
        // CRLF: the `\r` belongs to the line it ends.
        assert_eq!(line_start(b"ab\r\ncd", 2), 4);
        assert_eq!(line_start(b"a\r\nb\r\nc", 3), 6);
        // A line past the last one.
        assert_eq!(line_start(b"ab\ncd", 5), 0);
        // What the two callers make of it: serde_json's column is the last byte read.
        assert_eq!(offset_of(b"ab\r\ncd", 2, 1), 5);
        assert_eq!(offset_of(b"ab\ncd", 2, 99), 5);
        assert_eq!(excerpt_at(b"ab\r\ncd", 2, 1), "ab  cd");
        // Through serde_json itself: an error on the last line of a CRLF body.
        let text = "{\r\n\"a\": 1,\r\n\"b\": x}";
        let err = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        assert_eq!(err.line(), 3);
        let at = offset_of(text.as_bytes(), err.line(), err.column());
        assert_eq!(&text[at - 1..at], "x");
    }

    /// The path of the failure, as the SDK reports it, for `T` decoded from `text`.
    fn path_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
        let err = serde_json::from_str::<T>(text).unwrap_err();
        decode_error(err, text).json_path().unwrap().to_owned()
    }

    #[test]
    fn json_paths_name_the_failing_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Caller {
            name: String,
            number: Option<String>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Chan {
            id: String,
            caller: Caller,
            #[serde(default)]
            tags: Vec<u32>,
        }
        // A value of the wrong type, scalar or string, keeps its key.
        assert_eq!(
            path_of::<Chan>(r#"{"id":"1","caller":{"name":42}}"#),
            "caller.name"
        );
        assert_eq!(path_of::<Chan>(r#"{"id":7,"caller":{"name":"a"}}"#), "id");
        assert_eq!(
            path_of::<Chan>("{\"id\":\"1\",\n \"caller\": {\"number\": \"2\", \"name\": [1]}}"),
            "caller.name"
        );
        // A missing field names the object it is missing from.
        assert_eq!(
            path_of::<Chan>(r#"{"id":"1","caller":{"number":"2"}}"#),
            "caller"
        );
        assert_eq!(path_of::<Chan>(r#"{"caller":{"name":"a"}}"#), ".");
        // Arrays count their elements; escaped quotes and brackets inside strings are text.
        assert_eq!(
            path_of::<Vec<Chan>>(
                r#"[{"id":"a\"]}","caller":{"name":"x"}},{"id":"2","caller":{"name":false}}]"#
            ),
            "[1].caller.name"
        );
        assert_eq!(
            path_of::<Chan>(r#"{"id":"1","caller":{"name":"a"},"tags":[1,2,"x"]}"#),
            "tags[2]"
        );
        // Broken input still gets a path, never a panic.
        for text in ["", "{", "{\"id\"", "[[[", "{\"a\":\"\\", "}}]]", "\""] {
            let err = serde_json::from_str::<Chan>(text).unwrap_err();
            assert!(!decode_error(err, text).json_path().unwrap().is_empty());
        }
    }

    #[test]
    fn type_first_moves_only_a_top_level_type() {
        assert_eq!(
            type_first(
                r#"{"variable":"X","value":"{\"type\":1}","type":"ChannelVarset","channel":{"type":"no"}}"#
            ),
            r#"{"type":"ChannelVarset","variable":"X","value":"{\"type\":1}","channel":{"type":"no"}}"#
        );
        assert_eq!(
            type_first(" { \"a\" : [1,{\"b\":\"]\"}] ,\n \"type\" : \"T\" } "),
            "{\"type\" : \"T\",\"a\" : [1,{\"b\":\"]\"}] } "
        );
        for same in [
            r#"{"type":"A","b":1}"#,
            r#"{"a":1,"b":2}"#,
            r#"[1,{"type":"A"}]"#,
            r#"{"a":{"type":"A"}}"#,
            r#"{"a":1,"type""#,
            r#"{"a":"#,
            "",
            "{",
            r#"{"a":1 "type":"A"}"#,
        ] {
            assert!(
                matches!(type_first(same), std::borrow::Cow::Borrowed(_)),
                "{same}"
            );
        }
        // Decoded after the move, a type-last event is the same event.
        let slow = stasis_start(false);
        let moved = type_first(&slow);
        assert!(matches!(moved, std::borrow::Cow::Owned(_)));
        assert_eq!(
            serde_json::from_str::<Event>(&moved).unwrap(),
            serde_json::from_str::<Event>(&slow).unwrap()
        );
    }

    #[test]
    fn type_first_and_type_last_decode_alike() {
        let fast: Event = serde_json::from_str(&stasis_start(true)).unwrap();
        let slow: Event = serde_json::from_str(&stasis_start(false)).unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast.kind(), EventKind::StasisStart);
        assert_eq!(fast.application(), Some("app"));
        let Event::StasisStart(e) = &fast else {
            panic!("a StasisStart")
        };
        assert_eq!(e.channel.id, "c1");
        assert_eq!(e.channel.state, ChannelState::Up);
        assert_eq!(e.args, ["a"]);
        let mut seen = Vec::new();
        fast.visit_resources(|r| {
            if let ResourceRef::Channel(id) = r {
                seen.push(id.to_owned())
            }
        });
        assert_eq!(seen, ["c1"]);
    }

    #[test]
    fn the_streams_decoder_reads_late_types_and_reports_the_frames_own_positions() {
        // Multi-line, as a producer may pretty-print: `type` on the second line, after two
        // members.
        let body = format!(
            r#"{{"cause":32,"soft":true,
 "type":"ChannelHangupRequest",
               "timestamp":"2026-11-22T06:00:00.000+0000","channel":{CHANNEL},
               "asterisk_id":"52:54:00:00:00:01","application":"app"}}"#
        );
        let e: Event = super::event_frame(&body).unwrap();
        assert_eq!(e, serde_json::from_str::<Event>(&body).unwrap());
        // A failure after `type`: the same error as decoding the frame through `Deserialize`:
        // path, message with its line and column, excerpt.
        let bad = body.replace(r#""application":"app""#, r#""application":7"#);
        let stream = super::event_frame::<Event>(&bad).unwrap_err();
        let generic = super::decode_json_str::<Event>(&bad).unwrap_err();
        assert_eq!(stream.json_path(), Some("application"));
        assert_eq!(stream.to_string(), generic.to_string());
        assert!(
            stream.to_string().contains("at line 8 column 64"),
            "{stream}"
        );
        // A failure in a member before `type`: its own path (not the buffered key), and the
        // frame's position and excerpt.
        let bad = body.replace(r#""soft":true"#, r#""soft":"yes""#);
        let stream = super::event_frame::<Event>(&bad).unwrap_err();
        assert_eq!(stream.json_path(), Some("soft"));
        let text = stream.to_string();
        assert!(
            text.contains("invalid type: string \"yes\", expected a boolean at line 1 column 24"),
            "{text}"
        );
        assert!(
            stream
                .excerpt()
                .unwrap()
                .starts_with(r#"{"cause":32,"soft":"yes","#),
            "{text}"
        );
        // No `type` at all; `type` that is not a string; an escaped `type` key, late.
        let none = body.replace(r#""type":"ChannelHangupRequest","#, "");
        let err = super::event_frame::<Event>(&none).unwrap_err();
        assert!(err.to_string().contains("missing field `type`"), "{err}");
        let number = body.replace(r#""ChannelHangupRequest""#, "5");
        let err = super::event_frame::<Event>(&number).unwrap_err();
        assert_eq!(err.json_path(), Some("type"), "{err}");
        let escaped = body.replace(r#""type":"#, r#""typ\u0065":"#);
        assert_eq!(super::event_frame::<Event>(&escaped).unwrap(), e);
    }

    #[test]
    fn type_after_some_fields_decodes_alike_and_names_bad_fields() {
        // Asterisk 22's order for ChannelHangupRequest: two scalars, then `type`.
        let body = format!(
            r#"{{"cause":32,"soft":true,"type":"ChannelHangupRequest",
               "timestamp":"2026-11-22T06:00:00.000+0000","channel":{CHANNEL},
               "asterisk_id":"52:54:00:00:00:01","application":"app"}}"#
        );
        let e: Event = serde_json::from_str(&body).unwrap();
        let Event::ChannelHangupRequest(h) = &e else {
            panic!("a ChannelHangupRequest, got {e:?}")
        };
        assert_eq!((h.cause, h.soft), (Some(32), Some(true)));
        assert_eq!(h.channel.id, "c1");
        let reordered = body.replace(r#""cause":32,"soft":true,"#, "").replace(
            r#""application":"app""#,
            r#""application":"app","soft":true,"cause":32"#,
        );
        assert_eq!(serde_json::from_str::<Event>(&reordered).unwrap(), e);
        // A bad value before `type` is reported with its key.
        let bad = body.replace(r#""cause":32"#, r#""cause":"busy""#);
        let err = super::decode_json::<Event>(bad.as_bytes()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`cause`: invalid type: string \"busy\""),
            "{text}"
        );
        // Without any `type` at all, the whole object is read and the error says so.
        let none = body.replace(r#""type":"ChannelHangupRequest","#, "");
        let err = serde_json::from_str::<Event>(&none).unwrap_err();
        assert!(err.to_string().contains("missing field `type`"), "{err}");
    }

    #[test]
    fn unknown_types_and_fields_are_values() {
        let raw = r#"{"type":"ChannelTeleported","application":"app","where":{"x":1}}"#;
        let e: Event = serde_json::from_str(raw).unwrap();
        let Event::Unknown { kind, raw: value } = &e else {
            panic!("Unknown")
        };
        assert_eq!(kind, "ChannelTeleported");
        assert_eq!(value["where"]["x"], 1);
        assert_eq!(value["type"], "ChannelTeleported");
        assert_eq!(e.application(), Some("app"));
        assert_eq!(e.kind(), EventKind::Unknown);
        // A field no release has is skipped, the rest decodes.
        let with_extra = stasis_start(true).replace(r#""args""#, r#""future":[1,2],"args""#);
        assert!(matches!(
            serde_json::from_str::<Event>(&with_extra),
            Ok(Event::StasisStart(_))
        ));
    }

    #[test]
    fn list_values_round_trip_including_unknown_ones() {
        let known: ChannelState = serde_json::from_str(r#""Dialing Offhook""#).unwrap();
        assert_eq!(known, ChannelState::DialingOffhook);
        let literal: ChannelState = serde_json::from_str(r#""Unknown""#).unwrap();
        assert_eq!(literal, ChannelState::UnknownValue);
        let new: ChannelState = serde_json::from_str(r#""Teleporting""#).unwrap();
        assert_eq!(new, ChannelState::Unknown("Teleporting".into()));
        assert!(!new.is_known());
        assert_eq!(serde_json::to_string(&new).unwrap(), r#""Teleporting""#);
        assert_eq!(
            serde_json::to_string(&ChannelState::PreRing).unwrap(),
            r#""Pre-ring""#
        );
    }

    #[test]
    fn events_serialize_with_their_type() {
        let e: Event = serde_json::from_str(&stasis_start(true)).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "StasisStart");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn malformed_events_are_errors_naming_the_problem() {
        let no_type = serde_json::from_str::<Event>(r#"{"application":"app"}"#).unwrap_err();
        assert!(
            no_type.to_string().contains("missing field `type`"),
            "{no_type}"
        );
        let not_object = serde_json::from_str::<Event>("[1]").unwrap_err();
        assert!(
            not_object
                .to_string()
                .contains("a JSON object with a `type`"),
            "{not_object}"
        );
        let bad_field = stasis_start(true).replace(r#""args":["a"]"#, r#""args":"a""#);
        let err = serde_json::from_str::<Event>(&bad_field).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        let empty = serde_json::from_str::<Event>("{}").unwrap_err();
        assert!(empty.to_string().contains("type"), "{empty}");
    }

    #[test]
    fn fixture_union_takes_either_type() {
        use crate::fixture_snapshot::models::{Thing, ThingPayloadType};
        let base = r#""id":"t","type":"x","state":"on","created":"now""#;
        let new: Thing = serde_json::from_str(&format!(r#"{{{base},"payload":["a"]}}"#)).unwrap();
        assert_eq!(new.payload, Some(ThingPayloadType::List(vec!["a".into()])));
        let old: Thing =
            serde_json::from_str(&format!(r#"{{{base},"payload":{{"k":1}}}}"#)).unwrap();
        assert!(matches!(old.payload, Some(ThingPayloadType::Object(_))));
        assert_eq!(old.r#type, "x");
    }
}
