//! Scenario 5: operations on channels.

use ari_sdk::ErrorKind;
use ari_sdk::ops::channels;
use ari_tests::{Harness, unique_id, wait_event};

/// Ring and ring stop, progress (where shipped), answer, music on hold, silence, mute and
/// unmute (with the client's check of `direction`), hold and unhold, RTP statistics on a channel
/// without RTP.
pub async fn ring_hold_mute(mut h: Harness) {
    let c = h.client.channels();
    let (id, outer) = h.inbound("wait").await;
    // Ringing is indicated to the caller: the `;1` half (not in the app; subscribed to here)
    // goes to Ringing.
    h.client
        .applications()
        .subscribe(&h.app, [format!("channel:{outer}")])
        .send()
        .await
        .expect("subscribe to the caller");
    c.ring(&id).send().await.expect("ring");
    wait_event!(h, ChannelStateChange(s) if s.channel.id == outer && s.channel.state.as_str() == "Ringing");
    c.ring_stop(&id).send().await.expect("ring stop");
    if h.ships(channels::Progress::INFO) {
        c.progress(&id).send().await.expect("progress");
    } else {
        h.expect_unsupported(c.progress(&id).send().await, "channels.progress");
    }
    c.answer(&id).send().await.expect("answer");
    wait_event!(h, ChannelStateChange(s) if s.channel.id == id && s.channel.state.as_str() == "Up");

    c.start_moh(&id)
        .moh_class("default")
        .send()
        .await
        .expect("start moh");
    c.stop_moh(&id).send().await.expect("stop moh");
    c.start_silence(&id).send().await.expect("start silence");
    c.stop_silence(&id).send().await.expect("stop silence");

    c.mute(&id).direction("both").send().await.expect("mute");
    c.unmute(&id)
        .direction("in")
        .send()
        .await
        .expect("unmute in");
    // The spec gives `direction` a default ("both"), but Asterisk requires it: 400.
    let r = c.unmute(&id).send().await;
    let e = h.expect_http(r, 400, "unmute without direction");
    assert_eq!(e.asterisk_message(), Some("Direction is required"));
    c.unmute(&id)
        .direction("out")
        .send()
        .await
        .expect("unmute out");
    let r = c.mute(&id).direction("sideways").send().await;
    let e = r.expect_err("a direction outside the documented list");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(e.invalid_param(), Some("direction"), "{e}");

    // Hold is indicated to the far end (a Local channel does not raise ChannelHold for it: that
    // event is for holds a channel receives from its own technology, e.g. a SIP re-INVITE).
    c.hold(&id).send().await.expect("hold");
    c.unhold(&id).send().await.expect("unhold");

    // A Local channel has no RTP instance. Asterisk answers 403 "Unsupported channel type", a
    // status the spec does not document (it lists only 404); a missing channel is the 404.
    let r = c.rtpstatistics(&id).send().await;
    let e = h.expect_http(r, 403, "RTP statistics of a Local channel");
    assert_eq!(e.asterisk_message(), Some("Unsupported channel type"));
    assert_eq!(e.documented_reason(), None);
    let r = c.rtpstatistics(unique_id("arit-none")).send().await;
    h.expect_http(r, 404, "RTP statistics of a missing channel");

    // Operations on a channel that does not exist: 404.
    let none = unique_id("arit-none");
    h.expect_http(c.ring(&none).send().await, 404, "ring a missing channel");
    h.expect_http(c.hold(&none).send().await, 404, "hold a missing channel");
    h.expect_http(
        c.answer(&none).send().await,
        404,
        "answer a missing channel",
    );
}

/// DTMF sent on one half of a Local pair is received on the other.
pub async fn dtmf(mut h: Harness) {
    let c = h.client.channels();
    let (one, two) = h.pair_in_app().await;
    c.send_dtmf(&one)
        .dtmf("4#")
        .before(0)
        .between(100)
        .duration(120)
        .after(0)
        .send()
        .await
        .expect("send DTMF");
    let first = wait_event!(h, ChannelDtmfReceived(d) if d.channel.id == two);
    assert_eq!(first.digit, "4");
    assert!(first.duration_ms > 0, "{first:?}");
    let second = wait_event!(h, ChannelDtmfReceived(d) if d.channel.id == two);
    assert_eq!(second.digit, "#");
    // And the far end of the dialplan sends DTMF that arrives in the app.
    let (id, _) = h.local_in_app("dtmf-7").await;
    let digit = wait_event!(h, ChannelDtmfReceived(d) if d.channel.id == id);
    assert_eq!(digit.digit, "7");
}

