//! Scenario 8: applications.

use ari_sdk::ops::applications;
use ari_tests::{Harness, unique_id, wait_event};

/// List and get; subscribe and unsubscribe `channel:`, `bridge:`, `endpoint:` and
/// `deviceState:` sources; event filters where shipped; the documented errors.
pub async fn subscriptions(mut h: Harness) {
    let a = h.client.applications();
    let apps = a.list().send().await.expect("list");
    assert!(apps.iter().any(|x| x.name == h.app), "our app is listed");
    let me = a.get(&h.app).send().await.expect("get");
    assert_eq!(me.name, h.app);
    assert!(me.channel_ids.is_empty() && me.bridge_ids.is_empty());
    h.expect_http(
        a.get(unique_id("arit-nobody")).send().await,
        404,
        "get an app nobody runs",
    );

    // A channel outside the app (its far end in the dialplan), a bridge, an endpoint, a device.
    let (chan, _) = h.local_in_app("wait").await;
    let bridge = unique_id("arit-bridge");
    h.track_bridge(&bridge);
    h.client
        .bridges()
        .create_with_id(&bridge)
        .send()
        .await
        .expect("bridge");
    let device = format!("Stasis:{}", unique_id("arit-dev"));
    h.track_device_state(&device);
    h.client
        .device_states()
        .update(&device, "INUSE")
        .send()
        .await
        .expect("device state");
    let endpoints = h.client.endpoints().list().send().await.expect("endpoints");
    let sources = [
        format!("channel:{chan}"),
        format!("bridge:{bridge}"),
        format!("deviceState:{device}"),
    ];
    let mut all: Vec<String> = sources.to_vec();
    let endpoint = endpoints
        .first()
        .map(|e| format!("{}/{}", e.technology, e.resource));
    match &endpoint {
        Some(ep) => all.push(format!("endpoint:{ep}")),
        None => {
            // These servers load no channel driver with endpoints (no PJSIP): an `endpoint:`
            // source can only be the documented 422.
            let r = a
                .subscribe(
                    &h.app,
                    [format!("endpoint:PJSIP/{}", unique_id("arit-none"))],
                )
                .send()
                .await;
            h.expect_http(r, 422, "subscribe to a missing endpoint");
        }
    }
    let me = a
        .subscribe(&h.app, all.iter().map(String::as_str))
        .send()
        .await
        .expect("subscribe");
    assert!(me.bridge_ids.contains(&bridge), "{me:?}");
    assert!(me.device_names.contains(&device), "{me:?}");
    assert!(me.channel_ids.contains(&chan), "{me:?}");
    if let Some(ep) = &endpoint {
        assert!(me.endpoint_ids.contains(ep), "{me:?}");
    }
    // Subscribed to the device: its changes arrive.
    h.client
        .device_states()
        .update(&device, "BUSY")
        .send()
        .await
        .expect("device state");
    let changed = wait_event!(h, DeviceStateChanged(e) if e.device_state.name == device);
    assert_eq!(changed.device_state.state.as_str(), "BUSY");

    let me = a
        .unsubscribe(
            &h.app,
            [format!("bridge:{bridge}"), format!("deviceState:{device}")],
        )
        .send()
        .await
        .expect("unsubscribe");
    assert!(!me.bridge_ids.contains(&bridge), "{me:?}");
    assert!(!me.device_names.contains(&device), "{me:?}");
    // Not subscribed any more: 422 on a second unsubscribe; a bad source is 400; a source that
    // does not exist is 422.
    let r = a
        .unsubscribe(&h.app, [format!("bridge:{bridge}")])
        .send()
        .await;
    h.expect_http(r, 422, "unsubscribe from a source not subscribed");
    let r = a.subscribe(&h.app, ["nonsense:x"]).send().await;
    h.expect_http(r, 400, "subscribe to a malformed source");
    let r = a
        .subscribe(&h.app, [format!("bridge:{}", unique_id("arit-none"))])
        .send()
        .await;
    h.expect_http(r, 422, "subscribe to a missing bridge");
    let r = a
        .subscribe(unique_id("arit-nobody"), [format!("channel:{chan}")])
        .send()
        .await;
    h.expect_http(r, 404, "subscribe an app nobody runs");

    // A second connection for the same app replaces the first: ApplicationReplaced.
    let first = h.extra_stream(None).await;
    let shared_app = first.app.clone();
    let mut first = first;
    let second = h.extra_stream(Some(&shared_app)).await;
    first
        .wait_for(
            "ApplicationReplaced",
            ari_tests::EVENT_TIMEOUT,
            |e| match e {
                ari_sdk::Event::ApplicationReplaced(r) if r.application == shared_app => Some(()),
                _ => None,
            },
        )
        .await;
    first.close();
    second.close();

    // Event filters.
    if h.ships(applications::Filter::INFO) {
        // Asterisk reads the whole body as the filter; the builder must send it unwrapped.
        let me = a
            .filter(&h.app)
            .filter(serde_json::json!({"allowed": [{"type": "DeviceStateChanged"}]}))
            .send()
            .await
            .expect("filter");
        // Over the events WebSocket the SDK adds `RESTResponse`, or the socket's answers would
        // stop; the filter the app asked for is there either way.
        let allowed: Vec<String> = me
            .events_allowed
            .clone()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .filter(|t| t != "RESTResponse")
            .collect();
        assert_eq!(allowed, ["DeviceStateChanged"], "{me:?}");
        // Filtered: a user event is not delivered, a device state change is.
        let ue = unique_id("arit-ue");
        h.client
            .events()
            .user_event(&ue, &h.app)
            .send()
            .await
            .expect("user event");
        h.client
            .device_states()
            .update(&device, "ONHOLD")
            .send()
            .await
            .expect("device state");
        a.subscribe(&h.app, [format!("deviceState:{device}")])
            .send()
            .await
            .expect("subscribe again");
        h.client
            .device_states()
            .update(&device, "RINGING")
            .send()
            .await
            .expect("device state");
        wait_event!(h, DeviceStateChanged(e) if e.device_state.name == device
            && e.device_state.state.as_str() == "RINGING");
        let me = a.filter(&h.app).send().await.expect("reset filter");
        assert!(me.events_allowed.unwrap_or_default().is_empty(), "reset");
        let seen_ue = h.history().contains("ChannelUserevent");
        assert!(
            !seen_ue,
            "the filter let a user event through:\n{}",
            h.history()
        );
    } else {
        h.expect_unsupported(a.filter(&h.app).send().await, "applications.filter");
    }
}
