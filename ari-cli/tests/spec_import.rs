//! `ari spec import`: a server's spec checked, counted and compared with the release ari knows;
//! saved with `--out` and turned into bindings with `ari codegen --from DIR`.

mod support;

use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A spec that differs from the known one is shown with the differences (one summary edited).
#[test]
fn import_shows_differences_from_the_known_release() {
    let dir = std::env::temp_dir().join(format!("ari-cli-import-{}", std::process::id()));
    copy_dir(&ari_spec::Corpus::vendored_dir().join("22.10.0"), &dir);
    let channels = dir.join("api-docs/channels.json");
    let text = std::fs::read_to_string(&channels).unwrap();
    assert!(text.contains("Indicate progress on a channel."));
    std::fs::write(
        &channels,
        text.replace(
            "Indicate progress on a channel.",
            "Progress, locally patched.",
        ),
    )
    .unwrap();
    let out = support::bare()
        .args([
            "spec",
            "import",
            "--from",
            dir.to_str().unwrap(),
            "--release",
            "22.10.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("release 22.10.1, ARI 10.0.0: 11 resources, 109 operations"),
        "{text}"
    );
    assert!(
        text.contains("1 changes from the spec ari knows for this release"),
        "{text}"
    );
    assert!(text.contains("~ operation channels.progress"), "{text}");
    // A release ari does not know: no comparison, and the way to bindings.
    let out = support::bare()
        .args([
            "spec",
            "import",
            "--from",
            dir.to_str().unwrap(),
            "--release",
            "22.99.0",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ari does not know this release"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// From the real 16.28.0: import saves the files, and codegen makes bindings from the folder.
#[test]
fn import_then_codegen_from_the_saved_folder() {
    let Some(s) = support::server(16, "import_then_codegen_from_the_saved_folder") else {
        return;
    };
    let base = std::env::temp_dir().join(format!("ari-cli-import16-{}", std::process::id()));
    let spec = base.join("spec");
    let out = s
        .ari()
        .args([
            "spec",
            "import",
            "--from",
            &s.url,
            "--out",
            spec.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("release 16.28.0"), "{text}");
    assert!(
        text.contains("identical to the spec ari knows for this release"),
        "{text}"
    );
    assert!(spec.join("resources.json").is_file());
    let bindings = base.join("ari");
    let out = support::bare()
        .args([
            "codegen",
            "--from",
            spec.to_str().unwrap(),
            "--release",
            "16.28.0",
            "--out",
        ])
        .arg(&bindings)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("for release 16.28.0: 98 operations"),
        "{stderr}"
    );
    // --check: fresh now, stale once a file changes.
    let check = |code: i32| {
        let out = support::bare()
            .args([
                "codegen",
                "--check",
                "--from",
                spec.to_str().unwrap(),
                "--release",
                "16.28.0",
                "--out",
            ])
            .arg(&bindings)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(0);
    std::fs::write(bindings.join("models.rs"), "// edited").unwrap();
    check(1);
    // Without --release, a folder not named after a release is refused.
    let out = support::bare()
        .args(["codegen", "--from", spec.to_str().unwrap(), "--out"])
        .arg(&bindings)
        .output()
        .unwrap();
    let msg = support::failure(&out, &["codegen without --release"], 2);
    assert!(msg.contains("--release"), "{msg}");
    std::fs::remove_dir_all(&base).unwrap();
}
