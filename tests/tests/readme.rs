//! The README's user path, followed as a new user would follow it: a new crate outside the
//! workspace (`cargo new`), the README's `cargo add` lines (ari-sdk by path), the README's quick
//! start pasted as `src/main.rs`, built and run against the real Asterisk 22.10.1. A call placed
//! into its application must be answered, hear `sound:hello-world` to the end, and be hung up by
//! the app.
//!
//! Two substitutions only, both printed: the server's URL when `ARI_URL_22` is not the default,
//! and a unique application name instead of `hello`, so that parallel runs do not share one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ari_sdk::events::StreamItem;
use ari_sdk::{Client, Event};
use futures::StreamExt;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The fenced block of `lang` that follows `heading` in the README.
fn readme_block(readme: &str, heading: &str, lang: &str) -> String {
    let after = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"))
        .1;
    let fence = format!("```{lang}");
    let start = after
        .find(&fence)
        .unwrap_or_else(|| panic!("no {fence} block after {heading:?}"));
    let body = &after[start..];
    let body = &body[body.find('\n').expect("fence line ends") + 1..];
    body[..body.find("\n```").expect("block is closed")].to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn check(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills the app when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_quick_start_runs_the_hello_world_flow() {
    let Some(server) = ari_test_env::server_or_skip(22, "readme_quick_start") else {
        return;
    };
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let adds = readme_block(&readme, "## Use it in your app", "sh");
    let app = ari_tests::unique_id("readme");
    let mut main_rs = readme_block(&readme, "## Use it in your app", "rust,no_run");
    let registers = "StasisApp::new(&client, \"hello\")";
    assert!(
        main_rs.contains(registers),
        "the quick start registers `hello`"
    );
    main_rs = main_rs.replace(registers, &format!("StasisApp::new(&client, \"{app}\")"));
    if server.url != "http://127.0.0.1:8088/ari" {
        eprintln!("quick start pointed at {}", server.url);
        main_rs = main_rs.replace("http://127.0.0.1:8088/ari", &server.url);
    }

    // A new crate, as `cargo new` makes it, outside the workspace.
    let dir = std::env::temp_dir().join(format!("ari-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    check(
        cargo()
            .args(["new", "--bin", "--vcs", "none", "hello-ari"])
            .current_dir(&dir),
        "cargo new",
    );
    let krate = dir.join("hello-ari");
    // The README's own `cargo add` lines, with the path to this checkout.
    for line in adds.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let line = line.replace("path/to/ari-rs", &root.display().to_string());
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&words[..2], ["cargo", "add"], "README line {line:?}");
        check(
            cargo().args(&words[1..]).current_dir(&krate),
            &format!("`{line}`"),
        );
    }
    std::fs::write(krate.join("src/main.rs"), &main_rs).expect("main.rs");
    // Its own target folder: the outer `cargo test` may hold the workspace's.
    let target = root.join("target/readme-app");
    check(
        cargo()
            .args(["build", "--quiet"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&krate),
        "cargo build of the quick start",
    );

    let client = Client::builder()
        .base_url(&server.url)
        .credentials(&server.user, &server.password)
        .build()
        .expect("client");
    // An observer that sees every channel's events, not only its own application's.
    let observer = ari_tests::unique_id("readme-observer");
    let mut events = client
        .event_stream()
        .app(&observer)
        .subscribe_all(true)
        .connect()
        .await
        .expect("observer events");

    let _app = Running(
        Command::new(target.join("debug/hello-ari"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the quick start"),
    );
    // The app has registered once its application exists on the server.
    let registered = async {
        loop {
            if client.applications().get(&app).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), registered)
        .await
        .expect("the quick start registered its application within 60 s");

    let channel_id = ari_tests::unique_id("readme-call");
    client
        .channels()
        .originate("Local/wait@default")
        .app(&app)
        .channel_id(&channel_id)
        .send()
        .await
        .expect("originate into the quick start's application");

    let target_uri = format!("channel:{channel_id}");
    let (mut answered, mut finished, mut destroyed) = (false, None, false);
    let flow = async {
        while let Some(item) = events.next().await {
            let StreamItem::Event(event) = item else {
                continue;
            };
            match event {
                Event::ChannelStateChange(c) if c.channel.id == channel_id => {
                    answered |= c.channel.state.to_string() == "Up";
                }
                Event::PlaybackFinished(p) if p.playback.target_uri == target_uri => {
                    finished = Some(p.playback.state.to_string());
                }
                Event::ChannelDestroyed(c) if c.channel.id == channel_id => {
                    destroyed = true;
                    return;
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), flow)
        .await
        .expect("the call ended within 60 s");
    assert!(answered, "the quick start answered the call");
    assert_eq!(
        finished.as_deref(),
        Some("done"),
        "sound:hello-world played to its end"
    );
    assert!(destroyed, "the quick start hung up");
    let _ = std::fs::remove_dir_all(&dir);
}
