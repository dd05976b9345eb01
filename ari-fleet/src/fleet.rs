//! The app side: one instance of an application, on every server of the fleet.
//!
//! A [`Fleet`] learns the servers from their proxies' announcements, gives an
//! `ari_sdk::Client` for each (REST over NATS, gated by that server's release), and keeps one
//! `ari_sdk` [`Router`] per server, fed with the events of the resources this instance owns.
//! With [`Fleet::serve`], it takes new calls of its application from every server (each call
//! goes to exactly one instance: a NATS queue group) and runs the handler once per call, as
//! `ari_sdk::routing::StasisApp` does on one server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ari_sdk::events::{EventFeed, EventStream, StreamItem};
use ari_sdk::routing::{Call, HandlerOutcome, Router, RouterStream};
use ari_sdk::{Client, Release};
use async_nats::HeaderMap;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::carrier::NatsCarrier;
use crate::error::{FleetError, Result};
use crate::wire::{self, Alive, Announce, Claim, ClaimReply, Notice, Subjects, Taken, header};

/// Configures a [`Fleet`]; made by [`Fleet::builder`].
#[derive(Clone)]
pub struct FleetBuilder {
    nats_url: String,
    prefix: String,
    instance: Option<String>,
    app: Option<String>,
    heartbeat: Duration,
    request_timeout: Duration,
}

impl std::fmt::Debug for FleetBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetBuilder")
            .field("nats_url", &crate::nats::redacted(&self.nats_url))
            .field("prefix", &self.prefix)
            .field("instance", &self.instance)
            .field("app", &self.app)
            .field("heartbeat", &self.heartbeat)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl FleetBuilder {
    /// The application this instance serves (a subject token). Needed by [`Fleet::serve`].
    pub fn app(mut self, app: impl Into<String>) -> Self {
        self.app = Some(app.into());
        self
    }

    /// This instance's id (a subject token; default: a random one). Unique in the fleet.
    pub fn instance(mut self, id: impl Into<String>) -> Self {
        self.instance = Some(id.into());
        self
    }

    /// The subject prefix (default `ari`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How often this instance tells the proxies it is alive (default 1 s). Keep it well under
    /// the proxies' owner timeout (default 3 s).
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// Time allowed for one REST call, NATS round trip included (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connects to NATS, starts the heartbeat, listens for announcements and owned events, and
    /// asks the proxies to announce themselves. Returns at once; see
    /// [`Fleet::wait_for_servers`].
    pub async fn connect(self) -> Result<Fleet> {
        let subjects = Subjects::new(&self.prefix)?;
        let instance = self
            .instance
            .unwrap_or_else(|| format!("i-{}", uuid::Uuid::new_v4().simple()));
        wire::check_token("instance id", &instance)?;
        if let Some(app) = &self.app {
            wire::check_token("app name", app)?;
        }
        let (nats, mut nats_events) =
            crate::nats::connect(&self.nats_url, &format!("ari-fleet {instance}")).await?;
        let sub = |what: &'static str| move |e| FleetError::nats(what, e);
        let mut announces = nats
            .subscribe(subjects.announce_all())
            .await
            .map_err(sub("subscribe announce"))?;
        let mut owned = nats
            .subscribe(subjects.owned_all(&instance))
            .await
            .map_err(sub("subscribe owned events"))?;
        let mut notices = nats
            .subscribe(subjects.notice_all())
            .await
            .map_err(sub("subscribe notices"))?;
        let inner = Arc::new(Inner {
            nats: nats.clone(),
            subjects: subjects.clone(),
            instance: instance.clone(),
            app: self.app.clone(),
            request_timeout: self.request_timeout,
            servers: watch::channel(BTreeMap::new()).0,
            sides: Mutex::new(HashMap::new()),
            handler: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            calls: Arc::default(),
        });
        let weak = Arc::downgrade(&inner);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn({
            let weak = weak.clone();
            async move {
                while let Some(m) = announces.next().await {
                    let (Some(inner), Ok(a)) = (
                        weak.upgrade(),
                        serde_json::from_slice::<Announce>(&m.payload),
                    ) else {
                        continue;
                    };
                    inner.on_announce(a).await;
                }
            }
        }));
        tasks.push(tokio::spawn({
            let weak = weak.clone();
            async move {
                while let Some(m) = owned.next().await {
                    let Some(inner) = weak.upgrade() else { break };
                    let server = Subjects::last_token(&m.subject).to_owned();
                    let side = match inner.side(&server, None) {
                        Ok(side) => side,
                        Err(e) => {
                            tracing::warn!(error = %e, "an event of a server that cannot be used; dropped");
                            continue;
                        }
                    };
                    if let Some(ends) = m.headers.as_ref().and_then(|h| h.get(header::ENDS)) {
                        let mut owned = lock(&side.owned);
                        for key in ends.as_str().split(' ') {
                            owned.remove(key);
                        }
                    }
                    match String::from_utf8(m.payload.to_vec()) {
                        Ok(text) => {
                            side.feed.event(text).await;
                        }
                        Err(_) => tracing::warn!(%server, "an event that is not UTF-8; dropped"),
                    }
                }
            }
        }));
        tasks.push(tokio::spawn({
            let weak = weak.clone();
            async move {
                while let Some(m) = notices.next().await {
                    let Some(inner) = weak.upgrade() else { break };
                    if let Ok(Notice::Reconnected {
                        server,
                        downtime_ms,
                        ..
                    }) = serde_json::from_slice::<Notice>(&m.payload)
                    {
                        let side = lock(&inner.sides).get(&server).cloned();
                        if let Some(side) = side {
                            tracing::info!(%server, downtime_ms, "the server's events connection was lost and is back; resyncing");
                            side.feed
                                .reconnected(1, Duration::from_millis(downtime_ms))
                                .await;
                        }
                    }
                }
            }
        }));
        tasks.push(tokio::spawn({
            let nats = nats.clone();
            let alive = Alive {
                instance: instance.clone(),
                app: self.app.clone(),
                interval_ms: self.heartbeat.as_millis() as u64,
            };
            let subject = subjects.alive(&instance);
            let payload = bytes::Bytes::from(serde_json::to_vec(&alive).unwrap_or_default());
            let period = self.heartbeat;
            async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    let _ = nats.publish(subject.clone(), payload.clone()).await;
                }
            }
        }));
        tasks.push(tokio::spawn({
            let weak = weak.clone();
            async move {
                let mut down = false;
                while let Some(event) = nats_events.recv().await {
                    let Some(inner) = weak.upgrade() else { break };
                    match event {
                        async_nats::Event::Disconnected => down = true,
                        async_nats::Event::Connected if down => {
                            down = false;
                            tracing::info!("NATS connection back; resyncing every server");
                            inner.resync_all().await;
                        }
                        _ => {}
                    }
                }
            }
        }));
        lock(&inner.tasks).extend(tasks);
        let _ = nats.publish(subjects.discover(), bytes::Bytes::new()).await;
        Ok(Fleet { inner })
    }
}

