//! The generator against hostile specs: names that are no identifiers, that collide after Rust
//! casing, or that the generated code itself uses, are refused with the file and JSON path;
//! self-containing models are boxed; the deepest accepted types generate. (That such output also
//! compiles is proven by the adversarial fixture, whose snapshot ari-sdk compiles.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use ari_spec::{Corpus, RawRevision, Release, ReleaseEntry, Revision};
use serde_json::{Value, json};

/// A one-release corpus of one resource `m` with these operations and models (plus the event
/// bases, so that the generator sees a complete spec).
fn corpus(apis: Value, models: Value) -> Corpus {
    let mut models = models.as_object().cloned().unwrap_or_default();
    models
        .entry("Message")
        .or_insert(json!({"id": "Message", "discriminator": "type",
        "properties": {"type": {"type": "string", "required": true}}}));
    let decl = json!({"apiVersion": "1", "swaggerVersion": "1.2", "basePath": "x",
        "resourcePath": "r", "apis": apis, "models": models});
    let listing = json!({"apiVersion": "1", "swaggerVersion": "1.1", "basePath": "x",
        "apis": [{"path": "/api-docs/m.{format}"}]});
    let mut raw = RawRevision::default();
    raw.files
        .insert("resources.json".into(), listing.to_string().into());
    raw.files
        .insert("api-docs/m.json".into(), decl.to_string().into());
    let rev = Revision::parse(&raw).expect("the spec loads");
    Corpus {
        dir: PathBuf::from("hostile"),
        releases: vec![ReleaseEntry {
            release: Release::new(1, 0, 0),
            revision: "1.0.0".into(),
        }],
        revisions: BTreeMap::from([("1.0.0".to_owned(), rev)]),
        fixups_applied: BTreeMap::new(),
    }
}

fn refusal(apis: Value, models: Value) -> String {
    ari_codegen::generate(&corpus(apis, models))
        .map(|_| ())
        .expect_err("refused")
        .to_string()
}

fn model(props: Value) -> Value {
    json!({"M": {"id": "M", "properties": props}})
}

fn op(nickname: &str, params: Value) -> Value {
    json!([{"path": "/m", "operations": [{"httpMethod": "GET", "nickname": nickname,
        "responseClass": "void", "parameters": params}]}])
}

#[test]
fn a_name_with_no_letter_or_digit_is_refused_with_file_and_path() {
    let e = refusal(json!([]), model(json!({"-": {"type": "string"}})));
    assert!(
        e.contains("field `-` (1.0.0/api-docs/m.json: models.M.properties.-)"),
        "{e}"
    );
    assert!(e.contains("no ASCII letter or digit"), "{e}");

    let e = refusal(op("--", json!([])), json!({}));
    assert!(
        e.contains("1.0.0/api-docs/m.json: apis[0].operations[0].nickname"),
        "{e}"
    );
    let e = refusal(
        op(
            "get",
            json!([{"name": "", "paramType": "query", "dataType": "string"}]),
        ),
        json!({}),
    );
    assert!(
        e.contains("apis[0].operations[0].parameters[0].name"),
        "{e}"
    );
    assert!(e.contains("no ASCII letter or digit"), "{e}");
}

#[test]
fn names_that_collide_after_casing_are_refused_naming_both() {
    let e = refusal(
        json!([]),
        model(json!({"fooBar": {"type": "string"}, "foo_bar": {"type": "int"}})),
    );
    assert!(e.contains("name collision in struct `M`"), "{e}");
    assert!(e.contains("models.M.properties.fooBar"), "{e}");
    assert!(e.contains("models.M.properties.foo_bar"), "{e}");
    assert!(e.contains("would both be `foo_bar`"), "{e}");

    // enum values that case alike
    let e = refusal(
        json!([]),
        model(json!({"s": {"type": "string",
            "allowableValues": {"valueType": "LIST", "values": ["a b", "a_b"]}}})),
    );
    assert!(e.contains("value `a_b` of `M.s`"), "{e}");
}

