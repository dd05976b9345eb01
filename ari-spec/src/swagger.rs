//! Serde types for Swagger 1.1/1.2 exactly as Asterisk writes it.
//!
//! Reading is lenient: every key that Asterisk's files use has a field, and any other key lands in
//! an `extra` map instead of failing, so a key added by a future release is never fatal. Keys with
//! typos (`defalutValue`, `descriptioni`) also land in `extra`; the named fix-ups in
//! [`crate::fixups`] move them where they belong.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Keys that no field of ours names, kept in file order.
pub type Extra = BTreeMap<String, Value>;

/// `resources.json`: the list of API declaration files.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceListing {
    /// Version of the ARI API itself (changes once per major release at most).
    pub api_version: String,
    /// "1.1" in every Asterisk release.
    pub swagger_version: String,
    /// Base URL of the server that served the file (differs between servers).
    #[serde(default)]
    pub base_path: String,
    /// The declaration files.
    pub apis: Vec<ResourceEntry>,
    /// Keys we do not model (`_copyright`, `_author`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `resources.json`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ResourceEntry {
    /// E.g. `/api-docs/channels.{format}`.
    pub path: String,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResourceEntry {
    /// The resource name the path points at: `/api-docs/channels.{format}` gives `channels`;
    /// `None` for a path that could name a file outside the spec folder
    /// ([`crate::load::checked_resource_name`] says why).
    pub fn resource_name(&self) -> Option<&str> {
        crate::load::checked_resource_name(&self.path).ok()
    }
}

/// Whether `s` is a model name: an ASCII capital letter, then ASCII letters, digits and `_`.
pub fn is_model_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How deeply `List[...]` may nest in a data type. Asterisk nests once; the bound keeps a hostile
/// type string from costing more than its length.
pub const MAX_LIST_DEPTH: usize = 8;