/// Locks a mutex whose data stays consistent through a panic (single inserts and removals).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One instance of an application across the fleet. Cheap to clone; the last clone dropped
/// stops everything (its heartbeat too, so the proxies then hang up its calls).
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("instance", &self.inner.instance)
            .field("app", &self.inner.app)
            .field("servers", &self.inner.servers.borrow().len())
            .finish_non_exhaustive()
    }
}

type Handler = Arc<dyn Fn(Call) -> BoxFuture<'static, ()> + Send + Sync>;

struct Inner {
    nats: async_nats::Client,
    subjects: Subjects,
    instance: String,
    app: Option<String>,
    request_timeout: Duration,
    servers: watch::Sender<BTreeMap<String, Announce>>,
    sides: Mutex<HashMap<String, Arc<Side>>>,
    handler: Mutex<Option<Handler>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The running call handlers, aborted when the instance goes away.
    calls: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        for c in lock(&self.calls).drain(..) {
            c.abort();
        }
    }
}

/// This instance on one server: its client, its router and the feed of its events.
struct Side {
    server: String,
    client: Client,
    router: Router,
    feed: EventFeed,
    owned: Arc<Mutex<HashSet<String>>>,
    /// The boot of the server's proxy last seen.
    boot: Mutex<Option<String>>,
    calls_started: Mutex<bool>,
}