/// Channel variables one by one (also a dialplan function) and several at once (where
/// shipped), snoop with and without id.
pub async fn variables_and_snoop(mut h: Harness) {
    let c = h.client.channels();
    let (id, _) = h.local_in_app("wait").await;
    let chan = c.get(&id).send().await.expect("get");
    c.set_channel_var(&id, "ARIT_V")
        .value("hello world")
        .send()
        .await
        .expect("set variable");
    // Asterisk 16 sets it from the channel's thread after answering: wait for ChannelVarset.
    wait_event!(h, ChannelVarset(v) if v.variable == "ARIT_V" && v.value == "hello world");
    assert_eq!(
        c.get_channel_var(&id, "ARIT_V")
            .send()
            .await
            .expect("get")
            .value,
        "hello world"
    );
    let name = c.get_channel_var(&id, "CHANNEL(name)").send().await;
    assert_eq!(name.expect("CHANNEL(name)").value, chan.name);
    // A function that fails to evaluate is 400; an unknown variable reads as 404 or empty.
    if h.ships(channels::SetChannelVars::INFO) {
        c.set_channel_vars(&id, [("ARIT_A", "1"), ("ARIT_B", "2")])
            .send()
            .await
            .expect("set variables");
        wait_event!(h, ChannelVarset(v) if v.variable == "ARIT_B");
        let vars = c
            .get_channel_vars(&id, ["ARIT_A", "ARIT_B"])
            .send()
            .await
            .expect("get variables");
        let text = format!("{vars:?}");
        assert!(text.contains("ARIT_A") && text.contains("ARIT_B"), "{text}");
    } else {
        let r = c.set_channel_vars(&id, [("ARIT_A", "1")]).send().await;
        h.expect_unsupported(r, "channels.setChannelVars");
        let r = c.get_channel_vars(&id, ["ARIT_A"]).send().await;
        h.expect_unsupported(r, "channels.getChannelVars");
    }
    let r = c
        .get_channel_var(unique_id("arit-none"), "ARIT_V")
        .send()
        .await;
    h.expect_http(r, 404, "variable of a missing channel");

    // Snoop: a new channel in the app that spies on this one.
    let snoop = c
        .snoop_channel(&id, &h.app)
        .spy("in")
        .whisper("none")
        .app_args("snooping")
        .send()
        .await
        .expect("snoop");
    h.track_channel(&snoop.id);
    assert!(snoop.name.starts_with("Snoop/"), "{}", snoop.name);
    let sid = snoop.id.clone();
    let start = wait_event!(h, StasisStart(s) if s.channel.id == sid);
    assert_eq!(start.args, ["snooping"]);
    let snoop_id = unique_id("arit-snoop");
    h.track_channel(&snoop_id);
    let snoop2 = c
        .snoop_channel_with_id(&id, &snoop_id, &h.app)
        .spy("both")
        .whisper("out")
        .send()
        .await
        .expect("snoop with id");
    assert_eq!(snoop2.id, snoop_id);
    wait_event!(h, StasisStart(s) if s.channel.id == snoop_id);
    let r = c.snoop_channel(&id, &h.app).spy("sideways").send().await;
    assert_eq!(r.expect_err("bad spy").kind(), ErrorKind::InvalidArgument);
    c.hangup(&snoop_id)
        .reason("normal")
        .send()
        .await
        .expect("hang up snoop");
    wait_event!(h, StasisEnd(e) if e.channel.id == snoop_id);
}

/// An external media channel (RTP to a local UDP socket) enters the app; parameters a release
/// does not ship are refused; transfer progress (where shipped) on a missing channel is 404.
pub async fn external_media_and_transfer(mut h: Harness) {
    let c = h.client.channels();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("UDP socket");
    let host = socket.local_addr().expect("address").to_string();
    let id = h.channel_id();
    let created = c
        .external_media(&h.app, "ulaw")
        .external_host(&host)
        .channel_id(&id)
        .encapsulation("rtp")
        .transport("udp")
        .connection_type("client")
        .direction("both")
        .variables([("ARIT_EXT", "1")])
        .send()
        .await
        .expect("external media");
    let created_id = match &created {
        channels::ExternalMediaResponseType::Channel(ch) => ch.id.clone(),
        other => format!("{other:?}"),
    };
    assert_eq!(created_id, id, "{created:?}");
    let start = wait_event!(h, StasisStart(s) if s.channel.id == id);
    assert!(
        start.channel.name.starts_with("UnicastRTP/"),
        "{}",
        start.channel.name
    );
    // Audio into the channel comes out as RTP at our socket: play a sound to it.
    c.play(&id, ["sound:beep"]).send().await.expect("play");
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(ari_tests::EVENT_TIMEOUT, socket.recv_from(&mut buf))
        .await
        .expect("an RTP packet from the external media channel")
        .expect("recv");
    assert!(
        n > 12 && buf[0] >> 6 == 2,
        "an RTP version 2 packet, {n} bytes"
    );

    for (param, shipped) in [
        ("data", h.ships_param(channels::ExternalMedia::INFO, "data")),
        (
            "transport_data",
            h.ships_param(channels::ExternalMedia::INFO, "transport_data"),
        ),
    ] {
        if shipped {
            continue;
        }
        let mut req = c.external_media(&h.app, "ulaw").external_host(&host);
        req = if param == "data" {
            req.data("x")
        } else {
            req.transport_data("x")
        };
        h.expect_unsupported(req.send().await, "channels.externalMedia parameter");
    }

    let none = unique_id("arit-none");
    if h.ships(channels::TransferProgress::INFO) {
        let r = c.transfer_progress(&none, "channel_answered").send().await;
        h.expect_http(r, 404, "transfer progress of a missing channel");
    } else {
        let r = c.transfer_progress(&none, "channel_answered").send().await;
        h.expect_unsupported(r, "channels.transfer_progress");
    }
}