/// One API declaration file, such as `channels.json`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiDeclaration {
    /// Version of the ARI API.
    pub api_version: String,
    /// "1.1", or "1.2" for `events.json`.
    pub swagger_version: String,
    /// Base URL of the server that served the file.
    #[serde(default)]
    pub base_path: String,
    /// E.g. `/api-docs/channels.{format}`.
    #[serde(default)]
    pub resource_path: String,
    /// Releases that introduced the resource (only in recent releases).
    #[serde(default)]
    pub since: Option<Vec<String>>,
    /// Asterisk modules that must be loaded for the resource.
    #[serde(default)]
    pub requires_modules: Option<Vec<String>>,
    /// The paths and their operations.
    pub apis: Vec<Api>,
    /// Models, in file order.
    #[serde(default, deserialize_with = "ordered_map")]
    pub models: Vec<(String, Model)>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A path and the operations on it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Api {
    /// Path template, e.g. `/channels/{channelId}`.
    pub path: String,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
    /// Operations on the path.
    pub operations: Vec<Operation>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One operation.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub http_method: String,
    /// Operation name, unique within its file.
    pub nickname: String,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Longer notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Response type: `void`, a model, `List[T]`, `binary`.
    #[serde(default = "void")]
    pub response_class: String,
    /// Parameters.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Documented error statuses.
    #[serde(default)]
    pub error_responses: Vec<ErrorResponse>,
    /// Releases that introduced the operation, one per major line (only in recent releases).
    #[serde(default)]
    pub since: Option<Vec<String>>,
    /// `websocket` on the events operation: it is no plain HTTP call.
    #[serde(default)]
    pub upgrade: Option<String>,
    /// WebSocket subprotocol of the events operation (`ari`).
    #[serde(default)]
    pub websocket_protocol: Option<String>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

fn void() -> String {
    "void".to_owned()
}

/// A documented error status.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ErrorResponse {
    /// HTTP status code (some releases write it as a string, `"404"`).
    #[serde(deserialize_with = "status_code")]
    pub code: u16,
    /// Why Asterisk answers it.
    #[serde(default)]
    pub reason: String,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An operation parameter.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    /// Wire name.
    pub name: String,
    /// `path`, `query` or `body`.
    pub param_type: String,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the operation requires it.
    #[serde(default)]
    pub required: bool,
    /// Whether several values may be given (sent comma-joined).
    #[serde(default)]
    pub allow_multiple: bool,
    /// Data type.
    pub data_type: String,
    /// Default value the server applies.
    #[serde(default)]
    pub default_value: Option<Value>,
    /// LIST or RANGE constraint.
    #[serde(default)]
    pub allowable_values: Option<AllowableValues>,
    /// Keys we do not model (including typos that fix-ups correct).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A LIST or RANGE constraint.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AllowableValues {
    /// `LIST` or `RANGE`.
    pub value_type: String,
    /// The allowed values of a LIST.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// The lower bound of a RANGE.
    #[serde(default)]
    pub min: Option<Value>,
    /// The upper bound of a RANGE.
    #[serde(default)]
    pub max: Option<Value>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A model (complex type).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// The model's name, equal to its key in `models`.
    pub id: String,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
    /// Properties, in file order. A name listed twice is kept twice here (12.0.0–12.4.0 list two
    /// properties of `LiveRecording` twice); the check refuses it unless a fix-up merged it.
    #[serde(default, deserialize_with = "ordered_pairs")]
    pub properties: Vec<(String, Property)>,
    /// Name of the property that tells subtypes apart (`type` on `Message`).
    #[serde(default)]
    pub discriminator: Option<String>,
    /// Names of the models that extend this one.
    #[serde(default)]
    pub sub_types: Vec<String>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A model property.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    /// Data type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the spec says the property is always present (a hint: servers omit some).
    #[serde(default)]
    pub required: bool,
    /// LIST or RANGE constraint.
    #[serde(default)]
    pub allowable_values: Option<AllowableValues>,
    /// Keys we do not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Deserializes a JSON object into a list of pairs, keeping file order (which serde_json's map
/// would lose) so generated structs list fields as Asterisk documents them. A repeated key is an
/// error rather than a silent overwrite.
fn ordered_map<'de, D, T>(de: D) -> Result<Vec<(String, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<(String, T)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, T)> = Vec::new();
            // A set beside the list keeps the duplicate check linear in the number of keys.
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
                }
                let value = map.next_value()?;
                out.push((key, value));
            }
            Ok(out)
        }
    }
    de.deserialize_map(V(std::marker::PhantomData))
}

/// Like [`ordered_map`], but a repeated key is kept as a second pair, for the check and the
/// fix-ups to see (a JSON reader that keeps the last value would silently lose the first).
fn ordered_pairs<'de, D, T>(de: D) -> Result<Vec<(String, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<(String, T)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                out.push((key, map.next_value()?));
            }
            Ok(out)
        }
    }
    de.deserialize_map(V(std::marker::PhantomData))
}

/// Reads a status code written as a number or as a numeric string.
fn status_code<'de, D: Deserializer<'de>>(de: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Num(u16),
        Text(String),
    }
    match Code::deserialize(de)? {
        Code::Num(n) => Ok(n),
        Code::Text(t) => t
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("status code `{t}` is not a number"))),
    }
}

/// A data type as the spec spells it, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// No value (`void`).
    Void,
    /// `string`.
    String,
    /// `int` (Asterisk prints unsigned 32-bit values here, so it does not fit `i32`).
    Int,
    /// `long`.
    Long,
    /// `double`.
    Double,
    /// `boolean`.
    Boolean,
    /// `Date`: a timestamp string such as `2024-05-01T10:00:00.000+0000`.
    Date,
    /// `object`: any JSON value.
    Object,
    /// `containers`: a JSON object of string values.
    Containers,
    /// `binary`: raw bytes (a response only).
    Binary,
    /// `List[T]`.
    List(Box<DataType>),
    /// A model, by name.
    Model(String),
}