impl Inner {
    /// The instance's side on `server`, made on first use.
    fn side(self: &Arc<Self>, server: &str, release: Option<Release>) -> Result<Arc<Side>> {
        if let Some(side) = lock(&self.sides).get(server) {
            return Ok(side.clone());
        }
        wire::check_token("server id", server)?;
        let release = release.or_else(|| {
            self.servers
                .borrow()
                .get(server)
                .and_then(|a| a.release.as_deref())
                .and_then(ari_sdk::version::parse_release)
        });
        let owned = Arc::new(Mutex::new(HashSet::new()));
        let side = self.make_side(server, release, owned)?;
        let side = lock(&self.sides)
            .entry(server.to_owned())
            .or_insert(side)
            .clone();
        self.start_calls(&side);
        Ok(side)
    }

    fn client_for(
        &self,
        server: &str,
        release: Option<Release>,
        owned: Arc<Mutex<HashSet<String>>>,
    ) -> Result<Client> {
        // The base URL only names the server in error messages: every call goes over NATS.
        let mut builder = Client::builder()
            .base_url(format!("http://{server}.fleet.invalid/ari"))
            .request_timeout(Some(self.request_timeout));
        if let Some(release) = release {
            builder = builder.server_release(release);
        }
        let carrier = NatsCarrier::new(
            self.nats.clone(),
            &self.subjects,
            server,
            &self.instance,
            self.request_timeout,
            owned,
        );
        Ok(builder.build()?.with_carrier(Arc::new(carrier)))
    }

    fn make_side(
        self: &Arc<Self>,
        server: &str,
        release: Option<Release>,
        owned: Arc<Mutex<HashSet<String>>>,
    ) -> Result<Arc<Side>> {
        let client = self.client_for(server, release, owned.clone())?;
        let (feed, stream) = EventStream::fed(1024);
        let (router, rest) = Router::with_unrouted_stream(&client, stream)?;
        self.drain(server, rest);
        Ok(Arc::new(Side {
            server: server.to_owned(),
            client,
            router,
            feed,
            owned,
            boot: Mutex::new(None),
            calls_started: Mutex::new(false),
        }))
    }

    /// Reads what no subscription of the router took, so that it does not pile up.
    fn drain(&self, server: &str, mut rest: RouterStream) {
        let server = server.to_owned();
        let t = tokio::spawn(async move {
            while let Some(item) = rest.next().await {
                match item {
                    StreamItem::Event(e) => {
                        tracing::trace!(%server, kind = %e.kind(), "owned event of no subscription")
                    }
                    StreamItem::Reconnected { .. } => {
                        tracing::debug!(%server, "resyncing")
                    }
                    StreamItem::Undecoded(u) => {
                        tracing::warn!(%server, kind = u.kind(), error = %u.error(), "an event did not decode")
                    }
                    StreamItem::Error(e) => tracing::warn!(%server, error = %e, "events"),
                }
            }
        });
        lock(&self.tasks).push(t);
    }

    /// When serving, runs the handler for each call the side's router makes.
    fn start_calls(&self, side: &Arc<Side>) {
        let Some(handler) = lock(&self.handler).clone() else {
            return;
        };
        {
            let mut started = lock(&side.calls_started);
            if *started {
                return;
            }
            *started = true;
        }
        let mut incoming = side.router.incoming();
        let calls = self.calls.clone();
        let t = tokio::spawn(async move {
            while let Some(call) = incoming.next().await {
                let task = tokio::spawn(handler(call)).abort_handle();
                let mut calls = lock(&calls);
                calls.retain(|c| !c.is_finished());
                calls.push(task);
            }
        });
        lock(&self.tasks).push(t);
    }

    async fn on_announce(self: &Arc<Self>, a: Announce) {
        if wire::check_token("server id", &a.server).is_err() {
            return;
        }
        let side = lock(&self.sides).get(&a.server).cloned();
        if let Some(side) = side {
            let previous = lock(&side.boot).replace(a.boot.clone());
            if previous.is_some_and(|b| b != a.boot) {
                // A new proxy knows no owners: claim again what this instance holds, and
                // resync, since events were lost while no proxy ran.
                tracing::info!(server = %a.server, "the server's proxy restarted; claiming again and resyncing");
                self.reclaim(&side).await;
                side.feed.reconnected(1, Duration::ZERO).await;
            }
        }
        self.servers.send_modify(|s| {
            s.insert(a.server.clone(), a);
        });
    }

