//! Scenario 10: endpoints, device states, mailboxes, sounds, user events, the events resource.

use ari_sdk::ops::{endpoints, events};
use ari_tests::{Harness, unique_id, wait_event};

/// Endpoints list, by technology, get; sending a message (and a REFER, where shipped) to an
/// endpoint that cannot take it.
pub async fn endpoints(h: Harness) {
    let e = h.client.endpoints();
    let all = e.list().send().await.expect("list");
    let by_tech = e.list_by_tech("Local").send().await;
    match all.iter().find(|x| x.technology == "Local") {
        Some(_) => assert!(
            by_tech
                .expect("list Local")
                .iter()
                .all(|x| x.technology == "Local")
        ),
        None => {
            h.expect_http(by_tech, 404, "list a technology without endpoints");
        }
    }
    if let Some(first) = all.first() {
        let got = e
            .get(&first.technology, &first.resource)
            .send()
            .await
            .expect("get endpoint");
        assert_eq!(got.resource, first.resource);
    }
    let r = e.get("PJSIP", unique_id("arit-nobody")).send().await;
    h.expect_http(r, 404, "get a missing endpoint");

    // Messages: no message technology is loaded, so the endpoint is not found.
    let r = e
        .send_message(
            format!("pjsip:{}", unique_id("arit-nobody")),
            "arit@example.invalid",
        )
        .body("hello")
        .variables([("X-Arit", "1")])
        .send()
        .await;
    h.expect_http(r, 404, "send a message to an unknown endpoint");
    let r = e
        .send_message_to_endpoint("PJSIP", unique_id("arit-nobody"), "arit")
        .body("hello")
        .send()
        .await;
    h.expect_http(r, 404, "send a message to a missing endpoint");
    if h.ships(endpoints::Refer::INFO) {
        let r = e
            .refer(
                format!("pjsip:{}", unique_id("arit-nobody")),
                "arit",
                "sip:x@example.invalid",
            )
            .send()
            .await;
        h.expect_http(r, 404, "refer an unknown endpoint");
        let r = e
            .refer_to_endpoint(
                "PJSIP",
                unique_id("arit-nobody"),
                "arit",
                "sip:x@example.invalid",
            )
            .send()
            .await;
        h.expect_http(r, 404, "refer a missing endpoint");
    } else {
        let r = e
            .refer("pjsip:x", "arit", "sip:y@example.invalid")
            .send()
            .await;
        h.expect_unsupported(r, "endpoints.refer");
        let r = e
            .refer_to_endpoint("PJSIP", "x", "arit", "sip:y@example.invalid")
            .send()
            .await;
        h.expect_unsupported(r, "endpoints.referToEndpoint");
    }
}

/// Device states: put, get, list, DeviceStateChanged, delete; the documented 404 and 409.
pub async fn device_states(mut h: Harness) {
    let d = h.client.device_states();
    let name = format!("Stasis:{}", unique_id("arit-dev"));
    h.track_device_state(&name);
    d.update(&name, "NOT_INUSE").send().await.expect("put");
    h.client
        .applications()
        .subscribe(&h.app, [format!("deviceState:{name}")])
        .send()
        .await
        .expect("subscribe");
    d.update(&name, "RINGING").send().await.expect("put");
    let changed = wait_event!(h, DeviceStateChanged(e) if e.device_state.name == name);
    assert_eq!(changed.device_state.state.as_str(), "RINGING");
    assert_eq!(
        d.get(&name).send().await.expect("get").state.as_str(),
        "RINGING"
    );
    let list = d.list().send().await.expect("list");
    assert!(list.iter().any(|x| x.name == name));
    // Only Stasis: devices can be set: 409.
    let r = d.update("PJSIP/arit", "INUSE").send().await;
    h.expect_http(r, 409, "set a device state Stasis does not control");
    let r = d.delete("PJSIP/arit").send().await;
    h.expect_http(r, 409, "delete a device state Stasis does not control");
    d.delete(&name).send().await.expect("delete");
    assert!(
        !d.list()
            .send()
            .await
            .expect("list")
            .iter()
            .any(|x| x.name == name)
    );
}

