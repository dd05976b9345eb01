//! The fleet against a real nats-server and both real Asterisk servers (22.10.1 and 16.28.0):
//! two instances serving calls from both servers, each call exactly once; the events of what
//! an instance creates reach it only; a mixed fleet gated per server release.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ari_fleet::Fleet;
use ari_sdk::routing::Call;
use ari_sdk::{ErrorKind, Event};
use common::{Nats, both_servers, direct, id, init_tracing, proxy};
use futures::StreamExt;
use tokio::sync::mpsc;

const CALLS_PER_SERVER: usize = 6;
const WAIT: Duration = Duration::from_secs(30);

/// What a handler saw of its call.
#[derive(Debug)]
struct Served {
    instance: String,
    server: String,
    channel: String,
    ended: bool,
}

async fn serve_reporting(fleet: &Fleet, tx: mpsc::UnboundedSender<Served>) -> ari_fleet::Serving {
    let instance = fleet.instance().to_owned();
    fleet
        .serve(move |mut call: Call| {
            let tx = tx.clone();
            let instance = instance.clone();
            async move {
                let server = call
                    .router
                    .client()
                    .base_url()
                    .host_str()
                    .unwrap_or("")
                    .trim_end_matches(".fleet.invalid")
                    .to_owned();
                let channel = call.channel.id().to_owned();
                let _ = tx.send(Served {
                    instance: instance.clone(),
                    server: server.clone(),
                    channel: channel.clone(),
                    ended: false,
                });
                call.channel.answer().await?;
                call.channel.hangup_if_present().await?;
                // The call's own stream reaches this instance through to ChannelDestroyed.
                while let Some(event) = call.events.next().await {
                    if matches!(event, Event::ChannelDestroyed(_)) {
                        let _ = tx.send(Served {
                            instance,
                            server,
                            channel,
                            ended: true,
                        });
                        break;
                    }
                }
                Ok::<(), ari_sdk::Error>(())
            }
        })
        .await
        .expect("serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_calls_from_both_servers_each_exactly_once() {
    init_tracing();
    let test = "two_instances_serve_calls_from_both_servers_each_exactly_once";
    let Some((s22, s16)) = both_servers(test) else {
        return;
    };
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let app = id("fleet-app");
    let (id22, id16) = (id("a22"), id("a16"));
    let _p22 = proxy(&nats, &id22, &s22, &[&app]).await;
    let _p16 = proxy(&nats, &id16, &s16, &[&app]).await;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let a = Fleet::builder(&nats.url)
        .app(&app)
        .instance(id("inst-a"))
        .connect()
        .await
        .unwrap();
    let b = Fleet::builder(&nats.url)
        .app(&app)
        .instance(id("inst-b"))
        .connect()
        .await
        .unwrap();
    a.wait_for_servers(2, WAIT).await.unwrap();
    b.wait_for_servers(2, WAIT).await.unwrap();
    let _sa = serve_reporting(&a, tx.clone()).await;
    let _sb = serve_reporting(&b, tx.clone()).await;

    // The announcements carry each server's release.
    let servers = a.servers();
    assert_eq!(
        servers[&id22].release.as_deref(),
        Some("22.10.1"),
        "{servers:?}"
    );
    assert_eq!(
        servers[&id16].release.as_deref(),
        Some("16.28.0"),
        "{servers:?}"
    );

    let mut placed = HashMap::new();
    for (sid, server) in [(&id22, &s22), (&id16, &s16)] {
        let direct = direct(server);
        for _ in 0..CALLS_PER_SERVER {
            let channel = id("fleet-call");
            direct
                .channels()
                .originate("Local/wait@default")
                .app(&app)
                .channel_id(&channel)
                .send()
                .await
                .unwrap_or_else(|e| panic!("originate on {}: {e}", server.url));
            placed.insert(channel, sid.clone());
        }
    }

    let total = placed.len();
    let mut started: Vec<Served> = Vec::new();
    let mut ended: HashSet<String> = HashSet::new();
    let collect = async {
        while ended.len() < total {
            let s = rx.recv().await.expect("reports");
            if s.ended {
                ended.insert(s.channel);
            } else {
                started.push(s);
            }
        }
    };
    tokio::time::timeout(WAIT, collect)
        .await
        .unwrap_or_else(|_| panic!("not every call was served to its end: {ended:?}"));
    // Anything still queued was reported before the last end.
    while let Ok(s) = rx.try_recv() {
        assert!(s.ended, "a call started again: {s:?}");
    }

    let mut by_channel: HashMap<&str, usize> = HashMap::new();
    for s in &started {
        *by_channel.entry(&s.channel).or_default() += 1;
        assert_eq!(
            placed.get(&s.channel),
            Some(&s.server),
            "call {} served as a call of the wrong server",
            s.channel
        );
    }
    assert_eq!(by_channel.len(), total, "every call served: {started:?}");
    assert!(
        by_channel.values().all(|n| *n == 1),
        "a call served twice: {started:?}"
    );
    let instances: HashSet<&str> = started.iter().map(|s| s.instance.as_str()).collect();
    assert_eq!(instances.len(), 2, "both instances take calls: {started:?}");
    let servers: HashSet<&str> = started.iter().map(|s| s.server.as_str()).collect();
    assert_eq!(servers.len(), 2, "calls from both servers: {started:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_fleet_gates_each_server_by_its_release() {
    init_tracing();
    let test = "a_mixed_fleet_gates_each_server_by_its_release";
    let Some((s22, s16)) = both_servers(test) else {
        return;
    };
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let app = id("fleet-gate");
    let (id22, id16) = (id("g22"), id("g16"));
    let _p22 = proxy(&nats, &id22, &s22, &[&app]).await;
    let _p16 = proxy(&nats, &id16, &s16, &[&app]).await;
    let fleet = Fleet::builder(&nats.url).app(&app).connect().await.unwrap();
    fleet.wait_for_servers(2, WAIT).await.unwrap();

    let c22 = fleet.client(&id22).unwrap();
    let c16 = fleet.client(&id16).unwrap();
    assert_eq!(c22.carrier_name(), "nats");
    assert_eq!(c22.known_release(), Some(ari_sdk::Release::new(22, 10, 1)));
    assert_eq!(c16.known_release(), Some(ari_sdk::Release::new(16, 28, 0)));
    // bridges.getBridgeVar is in 22.10.1, not in 16.28.0: sent to 22 (which answers 404 for a
    // bridge that does not exist), refused before sending on 16.
    let e = c22
        .bridges()
        .get_bridge_var("no-such-bridge", "X")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    let e = c16
        .bridges()
        .get_bridge_var("no-such-bridge", "X")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    // An error answer passes through unchanged: status, Asterisk's message.
    let e = c16
        .channels()
        .get("no-such-channel")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    assert_eq!(e.asterisk_message(), Some("Channel not found"), "{e}");
    // Where to create when any server will do: one of the two.
    let any = fleet.any_server().unwrap();
    assert!(any == id22 || any == id16, "{any}");
    // A server nobody announced is a clear error.
    let e = fleet.client("nobody").unwrap_err();
    assert!(e.to_string().contains("nobody"), "{e}");
}

/// The resource ids an event names, read from its JSON.
fn ids_in(payload: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    let mut out = Vec::new();
    for field in ["channel", "bridge", "playback", "peer"] {
        if let Some(id) = v.pointer(&format!("/{field}/id")).and_then(|i| i.as_str()) {
            out.push(id.to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_channels_and_bridges_send_their_events_to_the_creator_only() {
    init_tracing();
    let test = "created_channels_and_bridges_send_their_events_to_the_creator_only";
    let Some((s22, s16)) = both_servers(test) else {
        return;
    };
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let app = id("fleet-own");
    let (id22, id16) = (id("o22"), id("o16"));
    let _p22 = proxy(&nats, &id22, &s22, &[&app]).await;
    let _p16 = proxy(&nats, &id16, &s16, &[&app]).await;
    let (ia, ib) = (id("inst-a"), id("inst-b"));
    let a = Fleet::builder(&nats.url)
        .app(&app)
        .instance(&ia)
        .connect()
        .await
        .unwrap();
    let b = Fleet::builder(&nats.url)
        .app(&app)
        .instance(&ib)
        .connect()
        .await
        .unwrap();
    a.wait_for_servers(2, WAIT).await.unwrap();
    b.wait_for_servers(2, WAIT).await.unwrap();
    // Both serve, so a created channel entering the app taken as a new call would show.
    let (tx, mut calls) = mpsc::unbounded_channel();
    let _sa = serve_reporting(&a, tx.clone()).await;
    let _sb = serve_reporting(&b, tx).await;

    // What no instance owns (the far halves of the Local channels, say) is on the app's
    // subject, typed, with its server.
    let mut unowned = a.app_events(&app).await.unwrap();
    // A tap on both instances' subjects: one subscriber, and the proxy one publisher, so it
    // sees the proxy's messages in the order sent.
    let tap = async_nats::connect(&nats.url).await.unwrap();
    let mut tapped = tap.subscribe("ari.inst.*.*").await.unwrap();
    tap.flush().await.unwrap();

    let mut mine: HashMap<String, HashSet<String>> = HashMap::new();
    let mut created: Vec<String> = Vec::new();
    for server in [&id22, &id16] {
        for (fleet, inst) in [(&a, &ia), (&b, &ib)] {
            let router = fleet.router(server).unwrap();
            let caller = router.new_channel();
            let bridge = router.new_bridge();
            mine.entry(inst.clone())
                .or_default()
                .extend([caller.handle.id().to_owned(), bridge.handle.id().to_owned()]);
            created.push(caller.handle.id().to_owned());
            let request = caller
                .handle
                .originate_with_id("Local/wait@default")
                .app(&app);
            let mut call = router
                .place_call(caller, request)
                .await
                .expect("place call");
            let mut bridge_events = bridge.events;
            bridge.handle.create_with_id().send().await.expect("bridge");
            bridge
                .handle
                .add_channel([call.channel.id()])
                .send()
                .await
                .expect("add channel");
            let entered = bridge_events.next().await;
            assert!(
                matches!(
                    entered,
                    Some(Event::BridgeCreated(_)) | Some(Event::ChannelEnteredBridge(_))
                ),
                "{entered:?}"
            );
            bridge
                .handle
                .destroy()
                .send()
                .await
                .expect("destroy bridge");
            // Asterisk sends BridgeDestroyed only to an app subscribed to the bridge; the
            // channel leaving it is the bridge's last event here.
            while let Some(e) = bridge_events.next().await {
                if matches!(e, Event::ChannelLeftBridge(_)) {
                    break;
                }
            }
            call.channel.hangup().send().await.expect("hangup");
            let mut destroyed = false;
            while let Some(e) = call.events.next().await {
                if matches!(e, Event::ChannelDestroyed(_)) {
                    destroyed = true;
                }
            }
            assert!(destroyed, "the creator saw its channel's end");
        }
    }
    assert!(
        calls.try_recv().is_err(),
        "a channel an instance created was taken as a new call"
    );

    // Every message on an instance's subject names only that instance's resources; read
    // until every created channel's end has passed.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut ends: HashSet<String> = HashSet::new();
    let read = async {
        while ends.len() < created.len() {
            let m = tapped.next().await.expect("tap");
            let inst = m.subject.split('.').nth(2).unwrap().to_owned();
            let ids = ids_in(&m.payload);
            let own = &mine[&inst];
            assert!(
                ids.iter().any(|i| own.contains(i)),
                "instance {inst} got an event of resources not its own: {}",
                String::from_utf8_lossy(&m.payload)
            );
            for i in &ids {
                for (other, theirs) in &mine {
                    assert!(
                        other == &inst || !theirs.contains(i),
                        "instance {inst} got an event of {other}'s {i}"
                    );
                }
            }
            *seen.entry(inst).or_default() += 1;
            let kind = m.headers.as_ref().and_then(|h| h.get("Ari-Event-Type"));
            if kind.map(|k| k.as_str()) == Some("ChannelDestroyed") {
                ends.extend(ids);
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .unwrap_or_else(|_| panic!("the tap did not see every channel end: {seen:?}"));
    assert_eq!(seen.len(), 2, "both instances got their events: {seen:?}");
    let (server, event) = tokio::time::timeout(WAIT, unowned.next())
        .await
        .expect("an unowned event")
        .unwrap();
    assert!(server == id22 || server == id16, "{server}");
    let event = event.expect("typed");
    let mut names_own = false;
    event.visit_resources(|r| {
        if let ari_sdk::meta::ResourceRef::Channel(c) = r {
            names_own |= mine.values().any(|m| m.contains(c));
        }
    });
    assert!(
        !names_own,
        "an owned resource's event on the app subject: {event:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_proxy_carries_many_apps_each_to_its_own_instances() {
    init_tracing();
    let test = "one_proxy_carries_many_apps_each_to_its_own_instances";
    let Some((s22, _)) = both_servers(test) else {
        return;
    };
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let (ivr, dialer) = (id("fleet-ivr"), id("fleet-dialer"));
    let sid = id("m22");
    let _p = proxy(&nats, &sid, &s22, &[&ivr, &dialer]).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let a = Fleet::builder(&nats.url).app(&ivr).connect().await.unwrap();
    let b = Fleet::builder(&nats.url)
        .app(&dialer)
        .connect()
        .await
        .unwrap();
    a.wait_for_servers(1, WAIT).await.unwrap();
    b.wait_for_servers(1, WAIT).await.unwrap();
    assert_eq!(a.servers()[&sid].apps, [ivr.clone(), dialer.clone()]);
    let _sa = serve_reporting(&a, tx.clone()).await;
    let _sb = serve_reporting(&b, tx).await;
    let direct = direct(&s22);
    let mut expected = HashMap::new();
    for (app, fleet) in [(&ivr, &a), (&dialer, &b), (&ivr, &a), (&dialer, &b)] {
        let channel = id("fleet-call");
        direct
            .channels()
            .originate("Local/wait@default")
            .app(app)
            .channel_id(&channel)
            .send()
            .await
            .unwrap();
        expected.insert(channel, fleet.instance().to_owned());
    }
    let mut ended = 0;
    while ended < expected.len() {
        let s = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("reports in time")
            .unwrap();
        assert_eq!(
            expected.get(&s.channel),
            Some(&s.instance),
            "call {} served by the other app's instance",
            s.channel
        );
        ended += usize::from(s.ended);
    }
}