    async fn reclaim(&self, side: &Side) {
        let resources: Vec<String> = lock(&side.owned).iter().cloned().collect();
        if resources.is_empty() {
            return;
        }
        let claim = Claim {
            instance: self.instance.clone(),
            resources,
        };
        let Ok(payload) = serde_json::to_vec(&claim) else {
            return;
        };
        match self
            .nats
            .request(self.subjects.claim(&side.server), payload.into())
            .await
        {
            Ok(reply) => {
                if let Ok(r) = serde_json::from_slice::<ClaimReply>(&reply.payload)
                    && !r.refused.is_empty()
                {
                    tracing::warn!(server = %side.server, refused = r.refused.len(), "claims refused: another instance owns them");
                }
            }
            Err(e) => tracing::warn!(server = %side.server, error = %e, "claiming again failed"),
        }
    }

    async fn resync_all(&self) {
        let sides: Vec<Arc<Side>> = lock(&self.sides).values().cloned().collect();
        for side in sides {
            self.reclaim(&side).await;
            side.feed.reconnected(1, Duration::ZERO).await;
        }
    }
}

impl Fleet {
    /// Starts configuring an instance that talks to the NATS server at `nats_url`.
    pub fn builder(nats_url: impl Into<String>) -> FleetBuilder {
        FleetBuilder {
            nats_url: nats_url.into(),
            prefix: wire::DEFAULT_PREFIX.to_owned(),
            instance: None,
            app: None,
            heartbeat: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
        }
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// The servers announced so far, by id.
    pub fn servers(&self) -> BTreeMap<String, Announce> {
        self.inner.servers.borrow().clone()
    }

    /// Waits until at least `count` servers are announced, or `timeout` passes.
    pub async fn wait_for_servers(&self, count: usize, timeout: Duration) -> Result<()> {
        let mut rx = self.inner.servers.subscribe();
        let wait = rx.wait_for(|s| s.len() >= count);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(FleetError::Closed(format!(
                "{} of {count} servers announced within {timeout:?}",
                self.inner.servers.borrow().len()
            ))),
        }
    }

    /// A client for server `server`: REST over NATS to its proxy, refusing before sending what
    /// the server's release (as announced) does not ship. Resources it creates under ids it
    /// names (channels, bridges, playbacks, recordings) are owned by this instance: their
    /// events come to this instance's [`router`](Self::router) for the server.
    pub fn client(&self, server: &str) -> Result<Client> {
        if !self.inner.servers.borrow().contains_key(server) {
            return Err(FleetError::UnknownServer(server.to_owned()));
        }
        Ok(self.inner.side(server, None)?.client.clone())
    }

    /// The router of server `server`: per-resource event streams of what this instance owns
    /// there. `router.new_channel()` / `new_bridge()` then create on that server with their
    /// events to this instance only.
    pub fn router(&self, server: &str) -> Result<Router> {
        if !self.inner.servers.borrow().contains_key(server) {
            return Err(FleetError::UnknownServer(server.to_owned()));
        }
        Ok(self.inner.side(server, None)?.router.clone())
    }

    /// Any announced server whose events connection is up, the one with the fewest resources
    /// owned by this instance first: where to create a call or bridge when any will do.
    pub fn any_server(&self) -> Result<String> {
        let servers = self.inner.servers.borrow().clone();
        let sides = lock(&self.inner.sides);
        servers
            .values()
            .filter(|a| a.connected)
            .min_by_key(|a| sides.get(&a.server).map_or(0, |s| lock(&s.owned).len()))
            .map(|a| a.server.clone())
            .ok_or_else(|| FleetError::UnknownServer("(any)".into()))
    }

    /// The typed events of application `app` that no instance owns, from every server
    /// (`P.events.{app}.*`; every event of the app when its proxies mirror): for monitoring,
    /// or for an application that does not use ownership. Each item names its server.
    pub async fn app_events(&self, app: &str) -> Result<AppEvents> {
        wire::check_token("app name", app)?;
        let sub = self
            .inner
            .nats
            .subscribe(format!("{}.events.{app}.*", self.inner.subjects.prefix()))
            .await
            .map_err(|e| FleetError::nats("subscribe app events", e))?;
        self.inner
            .nats
            .flush()
            .await
            .map_err(|e| FleetError::nats("flush", e))?;
        Ok(AppEvents { sub })
    }

