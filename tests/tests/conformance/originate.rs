//! Scenario 2: originate in every parameter form, continue in the dialplan, move, redirect.

use ari_sdk::Event;
use ari_sdk::ops::channels;
use ari_tests::{Harness, unique_id, wait_event};

/// Query parameters (endpoint, app, appArgs, callerId, timeout, channelId, otherChannelId) with
/// the `variables` body; originate with id; the dialplan form (context, extension, priority);
/// the timeout taking effect; the documented 400 and 409.
pub async fn originate_forms(mut h: Harness) {
    let c = h.client.channels();

    // Query form with every parameter, and variables in the body.
    let id = h.channel_id();
    let other = h.channel_id();
    let chan = c
        .originate("Local/wait@default")
        .app(&h.app)
        .app_args("first,second")
        .caller_id("\"Alice Example\" <5551234>")
        .timeout(10)
        .variables([("ARIT_ORIGIN", "query-form")])
        .channel_id(&id)
        .other_channel_id(&other)
        .send()
        .await
        .expect("originate");
    assert_eq!(chan.id, id);
    assert_eq!(chan.caller.name, "Alice Example");
    assert_eq!(chan.caller.number, "5551234");
    assert!(
        chan.name.starts_with("Local/wait@default-"),
        "{}",
        chan.name
    );
    let start = wait_event!(h, StasisStart(s) if s.channel.id == id);
    assert_eq!(start.args, ["first", "second"]);
    assert_eq!(start.channel.caller.number, "5551234");
    assert_eq!(start.channel.state.as_str(), "Up");
    for (chan, half) in [(&id, ";1"), (&other, ";2")] {
        let var = c
            .get_channel_var(chan.as_str(), "ARIT_ORIGIN")
            .send()
            .await
            .unwrap_or_else(|e| panic!("variable on {half}: {e}"));
        assert_eq!(var.value, "query-form", "variables reach the {half} half");
    }
    let listed = c.list().send().await.expect("channels list");
    assert!(listed.iter().any(|l| l.id == id) && listed.iter().any(|l| l.id == other));
    assert_eq!(c.get(&other).send().await.expect("get").id, other);

    // The same id again: 409.
    let dup = c
        .originate("Local/wait@default")
        .app(&h.app)
        .channel_id(&id)
        .send()
        .await;
    h.expect_http(dup, 409, "originate with the id of a live channel");
    // An endpoint that is not `tech/resource`: 400.
    let bad = c.originate("no-technology").app(&h.app).send().await;
    h.expect_http(bad, 400, "originate to an endpoint without technology");

    // Originate with id (POST /channels/{channelId}).
    let with_id = unique_id("arit-chan");
    h.track_channel(&with_id);
    let other2 = h.channel_id();
    let chan = c
        .originate_with_id(&with_id, "Local/wait@default")
        .app(&h.app)
        .app_args("x")
        .other_channel_id(&other2)
        .send()
        .await
        .expect("originate with id");
    assert_eq!(chan.id, with_id);
    let start = wait_event!(h, StasisStart(s) if s.channel.id == with_id);
    assert_eq!(start.args, ["x"]);

    // Dialplan form: the `;1` half runs extension `stasis` of context `default` at priority 1
    // once `;2` answers, and enters the app from there with the variables given.
    let dp = h.channel_id();
    let dp2 = h.channel_id();
    c.originate("Local/wait@default")
        .context("default")
        .extension("stasis")
        .priority(1)
        .variables([("ARI_APP", h.app.as_str()), ("ARI_ARGS", "from-dialplan")])
        .channel_id(&dp)
        .other_channel_id(&dp2)
        .send()
        .await
        .expect("originate to dialplan");
    let start = wait_event!(h, StasisStart(s) if s.channel.id == dp);
    assert_eq!(start.args, ["from-dialplan"]);
    assert_eq!(start.channel.dialplan.exten, "stasis");
    assert_eq!(start.channel.dialplan.context, "default");

    // The label form: the `stasis` extension's `noargs` label.
    let lb = h.channel_id();
    let lb2 = h.channel_id();
    c.originate("Local/wait@default")
        .context("default")
        .extension("stasis")
        .label("noargs")
        .variables([("ARI_APP", h.app.as_str()), ("ARI_ARGS", "ignored")])
        .channel_id(&lb)
        .other_channel_id(&lb2)
        .send()
        .await
        .expect("originate to a label");
    let start = wait_event!(h, StasisStart(s) if s.channel.id == lb);
    assert!(
        start.args.is_empty(),
        "the label skips the arguments: {:?}",
        start.args
    );

    // timeout: a far end that never answers is given up after 1 s (the default is 30 s).
    let ring = h.channel_id();
    let ring2 = h.channel_id();
    c.originate("Local/ring@default")
        .app(&h.app)
        .timeout(1)
        .channel_id(&ring)
        .other_channel_id(&ring2)
        .send()
        .await
        .expect("originate with timeout");
    let destroyed = wait_event!(h, ChannelDestroyed(d) if d.channel.id == ring);
    // On Asterisk's own clock: from the channel's creation to its destruction.
    let created = ari_tests::asterisk_time_ms(&destroyed.channel.creationtime);
    let gone = destroyed
        .timestamp
        .as_deref()
        .and_then(ari_tests::asterisk_time_ms);
    let lived = created
        .zip(gone)
        .map(|(c, g)| g - c)
        .unwrap_or_else(|| panic!("timestamps of {destroyed:?}"));
    assert!(
        (900..8000).contains(&lived),
        "the 1 s timeout took {lived} ms by Asterisk's clock (cause {} {})",
        destroyed.cause,
        destroyed.cause_txt
    );
}

