//! The fleet's fault outcomes against a real nats-server and the real 22.10.1 server (see
//! docs/FLEET.md, "Faults"): an instance that dies has its calls hung up; a nats-server restart
//! loses only what was sent while it was down, and calls go on; a proxy restart is followed by
//! the instances claiming their calls again, and the calls nobody claims are hung up.

mod common;

use std::time::Duration;

use ari_fleet::Fleet;
use ari_sdk::Event;
use ari_sdk::routing::Call;
use common::{Nats, channel_exists, direct, eventually, id, init_tracing, proxy};
use futures::StreamExt;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

fn server22(test: &str) -> Option<ari_test_env::Server> {
    let s = ari_test_env::server(22);
    if s.is_none() {
        eprintln!("SKIP {test}: set ARI_URL_22 (or ARI_REQUIRE_SERVERS=1)");
    }
    s
}

/// What a holding handler reports: its call started, and later how its stream ended.
#[derive(Debug, PartialEq, Eq)]
enum Report {
    Started(String),
    /// The call's stream ended; whether `ChannelDestroyed` was in it.
    Ended(String, bool),
}

/// Serves calls by answering and holding them until their stream ends.
async fn serve_holding(fleet: &Fleet, tx: mpsc::UnboundedSender<Report>) -> ari_fleet::Serving {
    fleet
        .serve(move |mut call: Call| {
            let tx = tx.clone();
            async move {
                let channel = call.channel.id().to_owned();
                call.channel.answer().await?;
                let _ = tx.send(Report::Started(channel.clone()));
                let mut destroyed = false;
                while let Some(e) = call.events.next().await {
                    destroyed |= matches!(e, Event::ChannelDestroyed(_));
                }
                let _ = tx.send(Report::Ended(channel, destroyed));
                Ok::<(), ari_sdk::Error>(())
            }
        })
        .await
        .expect("serve")
}

