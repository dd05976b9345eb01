//! Snapshot tests on small fixture specs written for the purpose. The snapshots are compiled as a
//! module of `ari-sdk` in its test build (`fixture_snapshot`), so they must be valid, warning-free
//! Rust against the real runtime.
//!
//! Update the snapshots with `UPDATE_SNAPSHOTS=1 cargo test -p ari-codegen --test snapshots`.

use std::path::{Path, PathBuf};

use ari_codegen::ir::Type;
use ari_codegen::{GenError, emit, ir};
use ari_spec::Corpus;

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn fixture_api() -> ir::Api {
    api_of("basic", "crate::fixture_snapshot")
}

fn api_of(fixture: &str, root: &str) -> ir::Api {
    let corpus = Corpus::load(here().join("fixtures").join(fixture)).expect("fixture corpus loads");
    let mut api = ir::build(&corpus).expect("fixture generates");
    api.root = root.to_owned();
    api
}

#[test]
fn snapshots_match() {
    check_snapshot(&fixture_api(), "basic");
}

/// The adversarial fixture: self-containing models (directly, through others, through a list),
/// keyword and digit-first names, names with other characters, names the generated code uses.
/// Its snapshot is compiled in ari-sdk's test build (`adversarial_snapshot`), which is the real
/// check; here the snapshot is kept current and the IR's choices are asserted.
#[test]
fn adversarial_snapshot_matches() {
    let api = api_of("adversarial", "crate::adversarial_snapshot");
    check_snapshot(&api, "adversarial");
    let boxed = |m: &str| -> Vec<&str> {
        let model = api.models.get(m).or(api.events.get(m)).unwrap();
        model
            .fields
            .iter()
            .filter(|f| f.boxed)
            .map(|f| f.wire.as_str())
            .collect()
    };
    assert_eq!(boxed("Node"), ["next", "self"], "a list needs no box");
    assert_eq!(boxed("Ping"), ["pong"]);
    assert_eq!(boxed("Pong"), ["ping"]);
    assert_eq!(boxed("Tri1"), ["next"]);
    assert_eq!(boxed("Tri2"), ["next"]);
    assert_eq!(boxed("Tri3"), ["next"]);
    assert!(boxed("Tree").is_empty());
    assert!(boxed("Holder").is_empty(), "outside the cycle: no box");
    assert_eq!(boxed("Loop"), ["again"]);
    let names: Vec<&str> = api.models["Names"]
        .fields
        .iter()
        .map(|f| f.rust.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "type", "self_", "crate_", "super_", "r#match", "r#async", "dyn", "n9lives", "a_b",
            "x_y", "gr_e", "client", "mode", "r_ange"
        ]
        .map(|n| n.trim_start_matches("r#"))
    );
    let weird = &api.resources["weird"];
    let ops: Vec<(&str, &str)> = weird
        .operations
        .iter()
        .map(|o| (o.rust.as_str(), o.builder.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("type", "Type"),
            ("n9lives", "V9lives"),
            ("get_all", "GetAll"),
            ("move", "Move")
        ]
    );
    assert_eq!(api.resources["dash-name"].module, "dash_name");
    assert_eq!(
        ari_codegen::emit::accessor(&api.resources["connect"]),
        "connect_resource"
    );
}

fn check_snapshot(api: &ir::Api, name: &str) {
    let files = emit::emit(api).unwrap();
    let dir = here().join("snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (name, text) in &files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
    for (name, text) in &files {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            on_disk == *text,
            "snapshot {name} differs; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
        );
    }
}