/// Continue in the dialplan (to an extension, and to a label), move between apps, redirect.
pub async fn continue_move_redirect(mut h: Harness) {
    let c = h.client.channels();
    let (id, _other) = h.local_in_app("wait").await;

    // Continue to `stasis-<app>`, which enters the app again: StasisEnd then a new StasisStart
    // from that extension.
    c.continue_in_dialplan(&id)
        .context("default")
        .extension(format!("stasis-{}", h.app))
        .priority(1)
        .send()
        .await
        .expect("continue");
    wait_event!(h, StasisEnd(e) if e.channel.id == id);
    let back = wait_event!(h, StasisStart(s) if s.channel.id == id);
    assert_eq!(back.channel.dialplan.exten, format!("stasis-{}", h.app));

    // Continue to a label: `stasis` at `noargs` enters ${ARI_APP}, set here first.
    c.set_channel_var(&id, "ARI_APP")
        .value(&h.app)
        .send()
        .await
        .expect("set ARI_APP");
    wait_event!(h, ChannelVarset(v) if v.variable == "ARI_APP");
    c.continue_in_dialplan(&id)
        .context("default")
        .extension("stasis")
        .label("noargs")
        .send()
        .await
        .expect("continue to a label");
    wait_event!(h, StasisEnd(e) if e.channel.id == id);
    let back = wait_event!(h, StasisStart(s) if s.channel.id == id);
    assert_eq!(back.channel.dialplan.exten, "stasis");

    // Move to a second app with its own event stream: StasisEnd here, StasisStart there.
    let mut second = h.extra_stream(None).await;
    let app2 = second.app.clone();
    if h.ships(channels::Move::INFO) {
        c.r#move(&id, &app2)
            .app_args("moved")
            .send()
            .await
            .expect("move");
        wait_event!(h, StasisEnd(e) if e.channel.id == id);
        let s = second
            .wait_for(
                "StasisStart in the second app",
                ari_tests::EVENT_TIMEOUT,
                |e| match e {
                    Event::StasisStart(s) if s.channel.id == id => Some(s.clone()),
                    _ => None,
                },
            )
            .await;
        assert_eq!(s.args, ["moved"]);
        assert_eq!(s.application, app2);
        // Moving to an app that nobody runs fails: ApplicationMoveFailed in the second app.
        c.r#move(&id, unique_id("arit-nobody"))
            .send()
            .await
            .expect("move to an unregistered app is accepted");
        second
            .wait_for(
                "ApplicationMoveFailed",
                ari_tests::EVENT_TIMEOUT,
                |e| match e {
                    Event::ApplicationMoveFailed(f) if f.channel.id == id => Some(()),
                    _ => None,
                },
            )
            .await;
    } else {
        h.expect_unsupported(c.r#move(&id, &app2).send().await, "channels.move");
    }
    second.close();

    // Redirect: a Local channel cannot be redirected to another technology (422), and a
    // channel that does not exist is 404.
    let (id2, far2) = h.local_in_app("wait").await;
    let r = c.redirect(&id2, "PJSIP/nobody").send().await;
    h.expect_http(r, 422, "redirect a Local channel to PJSIP");
    // To another Local endpoint the redirect is accepted (204); the Local channel driver does
    // not carry out the transfer (the far `;2` half stays in `wait`), so only the answer and
    // the channel staying in the app are checked.
    c.redirect(&id2, "Local/echo@default")
        .send()
        .await
        .expect("redirect to a Local endpoint");
    let still = c.get(&id2).send().await.expect("the redirected channel");
    assert_eq!(still.dialplan.app_name.as_deref(), Some("Stasis"));
    assert!(c.get(&far2).send().await.is_ok());
    let r = c
        .redirect(unique_id("arit-none"), "Local/echo@default")
        .send()
        .await;
    h.expect_http(r, 404, "redirect a missing channel");
}
