//! Scenario 3: create an outgoing channel, bridge it early, then dial it.

use ari_sdk::ops::channels;
use ari_tests::{Harness, unique_id, wait_event};

/// `channels.create` with variables, a bridge with both channels in it before the dial, then
/// `dial`: Dial events up to ANSWER, ChannelEnteredBridge for both, the callee Up.
pub async fn create_and_dial(mut h: Harness) {
    let c = h.client.channels();
    let (caller, _) = h.local_in_app("wait").await;

    let callee = h.channel_id();
    let callee2 = h.channel_id();
    let mut create = c
        .create("Local/answer-later@default", &h.app)
        .app_args("dialed")
        .channel_id(&callee)
        .other_channel_id(&callee2);
    if h.ships_param(channels::Create::INFO, "variables") {
        create = create.variables([("ARIT_CREATED", "yes")]);
    }
    let created = create.send().await.expect("create");
    assert_eq!(created.id, callee);
    assert_eq!(created.state.as_str(), "Down", "created, not dialed yet");
    // Asterisk 16 puts a created channel into Stasis from a thread of its own, after the HTTP
    // answer; Stasis clears STASISSTATUS on entry, which tells when it is in.
    wait_event!(h, ChannelVarset(v) if v.variable == "STASISSTATUS"
        && v.channel.as_ref().is_some_and(|c| c.id == callee));
    // Asterisk 16 applies a variable set on a channel in Stasis from the channel's own thread,
    // after the HTTP answer (for a created channel: once it is dialed); ChannelVarset tells
    // when it is done. Checked after the dial below.
    // STASISSTATUS is set a moment before the app's control of the channel is registered, so
    // the first call may still get 409 "not in Stasis": retried, bounded.
    let mut tries = 0;
    loop {
        match c
            .set_channel_var(&callee, "ARIT_BEFORE_DIAL")
            .value("set")
            .send()
            .await
        {
            Err(e) if e.status() == Some(409) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => break other.expect("set variable before dial"),
        }
    }

    let bridge_id = unique_id("arit-bridge");
    h.track_bridge(&bridge_id);
    let bridge = h
        .client
        .bridges()
        .create_with_id(&bridge_id)
        .r#type("mixing")
        .name("early")
        .send()
        .await
        .expect("create bridge");
    assert_eq!(bridge.id, bridge_id);
    h.client
        .bridges()
        .add_channel(&bridge_id, [caller.as_str(), callee.as_str()])
        .send()
        .await
        .expect("add both channels before the dial");
    wait_event!(h, ChannelEnteredBridge(e) if e.bridge.id == bridge_id
        && e.channel.as_ref().is_some_and(|c| c.id == caller));
    wait_event!(h, ChannelEnteredBridge(e) if e.bridge.id == bridge_id
        && e.channel.as_ref().is_some_and(|c| c.id == callee));

    c.dial(&callee)
        .caller(&caller)
        .timeout(10)
        .send()
        .await
        .expect("dial");
    let ringing = wait_event!(h, Dial(d) if d.peer.id == callee && d.dialstatus == "RINGING");
    assert_eq!(ringing.peer.id, callee);
    wait_event!(h, Dial(d) if d.peer.id == callee && d.dialstatus == "ANSWER"; std::time::Duration::from_secs(8));
    wait_event!(h, ChannelStateChange(s) if s.channel.id == callee && s.channel.state.as_str() == "Up");
    wait_event!(h, ChannelVarset(v) if v.variable == "ARIT_BEFORE_DIAL"
        && v.channel.as_ref().is_some_and(|c| c.id == callee));
    let v = c.get_channel_var(&callee, "ARIT_BEFORE_DIAL").send().await;
    assert_eq!(v.expect("variable set before the dial").value, "set");
    if h.ships_param(channels::Create::INFO, "variables") {
        let v = c.get_channel_var(&callee, "ARIT_CREATED").send().await;
        assert_eq!(v.expect("variable from create").value, "yes");
    }
    let b = h
        .client
        .bridges()
        .get(&bridge_id)
        .send()
        .await
        .expect("get bridge");
    let mut members = b.channels.clone();
    members.sort();
    let mut expected = vec![caller.clone(), callee.clone()];
    expected.sort();
    assert_eq!(members, expected);

    // Dialing a channel that does not exist: 404.
    let r = c.dial(unique_id("arit-none")).send().await;
    h.expect_http(r, 404, "dial a missing channel");
}
