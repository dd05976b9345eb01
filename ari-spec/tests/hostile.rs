//! The loader against hostile input, one test per class: cycles (subTypes, extends), depth
//! (`List[` nesting, JSON nesting, inheritance), size, and paths that would read outside the spec
//! folder. Each refusal names the file, the JSON path and the problem.

use std::path::PathBuf;

use ari_spec::load::{MAX_INHERITANCE_DEPTH, checked_resource_name};
use ari_spec::swagger::{DataType, MAX_LIST_DEPTH};
use ari_spec::{DirSource, RawRevision, Revision, Source, SpecError};
use serde_json::{Value, json};

fn listing(paths: &[&str]) -> Value {
    let apis: Vec<Value> = paths.iter().map(|p| json!({ "path": p })).collect();
    json!({"apiVersion": "1", "swaggerVersion": "1.1", "basePath": "x", "apis": apis})
}

fn declaration(models: Value) -> Value {
    json!({"apiVersion": "1", "swaggerVersion": "1.2", "basePath": "x", "resourcePath": "r",
           "apis": [], "models": models})
}

fn raw(models: Value) -> RawRevision {
    let mut raw = RawRevision::default();
    raw.files.insert(
        "resources.json".into(),
        listing(&["/api-docs/m.{format}"]).to_string().into(),
    );
    raw.files.insert(
        "api-docs/m.json".into(),
        declaration(models).to_string().into(),
    );
    raw
}

fn refused(models: Value) -> SpecError {
    Revision::parse(&raw(models)).expect_err("refused")
}

#[test]
fn cycle_through_subtypes_is_refused() {
    let e = refused(json!({
        "A": {"id": "A", "subTypes": ["B"]},
        "B": {"id": "B", "subTypes": ["C"]},
        "C": {"id": "C", "subTypes": ["A"]},
    }));
    assert_eq!(e.file, "api-docs/m.json");
    assert!(
        e.path.starts_with("models.") && e.path.contains(".subTypes["),
        "{e}"
    );
    assert!(e.problem.contains("form a cycle"), "{e}");
    for m in ["A", "B", "C"] {
        assert!(e.problem.contains(m), "{e}");
    }
    // a model that is its own subtype
    let e = refused(json!({"A": {"id": "A", "subTypes": ["A"]}}));
    assert_eq!(e.path, "models.A.subTypes[0]");
    assert!(e.problem.contains("A -> A"), "{e}");
}

#[test]
fn cycle_through_extends_is_refused() {
    // An `extends` that its parent's `subTypes` do not list is refused first (the loader's
    // `extends` rule), so a cycle made of `extends` alone never reaches the cycle check.
    let e = refused(json!({
        "A": {"id": "A", "extends": "B"},
        "B": {"id": "B", "extends": "A"},
    }));
    assert_eq!(e.file, "api-docs/m.json");
    assert_eq!(e.path, "models.A.extends", "{e}");
    assert!(
        e.problem.contains("whose `subTypes` do not list `A`"),
        "{e}"
    );
    // With each `extends` matched by the parent's `subTypes`, the cycle itself is refused.
    let e = refused(json!({
        "A": {"id": "A", "extends": "B", "subTypes": ["B"]},
        "B": {"id": "B", "extends": "A", "subTypes": ["A"]},
    }));
    assert_eq!(e.file, "api-docs/m.json");
    assert!(e.path.starts_with("models.A."), "{e}");
    assert!(e.problem.contains("form a cycle: A -> B -> A"), "{e}");
}

#[test]
fn cycle_through_references_loads() {
    // A model that contains itself is a legal spec (the generator boxes it).
    let rev = Revision::parse(&raw(json!({
        "A": {"id": "A", "properties": {"b": {"type": "B"}, "me": {"type": "A"}}},
        "B": {"id": "B", "properties": {"a": {"type": "List[A]"}}},
    })))
    .expect("loads");
    assert_eq!(rev.models().count(), 2);
}

#[test]
fn event_names_terminate_on_a_cycle() {
    // `Revision`'s fields are public: a cycle built after the check still ends.
    let mut rev = Revision::parse(&raw(json!({
        "Event": {"id": "Event", "subTypes": ["A"]},
        "A": {"id": "A"},
    })))
    .unwrap();
    rev.resources[0].1.models[1].1.sub_types = vec!["Event".into(), "A".into()];
    assert_eq!(rev.event_names(), ["A", "Event"]);
}

#[test]
fn deep_list_nesting_is_refused_without_recursion() {
    let ok = format!(
        "{}string{}",
        "List[".repeat(MAX_LIST_DEPTH),
        "]".repeat(MAX_LIST_DEPTH)
    );
    assert!(DataType::parse(&ok).is_ok());
    // a million levels: no stack overflow, a short message
    let deep = format!(
        "{}string{}",
        "List[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    let e = DataType::parse(&deep).unwrap_err();
    assert!(e.contains("nests more than 8 deep"), "{e}");
    assert!(e.len() < 400, "the message is cut: {} bytes", e.len());
    let e = refused(json!({"A": {"id": "A", "properties": {"p": {"type": deep}}}}));
    assert_eq!(e.path, "models.A.properties.p.type");
}

#[test]
fn deep_json_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut r = raw(json!({}));
    let text = declaration(json!({}))
        .to_string()
        .replace("\"apis\":[]", &format!("\"apis\":[],\"x-extra\":{deep}"));
    r.files.insert("api-docs/m.json".into(), text.into());
    let e = Revision::parse(&r).unwrap_err();
    assert_eq!(e.file, "api-docs/m.json");
    assert!(e.problem.contains("recursion limit"), "{e}");
}