impl DataType {
    /// Parses a data type. Lower-case names that are no known primitive are an error (a typo or a
    /// type this reader does not know); other names are model references, checked later.
    pub fn parse(s: &str) -> Result<DataType, String> {
        // Peel `List[...]` iteratively: no recursion, however deep the input nests.
        let mut inner = s;
        let mut depth = 0;
        while let Some(rest) = inner
            .strip_prefix("List[")
            .and_then(|r| r.strip_suffix(']'))
        {
            depth += 1;
            if depth > MAX_LIST_DEPTH {
                return Err(format!(
                    "`List[` nests more than {MAX_LIST_DEPTH} deep in `{}`",
                    shorten(s)
                ));
            }
            inner = rest;
        }
        let mut t = DataType::parse_scalar(inner).map_err(|e| {
            if depth == 0 {
                e
            } else {
                format!("{e} (in `{}`)", shorten(s))
            }
        })?;
        for _ in 0..depth {
            t = DataType::List(Box::new(t));
        }
        Ok(t)
    }

    fn parse_scalar(s: &str) -> Result<DataType, String> {
        Ok(match s {
            "void" => DataType::Void,
            "string" => DataType::String,
            "int" => DataType::Int,
            "long" => DataType::Long,
            "double" => DataType::Double,
            "boolean" => DataType::Boolean,
            "Date" => DataType::Date,
            "object" => DataType::Object,
            "containers" => DataType::Containers,
            "binary" => DataType::Binary,
            _ => {
                if is_model_name(s) {
                    DataType::Model(s.to_owned())
                } else {
                    return Err(format!("unknown data type `{}`", shorten(s)));
                }
            }
        })
    }

    /// The model this type refers to, directly or as a list element.
    pub fn model_name(&self) -> Option<&str> {
        match self {
            DataType::Model(m) => Some(m),
            DataType::List(inner) => inner.model_name(),
            _ => None,
        }
    }
}

/// A possibly huge input string cut for an error message.
fn shorten(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.escape_debug().to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", s[..end].escape_debug(), s.len())
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Void => f.write_str("void"),
            DataType::String => f.write_str("string"),
            DataType::Int => f.write_str("int"),
            DataType::Long => f.write_str("long"),
            DataType::Double => f.write_str("double"),
            DataType::Boolean => f.write_str("boolean"),
            DataType::Date => f.write_str("Date"),
            DataType::Object => f.write_str("object"),
            DataType::Containers => f.write_str("containers"),
            DataType::Binary => f.write_str("binary"),
            DataType::List(t) => write!(f, "List[{t}]"),
            DataType::Model(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_parse() {
        assert_eq!(
            DataType::parse("List[Channel]").unwrap(),
            DataType::List(Box::new(DataType::Model("Channel".into())))
        );
        assert_eq!(DataType::parse("containers").unwrap(), DataType::Containers);
        assert!(DataType::parse("strnig").unwrap_err().contains("strnig"));
        assert!(DataType::parse("List[strnig]").is_err());
        assert_eq!(
            DataType::parse("List[string]").unwrap().to_string(),
            "List[string]"
        );
    }

    #[test]
    fn ordered_map_keeps_order_and_rejects_duplicates() {
        let m: Model = serde_json::from_str(
            r#"{"id":"M","properties":{"z":{"type":"string"},"a":{"type":"int"}}}"#,
        )
        .unwrap();
        let names: Vec<_> = m.properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["z", "a"]);
        let err = serde_json::from_str::<ApiDeclaration>(
            r#"{"apiVersion":"1","swaggerVersion":"1.1","basePath":"x","resourcePath":"r",
            "apis":[],"models":{"M":{"id":"M"},"M":{"id":"M"}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate key `M`"), "{err}");
    }

    #[test]
    fn repeated_properties_are_kept_for_the_check() {
        let m: Model = serde_json::from_str(
            r#"{"id":"M","properties":{"a":{"type":"string"},"b":{"type":"int"},"a":{"type":"int"}}}"#,
        )
        .unwrap();
        let names: Vec<_> = m.properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "a"]);
    }

    #[test]
    fn unknown_keys_are_kept_not_fatal() {
        let p: Parameter = serde_json::from_str(
            r#"{"name":"x","paramType":"query","dataType":"string","defalutValue":"y","future":1}"#,
        )
        .unwrap();
        assert_eq!(p.extra["defalutValue"], "y");
        assert_eq!(p.extra["future"], 1);
    }
}