#[test]
fn names_the_generated_code_uses_are_refused() {
    for name in [
        "String",
        "Option",
        "Vec",
        "Result",
        "Box",
        "Unknown",
        "EventKind",
    ] {
        let e = refusal(json!([]), json!({ name: {"id": name} }));
        assert!(
            e.contains(&format!(
                "model `{name}` (1.0.0/api-docs/m.json: models.{name})"
            )),
            "{e}"
        );
        assert!(e.contains("a name the generated code uses"), "{e}");
    }
    for param in ["client", "send"] {
        let e = refusal(
            op(
                "get",
                json!([{"name": param, "paramType": "query", "dataType": "string"}]),
            ),
            json!({}),
        );
        assert!(e.contains("a name the generated code uses"), "{param}: {e}");
    }
    let e = refusal(op("new", json!([])), json!({}));
    assert!(e.contains("operation `new`"), "{e}");
    // an operation named like a builder type the prelude has
    let e = refusal(op("string", json!([])), json!({}));
    assert!(e.contains("the builder of operation `string`"), "{e}");
}

#[test]
fn keywords_digits_and_symbols_are_mapped() {
    let out = ari_codegen::generate(&corpus(
        op(
            "9lives",
            json!([{"name": "type", "paramType": "query", "dataType": "string"},
                   {"name": "a.b", "paramType": "query", "dataType": "string"}]),
        ),
        model(json!({"self": {"type": "string"}, "größe": {"type": "int"},
                     "match": {"type": "string"}})),
    ))
    .expect("generates");
    let fields: Vec<&str> = out.api.models["M"]
        .fields
        .iter()
        .map(|f| f.rust.as_str())
        .collect();
    // (`json!` sorts keys)
    assert_eq!(fields, ["gr_e", "match", "self_"]);
    let op = &out.api.resources["m"].operations[0];
    assert_eq!(
        (op.rust.as_str(), op.builder.as_str()),
        ("n9lives", "V9lives")
    );
    let params: Vec<&str> = op.params.iter().map(|p| p.rust.as_str()).collect();
    assert_eq!(params, ["type", "a_b"]);
    let models = &out.files["models.rs"];
    assert!(models.contains("pub self_: Option<String>"), "{models}");
    assert!(models.contains("#[serde(rename = \"größe\")]"), "{models}");
    assert!(models.contains("pub r#match: Option<String>"), "{models}");
}

#[test]
fn self_containing_models_are_boxed() {
    let out = ari_codegen::generate(&corpus(
        json!([]),
        json!({
            "Direct": {"id": "Direct", "properties": {"me": {"type": "Direct", "required": true},
                                                     "many": {"type": "List[Direct]"}}},
            "A": {"id": "A", "properties": {"b": {"type": "B"}}},
            "B": {"id": "B", "properties": {"c": {"type": "C", "required": true}}},
            "C": {"id": "C", "properties": {"a": {"type": "A"}, "d": {"type": "Direct"}}},
        }),
    ))
    .expect("generates");
    let boxed = |m: &str| -> Vec<&str> {
        out.api.models[m]
            .fields
            .iter()
            .filter(|f| f.boxed)
            .map(|f| f.wire.as_str())
            .collect()
    };
    assert_eq!(boxed("Direct"), ["me"]);
    assert_eq!(boxed("A"), ["b"]);
    assert_eq!(boxed("B"), ["c"]);
    assert_eq!(boxed("C"), ["a"], "`d` leaves the cycle: no box");
    let models = &out.files["models.rs"];
    assert!(
        models.contains("pub me: Box<crate::generated::models::Direct>"),
        "{models}"
    );
    assert!(
        models.contains("pub many: Option<Vec<crate::generated::models::Direct>>"),
        "{models}"
    );
}

#[test]
fn the_deepest_accepted_type_generates() {
    let deep = format!("{}M{}", "List[".repeat(8), "]".repeat(8));
    let out = ari_codegen::generate(&corpus(json!([]), model(json!({"deep": {"type": deep}}))))
        .expect("generates");
    let compact: String = out.files["models.rs"]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(compact.contains(&format!(
        "pubdeep:Option<{}crate::generated::models::M{}",
        "Vec<".repeat(8),
        ">".repeat(8) // then the Option's, after the comma prettyplease adds
    )));
}