#[test]
fn fixture_ir_follows_the_rules() {
    let api = fixture_api();
    let things = &api.resources["things"];
    let op = |n: &str| things.operations.iter().find(|o| o.nickname == n).unwrap();

    // A keyword nickname and a keyword parameter keep their names (raw identifiers).
    assert_eq!(op("move").rust, "move");
    let ty = op("move").params.iter().find(|p| p.wire == "type").unwrap();
    assert!(ty.required);
    // LIST: union over revisions, a literal "Unknown" value moved aside for the catch-all, symbols named.
    let mode = op("move").params.iter().find(|p| p.wire == "mode").unwrap();
    let Type::Enum(e) = &mode.ty else {
        panic!("mode is an enum")
    };
    let variants: Vec<&str> = e.values.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(
        variants,
        ["Fast", "Slow", "UnknownValue", "Hash", "Teleport"]
    );
    // The `defalutValue` typo was corrected by its fix-up.
    assert_eq!(mode.default.as_deref(), Some("fast"));
    // RANGE is kept for checking.
    let speed = op("move")
        .params
        .iter()
        .find(|p| p.wire == "speed")
        .unwrap();
    assert_eq!(speed.range, Some((Some(0.0), Some(100.0))));
    // Body parameters, binary responses, the WebSocket operation.
    let create = op("create");
    assert!(
        create
            .params
            .iter()
            .any(|p| p.wire == "variables" && p.location == ir::Location::Body)
    );
    assert_eq!(op("getFile").response, Some(Type::Binary));
    let ws = &api.resources["notifications"].operations[0];
    assert_eq!(ws.websocket.as_deref(), Some("ari"));
    // Availability per release.
    assert_eq!(
        ari_codegen::ranges_text(&op("rename").availability),
        "2.0.0+"
    );
    assert_eq!(
        ari_codegen::ranges_text(&op("list").availability),
        "1.0.0+, 2.0.0+"
    );
    assert_eq!(
        ari_codegen::ranges_text(&api.events["ThingRenamed"].availability),
        "2.0.0+"
    );
    // A type conflict between releases is reported and resolved to an untagged enum.
    assert_eq!(api.conflicts.len(), 1);
    assert_eq!(api.conflicts[0].place, "Thing.payload");
    assert_eq!(
        api.conflicts[0].types,
        [
            ("List[string]".to_owned(), "2.0.0+".to_owned()),
            ("object".to_owned(), "1.0.0+".to_owned())
        ]
    );
    // `MissingParams` travels with the events.
    assert!(api.events.contains_key("MissingParams"));
    // Inherited fields come first and the discriminator is not a field.
    let moved: Vec<&str> = api.events["ThingMoved"]
        .fields
        .iter()
        .map(|f| f.wire.as_str())
        .collect();
    assert_eq!(
        moved,
        [
            "asterisk_id",
            "application",
            "timestamp",
            "thing",
            "distance"
        ]
    );
}

fn corpus_with(things: impl Fn(&mut serde_json::Value)) -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    let src = here().join("fixtures/basic");
    std::fs::copy(src.join("releases.tsv"), dir.0.join("releases.tsv")).unwrap();
    for rev in ["1.0.0", "2.0.0"] {
        std::fs::create_dir_all(dir.0.join(rev).join("api-docs")).unwrap();
        for f in ["resources.json", "api-docs/notifications.json"] {
            std::fs::copy(src.join(rev).join(f), dir.0.join(rev).join(f)).unwrap();
        }
        let path = format!("{rev}/api-docs/things.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(src.join(&path)).unwrap()).unwrap();
        things(&mut v);
        std::fs::write(dir.0.join(&path), serde_json::to_vec(&v).unwrap()).unwrap();
    }
    dir
}

mod tempdir {
    /// A temporary folder removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "ari-codegen-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn a_name_collision_is_a_hard_error() {
    let dir = corpus_with(|v| {
        let params = v["apis"][1]["operations"][0]["parameters"]
            .as_array_mut()
            .unwrap();
        params.push(
            serde_json::json!({"name": "thing_id", "paramType": "query", "dataType": "string"}),
        );
    });
    let corpus = Corpus::load(&dir.0).unwrap();
    let err = ir::build(&corpus).unwrap_err();
    assert!(matches!(err, GenError::Collision { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "name collision in parameters of `things.get`: parameter `thing_id` (2.0.0/api-docs/things.json: apis[1].operations[0].parameters[1].name) and parameter `thingId` (2.0.0/api-docs/things.json: apis[1].operations[0].parameters[0].name) would both be `thing_id`"
    );
}

#[test]
fn an_operation_that_changes_its_path_is_an_error() {
    let dir = corpus_with(|v| {
        if v["apis"][1]["operations"].as_array().unwrap().len() == 3 {
            v["apis"][1]["path"] = serde_json::json!("/things/{thingId}/x");
        }
    });
    let corpus = Corpus::load(&dir.0).unwrap();
    let err = ir::build(&corpus).unwrap_err().to_string();
    assert!(
        err.contains("things.get is `GET /things/{thingId}` here but `GET /things/{thingId}/x`"),
        "{err}"
    );
}
