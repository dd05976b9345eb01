//! `ari codegen`: bindings for a user's own server, compiled here the way a user's crate would
//! (the checked-in snapshot `user_bindings/` is a module of this test crate that calls ari-sdk
//! from outside), kept fresh, and generated from the real servers' specs.

#[allow(dead_code, clippy::all)]
#[rustfmt::skip]
mod user_bindings;
mod support;

use user_bindings::ops::Resources as _;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ari-codegen/tests/fixtures/basic/2.0.0"
);

/// The snapshot is what `ari codegen` writes now for the generator's fixture spec.
#[test]
fn user_bindings_snapshot_is_fresh() {
    let out = std::env::temp_dir().join(format!("ari-cli-codegen-{}", std::process::id()));
    support::bare()
        .args([
            "codegen",
            "--from",
            FIXTURE,
            "--module",
            "crate::user_bindings",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/user_bindings");
    for entry in [
        "mod.rs",
        "events.rs",
        "handles.rs",
        "models.rs",
        "releases.rs",
        "ops/mod.rs",
    ] {
        let new = std::fs::read_to_string(out.join(entry)).unwrap();
        let old = std::fs::read_to_string(here.join(entry)).unwrap();
        // The header names the folder it was made from, which differs by path only.
        let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(
            body(&new),
            body(&old),
            "tests/user_bindings/{entry} is stale: run `ari codegen --from ari-codegen/tests/fixtures/basic/2.0.0 --module crate::user_bindings --out ari-cli/tests/user_bindings`"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// The generated module works against the ari-sdk runtime from outside it: the accessor trait
/// builds requests, and a call to a server that is not there fails as a transport error naming
/// the operation (nothing listens on port 9).
#[test]
fn user_bindings_call_the_sdk_runtime() {
    let client = ari_sdk::Client::builder()
        .base_url("http://127.0.0.1:9/ari")
        .release_gating(false)
        .build()
        .unwrap();
    assert_eq!(user_bindings::ops::OPERATIONS.len(), 8);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(client.things().list().send()).unwrap_err();
    assert_eq!(
        e.kind(),
        ari_sdk::ErrorKind::Transport(ari_sdk::TransportKind::ConnectionRefused)
    );
    assert_eq!(e.operation().map(|o| o.nickname), Some("list"));
}

/// Bindings for what the real servers serve: as many operations as the corpus's revision of
/// that release, and the release asked from the server.
#[test]
fn codegen_from_the_real_servers() {
    for (major, release, revision) in [(22, "22.10.1", "22.10.0"), (16, "16.28.0", "16.27.0")] {
        let Some(s) = support::server(major, "codegen_from_the_real_servers") else {
            continue;
        };
        let out =
            std::env::temp_dir().join(format!("ari-cli-codegen-{major}-{}", std::process::id()));
        let run = s
            .ari()
            .args(["codegen", "--from", &s.url, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        let rev =
            ari_spec::Revision::load_dir(ari_spec::Corpus::vendored_dir().join(revision)).unwrap();
        let ops: usize = rev
            .resources
            .iter()
            .map(|(_, d)| d.apis.iter().map(|a| a.operations.len()).sum::<usize>())
            .sum();
        assert!(
            stderr.contains(&format!("for release {release}: {ops} operations")),
            "{stderr}"
        );
        let mod_rs = std::fs::read_to_string(out.join("ops/mod.rs")).unwrap();
        // The entries of `OPERATIONS`: `&channels::LIST,` lines.
        let listed = mod_rs
            .lines()
            .filter(|l| l.trim_start().starts_with('&') && l.trim_end().ends_with(','))
            .count();
        assert_eq!(listed, ops, "{major}: OPERATIONS entries");
        std::fs::remove_dir_all(&out).unwrap();
    }
}
