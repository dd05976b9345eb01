//! Scenario 9: the `asterisk` resource.

use ari_tests::{Harness, unique_id};

/// Info with each `only` value, ping, global variables.
pub async fn info_ping_globals(h: Harness) {
    let a = h.client.asterisk();
    let all = a.get_info().send().await.expect("info");
    assert!(
        all.build.is_some() && all.system.is_some() && all.config.is_some() && all.status.is_some()
    );
    let version = all.system.as_ref().unwrap().version.clone();
    assert!(
        version.starts_with(&format!("{}.", h.release.major)),
        "{version}"
    );
    for only in ["build", "system", "config", "status"] {
        let info = a.get_info().only([only]).send().await.expect("info only");
        let present = [
            ("build", info.build.is_some()),
            ("system", info.system.is_some()),
            ("config", info.config.is_some()),
            ("status", info.status.is_some()),
        ];
        for (what, there) in present {
            assert_eq!(there, what == only, "only={only}: {what} present={there}");
        }
    }
    let both = a
        .get_info()
        .only(["build", "status"])
        .send()
        .await
        .expect("info");
    assert!(both.build.is_some() && both.status.is_some() && both.system.is_none());

    let pong = a.ping().send().await.expect("ping");
    assert_eq!(pong.ping, "pong");
    assert!(!pong.asterisk_id.is_empty());

    let var = unique_id("ARIT_G").replace('-', "_");
    h.track_global_var(&var);
    a.set_global_var(&var)
        .value("global value")
        .send()
        .await
        .expect("set global");
    assert_eq!(
        a.get_global_var(&var)
            .send()
            .await
            .expect("get global")
            .value,
        "global value"
    );
    // A global that was never set reads as empty.
    let unset = a
        .get_global_var(unique_id("ARIT_UNSET").replace('-', "_"))
        .send()
        .await;
    assert_eq!(unset.expect("get an unset global").value, "");
    // Without a variable name: 400.
    let r = a.set_global_var("").send().await;
    assert!(r.is_err(), "an empty variable name is refused");
}

/// Modules list, get, unload, load and reload; the documented 404 and 409.
pub async fn modules(h: Harness) {
    let a = h.client.asterisk();
    let list = a.list_modules().send().await.expect("modules");
    assert!(
        list.iter().any(|m| m.name == "res_ari.so"),
        "res_ari.so is loaded"
    );
    let m = a.get_module("res_ari.so").send().await.expect("get module");
    assert_eq!(m.name, "res_ari.so");
    assert_eq!(m.status, "Running");
    h.expect_http(
        a.get_module("arit_nonexistent.so").send().await,
        404,
        "get a missing module",
    );
    // A module nothing else uses: unload, load, reload.
    let name = "func_sha1.so";
    // A run that failed halfway may have left it unloaded.
    if a.get_module(name).send().await.is_err() {
        a.load_module(name)
            .send()
            .await
            .expect("load before the test");
    }
    a.unload_module(name).send().await.expect("unload");
    h.expect_http(
        a.get_module(name).send().await,
        404,
        "get an unloaded module",
    );
    h.expect_http(a.unload_module(name).send().await, 404, "unload twice");
    a.load_module(name).send().await.expect("load");
    h.expect_http(a.load_module(name).send().await, 409, "load twice");
    a.reload_module("res_musiconhold.so")
        .send()
        .await
        .expect("reload");
    h.expect_http(
        a.reload_module("arit_nonexistent.so").send().await,
        404,
        "reload a missing module",
    );
}

/// Log channels add, list, rotate, delete; the documented 400, 404 and 409.
pub async fn log_channels(h: Harness) {
    let a = h.client.asterisk();
    let name = unique_id("arit-log");
    h.track_log_channel(&name);
    a.add_log(&name, "notice,warning")
        .send()
        .await
        .expect("add log channel");
    let list = a.list_log_channels().send().await.expect("list logs");
    let mine = list
        .iter()
        .find(|l| l.channel.ends_with(&name))
        .unwrap_or_else(|| panic!("{name} not listed: {list:?}"));
    assert!(
        mine.configuration.contains("NOTICE") || mine.configuration.contains("notice"),
        "{mine:?}"
    );
    h.expect_http(a.add_log(&name, "notice").send().await, 409, "add twice");
    a.delete_log(&name).send().await.expect("delete");
    h.expect_http(a.delete_log(&name).send().await, 404, "delete twice");
    h.expect_http(
        a.rotate_log(&name).send().await,
        404,
        "rotate a deleted log channel",
    );
    // Rotating reloads the logger from logger.conf, which drops channels added over ARI: the
    // rotated channel is gone afterwards.
    let rotated = unique_id("arit-log");
    h.track_log_channel(&rotated);
    a.add_log(&rotated, "notice").send().await.expect("add");
    a.rotate_log(&rotated).send().await.expect("rotate");
    let list = a.list_log_channels().send().await.expect("list logs");
    assert!(
        !list.iter().any(|l| l.channel.ends_with(&rotated)),
        "{list:?}"
    );
}

/// Dynamic configuration: no sorcery backend serves `res_pjsip` here (PJSIP is not loaded), so
/// each call gets the documented error.
pub async fn dynamic_config(h: Harness) {
    let a = h.client.asterisk();
    let id = unique_id("arit-cfg");
    let r = a.get_object("res_pjsip", "endpoint", &id).send().await;
    h.expect_http(r, 404, "get a config object without a backend");
    let r = a
        .update_object("res_pjsip", "endpoint", &id)
        .fields([("allow", "ulaw")])
        .send()
        .await;
    h.expect_http(r, 404, "update a config object without a backend");
    let r = a.delete_object("res_pjsip", "endpoint", &id).send().await;
    h.expect_http(r, 404, "delete a config object without a backend");
}

/// A client limited to two HTTP connections carries a burst of forty calls, each answered:
/// the calls past the limit wait their turn instead of opening connections of their own.
pub async fn connection_limit(h: Harness) {
    let client = ari_sdk::Client::builder()
        .base_url(&h.server.url)
        .credentials(&h.server.user, &h.server.password)
        .server_release(h.release)
        .max_connections(Some(2))
        .build()
        .expect("client");
    let pings = (0..40).map(|_| client.asterisk().ping().send());
    let answers = futures::future::join_all(pings).await;
    for answer in answers {
        assert_eq!(answer.expect("ping through two connections").ping, "pong");
    }
    let info = client.asterisk().get_info().send().await.expect("info");
    assert!(info.system.is_some());
}