    /// Takes this instance's share of the application's new calls on every server, and runs
    /// `handler` for each in a task of its own; each call reaches exactly one instance, and its
    /// later events (and those of what its handler creates) reach that instance only. Returns
    /// once subscribed. A handler's error or panic is logged with its channel.
    pub async fn serve<F, Fut>(&self, handler: F) -> Result<Serving>
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        let app = self
            .inner
            .app
            .clone()
            .ok_or_else(|| FleetError::Config("serve needs the builder's app".into()))?;
        let handler = Arc::new(handler);
        let boxed: Handler = Arc::new(move |call: Call| {
            let channel = call.channel.id().to_owned();
            let fut = handler(call);
            Box::pin(async move {
                match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(outcome) => {
                        if let Some(e) = outcome.failure() {
                            tracing::warn!(%channel, error = %e, "call handler failed");
                        }
                    }
                    Err(_) => tracing::error!(%channel, "call handler panicked"),
                }
            })
        });
        *lock(&self.inner.handler) = Some(boxed);
        let sides: Vec<Arc<Side>> = lock(&self.inner.sides).values().cloned().collect();
        for side in &sides {
            self.inner.start_calls(side);
        }
        let mut offers = self
            .inner
            .nats
            .queue_subscribe(self.inner.subjects.calls_all(&app), app.clone())
            .await
            .map_err(|e| FleetError::nats("subscribe calls", e))?;
        // Sent before returning, so that the subscription is in place at the server.
        self.inner
            .nats
            .flush()
            .await
            .map_err(|e| FleetError::nats("flush", e))?;
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            while let Some(m) = offers.next().await {
                let Some(inner) = weak.upgrade() else { break };
                take_call(&inner, m).await;
            }
        });
        Ok(Serving { task })
    }
}

/// Takes one offered call: fed to the server's router (which makes the `Call` and subscribes
/// its channel) before answering, so that the channel's later events, which the proxy sends
/// only after the answer, find the subscription in place.
async fn take_call(inner: &Arc<Inner>, m: async_nats::Message) {
    let server = Subjects::last_token(&m.subject).to_owned();
    let Some(reply) = m.reply.clone() else {
        return;
    };
    let release = header_value(m.headers.as_ref(), header::RELEASE)
        .and_then(|r| ari_sdk::version::parse_release(&r));
    let side = match inner.side(&server, release) {
        Ok(side) => side,
        Err(e) => {
            tracing::warn!(error = %e, "a call offer from a server that cannot be used; declined");
            return;
        }
    };
    #[derive(serde::Deserialize)]
    struct Start {
        channel: Id,
    }
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let Ok(start) = serde_json::from_slice::<Start>(&m.payload) else {
        tracing::warn!(%server, "a call offer that is not a StasisStart; declined");
        return;
    };
    let Ok(text) = String::from_utf8(m.payload.to_vec()) else {
        return;
    };
    lock(&side.owned).insert(format!("channel:{}", start.channel.id));
    side.feed.event(text).await;
    let taken = Taken {
        instance: inner.instance.clone(),
    };
    let payload = serde_json::to_vec(&taken).unwrap_or_default();
    if let Err(e) = inner.nats.publish(reply, payload.into()).await {
        tracing::warn!(%server, error = %e, "call taken but the answer was not sent");
    }
}

fn header_value(h: Option<&HeaderMap>, name: &str) -> Option<String> {
    h.and_then(|h| h.get(name)).map(|v| v.as_str().to_owned())
}

/// The subscription to new calls, from [`Fleet::serve`]. Dropping it (or [`stop`](Self::stop))
/// takes no more calls; calls in progress go on.
#[must_use = "dropping Serving stops taking calls"]
pub struct Serving {
    task: JoinHandle<()>,
}

impl fmt::Debug for Serving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serving").finish_non_exhaustive()
    }
}

impl Serving {
    /// Takes no more calls.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Events of an application from every server, from [`Fleet::app_events`]: `(server, event)`,
/// the event decoded into `ari_sdk::Event` (an unknown type is `Event::Unknown`; JSON that fits
/// no event is the decode error, with its position).
pub struct AppEvents {
    sub: async_nats::Subscriber,
}

impl fmt::Debug for AppEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppEvents").finish_non_exhaustive()
    }
}

impl futures::Stream for AppEvents {
    type Item = (String, Result<ari_sdk::Event, serde_json::Error>);

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.sub.poll_next_unpin(cx).map(|m| {
            m.map(|m| {
                let server = Subjects::last_token(&m.subject).to_owned();
                (server, serde_json::from_slice(&m.payload))
            })
        })
    }
}