async fn originate(direct: &ari_sdk::Client, app: &str) -> String {
    let channel = id("fault-call");
    direct
        .channels()
        .originate("Local/wait@default")
        .app(app)
        .channel_id(&channel)
        .send()
        .await
        .expect("originate");
    channel
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a report in time")
        .expect("reports")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_dies_mid_call_has_its_calls_hung_up() {
    init_tracing();
    let test = "an_instance_that_dies_mid_call_has_its_calls_hung_up";
    let Some(s22) = server22(test) else { return };
    // Shared: no test of this binary is against 22 while the restart test restarts it.
    let _shared = ari_test_env::restart_lock(false);
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let app = id("fault-die");
    let sid = id("d22");
    let _p = proxy(&nats, &sid, &s22, &[&app]).await;
    let direct = direct(&s22);

    let fleet = Fleet::builder(&nats.url)
        .app(&app)
        .heartbeat(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    fleet.wait_for_servers(1, WAIT).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let serving = serve_holding(&fleet, tx).await;
    let channel = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(channel.clone()));
    // Also a bridge the instance created: destroyed with it.
    let bridge = fleet.router(&sid).unwrap().new_bridge();
    bridge.handle.create_with_id().send().await.unwrap();
    let bridge_id = bridge.handle.id().to_owned();

    // The instance dies: its heartbeat stops, its handlers are gone.
    drop(serving);
    drop(bridge);
    drop(fleet);
    eventually(WAIT, "the dead instance's call is hung up", || {
        let direct = direct.clone();
        let channel = channel.clone();
        async move { !channel_exists(&direct, &channel).await }
    })
    .await;
    eventually(WAIT, "the dead instance's bridge is destroyed", || {
        let direct = direct.clone();
        let bridge_id = bridge_id.clone();
        async move {
            direct
                .bridges()
                .get(bridge_id)
                .send()
                .await
                .is_err_and(|e| e.status() == Some(404))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_no_instance_takes_is_hung_up() {
    init_tracing();
    let test = "a_call_no_instance_takes_is_hung_up";
    let Some(s22) = server22(test) else { return };
    // Shared: no test of this binary is against 22 while the restart test restarts it.
    let _shared = ari_test_env::restart_lock(false);
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let app = id("fault-none");
    let _p = proxy(&nats, &id("n22"), &s22, &[&app]).await;
    let direct = direct(&s22);
    let channel = originate(&direct, &app).await;
    eventually(WAIT, "the untaken call is hung up", || {
        let direct = direct.clone();
        let channel = channel.clone();
        async move { !channel_exists(&direct, &channel).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_on_across_a_nats_server_restart() {
    init_tracing();
    let test = "calls_go_on_across_a_nats_server_restart";
    let Some(s22) = server22(test) else { return };
    // Shared: no test of this binary is against 22 while the restart test restarts it.
    let _shared = ari_test_env::restart_lock(false);
    let Some(mut nats) = Nats::start(test) else {
        return;
    };
    let app = id("fault-nats");
    let sid = id("r22");
    let mut config = ari_fleet::ProxyConfig::new(&sid, &s22.url, [app.as_str()])
        .credentials(&s22.user, &s22.password);
    config.announce_interval = Duration::from_secs(1);
    let _p = ari_fleet::Proxy::start(&nats.url, config).await.unwrap();
    let direct = direct(&s22);
    let fleet = Fleet::builder(&nats.url).app(&app).connect().await.unwrap();
    fleet.wait_for_servers(1, WAIT).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _serving = serve_holding(&fleet, tx).await;
    let first = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(first.clone()));

    nats.restart();
    // Back when a REST call goes through again (both the instance and the proxy reconnected).
    let client = fleet.client(&sid).unwrap();
    eventually(WAIT, "REST over NATS works again", || {
        let client = client.clone();
        async move { client.asterisk().get_info().send().await.is_ok() }
    })
    .await;
    // The call taken before the restart still reaches its handler, to its end. Its stream
    // ends either with ChannelDestroyed or, when the instance's resync after the restart lists
    // the channels just after the hangup, because the resync found the channel gone (the list
    // answer can overtake the event, which then has no subscription left): both are the end
    // `ResourceEvents` promises, and a call the handler never hears end would time out here.
    // Nothing ended the live call: a resync must not have taken it for gone.
    assert!(rx.try_recv().is_err(), "a report before the hangup");
    direct.channels().hangup(&first).send().await.unwrap();
    match next(&mut rx).await {
        Report::Ended(id, _) => assert_eq!(id, first),
        other => panic!("expected the first call's end, got {other:?}"),
    }
    // A new call is taken.
    let second = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(second.clone()));
    direct.channels().hangup(&second).send().await.unwrap();
    assert_eq!(next(&mut rx).await, Report::Ended(second, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_proxy_restart_calls_are_claimed_again_and_orphans_hung_up() {
    init_tracing();
    let test = "after_a_proxy_restart_calls_are_claimed_again_and_orphans_hung_up";
    let Some(s22) = server22(test) else { return };
    // Shared: no test of this binary is against 22 while the restart test restarts it.
    let _shared = ari_test_env::restart_lock(false);
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let app = id("fault-proxy");
    let sid = id("x22");
    let p = proxy(&nats, &sid, &s22, &[&app]).await;
    let direct = direct(&s22);
    let survivor = Fleet::builder(&nats.url).app(&app).connect().await.unwrap();
    survivor.wait_for_servers(1, WAIT).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let serving = serve_holding(&survivor, tx).await;
    let kept = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(kept.clone()));
    // Only the survivor takes calls from now on: the next one goes to an instance that will
    // be gone when the new proxy starts.
    drop(serving);
    let doomed = Fleet::builder(&nats.url).app(&app).connect().await.unwrap();
    doomed.wait_for_servers(1, WAIT).await.unwrap();
    let (dtx, mut drx) = mpsc::unbounded_channel();
    let dserving = serve_holding(&doomed, dtx).await;
    let orphan = originate(&direct, &app).await;
    assert_eq!(next(&mut drx).await, Report::Started(orphan.clone()));

    // The proxy goes; the instance that held the orphan dies while no proxy runs.
    p.stop();
    p.join().await;
    drop(dserving);
    drop(doomed);
    let p2 = proxy(&nats, &sid, &s22, &[&app]).await;
    // The survivor claims its call again; the orphan, claimed by nobody, is hung up.
    eventually(WAIT, "the unclaimed call is hung up", || {
        let direct = direct.clone();
        let orphan = orphan.clone();
        async move { !channel_exists(&direct, &orphan).await }
    })
    .await;
    assert!(
        channel_exists(&direct, &kept).await,
        "the claimed call was kept"
    );
    direct.channels().hangup(&kept).send().await.unwrap();
    assert_eq!(next(&mut rx).await, Report::Ended(kept, true));
    drop(p2);
}

/// An Asterisk restart as the proxy sees it (its connections to Asterisk cut, then accepted
/// again), without restarting the shared server: the call hung up meanwhile has its
/// `ChannelDestroyed` lost; the proxy's notice makes the instance resync, which ends the call's
/// stream, so its handler is not left waiting on a call that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lost_while_asterisk_is_unreachable_are_made_up_by_a_resync() {
    init_tracing();
    let test = "events_lost_while_asterisk_is_unreachable_are_made_up_by_a_resync";
    let Some(s22) = server22(test) else { return };
    // Shared: no test of this binary is against 22 while the restart test restarts it.
    let _shared = ari_test_env::restart_lock(false);
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let url = url::Url::parse(&s22.url).unwrap();
    let target = url.socket_addrs(|| Some(8088)).unwrap()[0];
    let mut link = common::Cuttable::start(target).await;
    let mut via = s22.clone();
    via.url = format!("http://{}{}", link.addr, url.path());
    let app = id("fault-ast");
    let sid = id("c22");
    let _p = proxy(&nats, &sid, &via, &[&app]).await;
    let direct = direct(&s22);
    let fleet = Fleet::builder(&nats.url).app(&app).connect().await.unwrap();
    fleet.wait_for_servers(1, WAIT).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _serving = serve_holding(&fleet, tx).await;
    let call = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(call.clone()));

    link.cut();
    // Gone while the proxy cannot hear Asterisk: its last events are lost.
    direct.channels().hangup(&call).send().await.unwrap();
    eventually(WAIT, "the call is gone", || {
        let direct = direct.clone();
        let call = call.clone();
        async move { !channel_exists(&direct, &call).await }
    })
    .await;
    link.resume().await;
    // The resync finds the channel gone and ends the call's stream (without ChannelDestroyed).
    assert_eq!(next(&mut rx).await, Report::Ended(call, false));
    // And new calls are taken again.
    let second = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(second.clone()));
    direct.channels().hangup(&second).send().await.unwrap();
    assert_eq!(next(&mut rx).await, Report::Ended(second, true));
}

/// Asterisk 22 itself restarts (`cargo xtask asterisk restart`, needs root) while an instance
/// holds a call: the call dies with the server, the proxy reconnects, the instance's stream of
/// that call ends (by the events Asterisk sent while stopping, or by the resync after the
/// reconnect finding the channel gone), and calls into the restarted server are served again.
/// Holds the restart lock exclusively, like the conformance suite's restart test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_asterisk_restart_the_held_call_ends_and_new_calls_are_served() {
    init_tracing();
    let test = "after_an_asterisk_restart_the_held_call_ends_and_new_calls_are_served";
    let Some(s22) = server22(test) else { return };
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let _lock = ari_test_env::restart_lock(true);
    let app = id("fault-restart");
    let sid = id("r22");
    let _p = proxy(&nats, &sid, &s22, &[&app]).await;
    let direct = direct(&s22);
    let fleet = Fleet::builder(&nats.url).app(&app).connect().await.unwrap();
    fleet.wait_for_servers(1, WAIT).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _serving = serve_holding(&fleet, tx).await;
    let call = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(call.clone()));

    let restarting = tokio::task::spawn_blocking(move || ari_test_env::restart_asterisk("22"));
    tokio::time::timeout(Duration::from_secs(150), restarting)
        .await
        .expect("the restart did not finish within 150 s")
        .expect("restart task")
        .unwrap_or_else(|e| panic!("{e}"));
    // No call is left in silence: the held call's stream ends (nothing else is asserted about
    // what it carried: Asterisk may or may not get its ChannelDestroyed out while stopping).
    match next(&mut rx).await {
        Report::Ended(c, _) if c == call => {}
        other => panic!("expected the end of {call}, got {other:?}"),
    }
    // The proxy is connected to the new server once the app is registered there again.
    eventually(
        Duration::from_secs(60),
        "the app is registered after the restart",
        || {
            let direct = direct.clone();
            let app = app.clone();
            async move { direct.applications().get(app).send().await.is_ok() }
        },
    )
    .await;
    let second = originate(&direct, &app).await;
    assert_eq!(next(&mut rx).await, Report::Started(second.clone()));
    direct.channels().hangup(&second).send().await.unwrap();
    assert_eq!(next(&mut rx).await, Report::Ended(second, true));
}