/// Mailboxes: put, get, list, delete; 404 afterwards. The servers' Debian builds ship no
/// external MWI backend (`res_mwi_external`), where every call is the documented 404.
pub async fn mailboxes(h: Harness) {
    let m = h.client.mailboxes();
    let name = format!("{}@arit", unique_id("mbox"));
    h.track_mailbox(&name);
    let put = m.update(&name, 2, 5).send().await;
    let backend = h
        .client
        .asterisk()
        .get_module("res_mwi_external.so")
        .send()
        .await
        .is_ok();
    if !backend {
        h.expect_http(put, 404, "put a mailbox without an MWI backend");
        h.expect_http(
            m.get(&name).send().await,
            404,
            "get a mailbox without a backend",
        );
        h.expect_http(
            m.delete(&name).send().await,
            404,
            "delete a mailbox without a backend",
        );
        h.expect_http(
            m.list().send().await,
            404,
            "list mailboxes without a backend",
        );
        return;
    }
    put.expect("put");
    let got = m.get(&name).send().await.expect("get");
    assert_eq!((got.old_messages, got.new_messages), (2, 5));
    assert!(
        m.list()
            .send()
            .await
            .expect("list")
            .iter()
            .any(|x| x.name == name)
    );
    m.delete(&name).send().await.expect("delete");
    h.expect_http(m.get(&name).send().await, 404, "get a deleted mailbox");
    h.expect_http(m.delete(&name).send().await, 404, "delete twice");
}

/// Sounds: list with the `lang` and `format` filters, get; 404 for a missing sound.
pub async fn sounds(h: Harness) {
    let s = h.client.sounds();
    let all = s.list().send().await.expect("list");
    assert!(
        all.iter().any(|x| x.id == "hello-world"),
        "hello-world is installed"
    );
    let en_gsm = s
        .list()
        .lang("en")
        .format("gsm")
        .send()
        .await
        .expect("list filtered");
    assert!(!en_gsm.is_empty());
    assert!(en_gsm.iter().all(|x| {
        x.formats
            .iter()
            .any(|f| f.language == "en" && f.format == "gsm")
    }));
    let none = s.list().lang("xx").send().await;
    h.expect_http(none, 404, "list sounds in a language that has none");
    let hello = s.get("hello-world").send().await.expect("get");
    assert!(
        hello
            .formats
            .iter()
            .any(|f| f.format == "gsm" && f.language == "en"),
        "{hello:?}"
    );
    h.expect_http(
        s.get("arit-no-such-sound").send().await,
        404,
        "get a missing sound",
    );
}

/// User events to the app, with sources and variables: ChannelUserevent. Claiming a channel
/// (where shipped) that nobody broadcast is refused.
pub async fn user_events(mut h: Harness) {
    let ev = h.client.events();
    let (chan, _) = h.local_in_app("wait").await;
    let name = unique_id("arit-ue");
    ev.user_event(&name, &h.app)
        .source([format!("channel:{chan}")])
        .variables([("color", "blue"), ("count", "3")])
        .send()
        .await
        .expect("user event");
    let got = wait_event!(h, ChannelUserevent(e) if e.eventname == name);
    assert_eq!(
        got.channel.as_ref().map(|c| c.id.as_str()),
        Some(chan.as_str())
    );
    assert_eq!(got.userevent["color"], "blue");
    assert_eq!(got.userevent["count"], "3");
    // Without a source.
    let bare = unique_id("arit-ue");
    ev.user_event(&bare, &h.app)
        .send()
        .await
        .expect("user event without source");
    let got = wait_event!(h, ChannelUserevent(e) if e.eventname == bare);
    assert!(got.channel.is_none());
    // To an app nobody runs: 404; with a source that does not exist: 422.
    let r = ev.user_event(&bare, unique_id("arit-nobody")).send().await;
    h.expect_http(r, 404, "user event to an app nobody runs");
    let r = ev
        .user_event(&bare, &h.app)
        .source([format!("channel:{}", unique_id("arit-none"))])
        .send()
        .await;
    h.expect_http(r, 422, "user event from a missing channel");

    if h.ships(events::ClaimChannel::INFO) {
        let r = ev
            .claim_channel(unique_id("arit-none"), &h.app)
            .send()
            .await;
        h.expect_http(r, 404, "claim a channel nobody broadcast");
    } else {
        let r = ev
            .claim_channel(unique_id("arit-none"), &h.app)
            .send()
            .await;
        h.expect_unsupported(r, "events.claimChannel");
    }
}