#[test]
fn deep_inheritance_is_refused() {
    let n = MAX_INHERITANCE_DEPTH + 1;
    let mut models = serde_json::Map::new();
    for i in 0..n {
        let mut m = json!({"id": format!("M{i}")});
        if i + 1 < n {
            m["subTypes"] = json!([format!("M{}", i + 1)]);
        }
        models.insert(format!("M{i}"), m);
    }
    let e = refused(Value::Object(models.clone()));
    assert!(e.problem.contains("levels deep"), "{e}");
    assert_eq!(e.path, format!("models.M{}", n - 1));
    models.remove(&format!("M{}", n - 1));
    models[&format!("M{}", n - 2)]
        .as_object_mut()
        .unwrap()
        .remove("subTypes");
    Revision::parse(&raw(Value::Object(models))).expect("at the bound it loads");
}

#[test]
fn a_model_name_that_is_no_name_is_refused() {
    for bad in ["", "lower", "9Lives", "A-B", "Grüße"] {
        let e = refused(json!({ bad: {"id": bad} }));
        assert_eq!(e.file, "api-docs/m.json");
        assert!(
            e.problem.contains("is not an ASCII capital letter"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn size_limits() {
    let many: Vec<String> = (0..=ari_spec::load::MAX_RESOURCES)
        .map(|i| format!("/api-docs/r{i}.{{format}}"))
        .collect();
    let paths: Vec<&str> = many.iter().map(String::as_str).collect();
    let mut r = RawRevision::default();
    r.files
        .insert("resources.json".into(), listing(&paths).to_string().into());
    let e = Revision::parse(&r).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.path.as_str()),
        ("resources.json", "apis")
    );
    assert!(e.problem.contains("at most 1024"), "{e}");

    // a file beyond the byte limit is refused from a folder, not read whole
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("resources.json"),
        listing(&["/api-docs/big.{format}"]).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.0.join("api-docs")).unwrap();
    let f = std::fs::File::create(dir.0.join("api-docs/big.json")).unwrap();
    f.set_len(ari_spec::load::MAX_FILE_BYTES + 1).unwrap(); // sparse: costs no disk
    let e = Revision::load_dir(&dir.0).unwrap_err();
    assert!(e.file.ends_with("big.json"), "{e}");
    assert!(e.problem.contains("larger than"), "{e}");
}

#[test]
fn resource_paths_that_leave_the_folder_are_refused() {
    let cases = [
        ("/api-docs/../../etc/passwd.json", "`..` segment"),
        ("../secret.json", "`..` segment"),
        ("/etc/passwd.json", "absolute path outside /api-docs/"),
        ("//server/share/x.json", "absolute path outside /api-docs/"),
        ("/api-docs/..\\..\\x.json", "backslash"),
        ("C:\\Windows\\x.json", "backslash"),
        ("C:x.json", "Windows drive"),
        ("/api-docs/c:x.json", "Windows drive"),
        ("/api-docs/a\0b.json", "NUL"),
        ("/api-docs/a%2e%2e.json", "may hold only ASCII letters"),
        ("/api-docs/.json", "names no declaration file"),
        ("/api-docs/x.txt", "ends in neither"),
        ("sub/x.json", "outside api-docs/"),
    ];
    for (path, want) in cases {
        let e = checked_resource_name(path).unwrap_err();
        assert!(e.contains(want), "{path:?}: {e}");
        let mut r = RawRevision::default();
        r.files
            .insert("resources.json".into(), listing(&[path]).to_string().into());
        let e = Revision::parse(&r).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.path.as_str()),
            ("resources.json", "apis[0].path")
        );
        assert!(e.problem.contains(want), "{path:?}: {e}");
    }
    for ok in [
        "/api-docs/channels.{format}",
        "api-docs/channels.json",
        "channels.json",
    ] {
        assert_eq!(checked_resource_name(ok), Ok("channels"));
    }
    // the folder source refuses the same, for callers other than the loader
    let dir = TempDir::new();
    let src = DirSource::new(&dir.0);
    for bad in [
        "../x.json",
        "/etc/passwd",
        "a\\b.json",
        "C:x",
        "a/./b",
        "a\0",
    ] {
        let e = src.fetch(bad).unwrap_err();
        assert!(!e.problem.is_empty(), "{bad:?}");
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_that_escapes_the_folder_is_refused() {
    let outside = TempDir::new();
    std::fs::write(
        outside.0.join("secret.json"),
        declaration(json!({})).to_string(),
    )
    .unwrap();
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("resources.json"),
        listing(&["/api-docs/m.{format}", "/api-docs/inside.{format}"]).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.0.join("api-docs")).unwrap();
    std::fs::write(dir.0.join("real.json"), declaration(json!({})).to_string()).unwrap();
    // a link that stays inside is fine
    std::os::unix::fs::symlink(dir.0.join("real.json"), dir.0.join("api-docs/inside.json"))
        .unwrap();
    std::os::unix::fs::symlink(outside.0.join("secret.json"), dir.0.join("api-docs/m.json"))
        .unwrap();
    let e = Revision::load_dir(&dir.0).unwrap_err();
    assert!(e.file.ends_with("api-docs/m.json"), "{e}");
    assert!(e.problem.contains("outside the spec folder"), "{e}");
    std::fs::remove_file(dir.0.join("api-docs/m.json")).unwrap();
    std::fs::write(
        dir.0.join("api-docs/m.json"),
        declaration(json!({})).to_string(),
    )
    .unwrap();
    Revision::load_dir(&dir.0).expect("a link inside the folder is followed");
}

/// A temporary folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "ari-spec-hostile-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
