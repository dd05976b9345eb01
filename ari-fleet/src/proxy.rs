//! The proxy: one per Asterisk server. It holds the events WebSocket for many apps, routes each
//! event to the instance that owns a resource it names (or offers a new call to one instance of
//! the app), serves REST over NATS request/reply, and announces the server.
//!
//! Everything that decides where an event goes runs in one task (the routing loop), so the
//! events of one resource leave in the order Asterisk sent them, and an ownership change (a
//! call taken, a claim, an owner gone) applies between two events, never during one.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ari_sdk::events::{Backoff, StreamItem};
use ari_sdk::{Client, Event};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{FleetError, Result};
use crate::wire::{
    self, Alive, Announce, Claim, ClaimReply, Notice, ProxyFailure, Refused, Subjects, Taken,
    header,
};

/// How a proxy runs. Made with [`ProxyConfig::new`]; the other settings have defaults.
#[derive(Clone)]
pub struct ProxyConfig {
    /// The server's id in the fleet (a subject token: `A-Z a-z 0-9 _ -`).
    pub server: String,
    /// Asterisk's ARI base URL, `http://host:8088/ari`.
    pub ari_url: String,
    /// ARI user.
    pub username: String,
    /// ARI password (never logged).
    pub password: String,
    /// The Stasis applications whose events this proxy carries.
    pub apps: Vec<String>,
    /// The subject prefix (default `ari`).
    pub prefix: String,
    /// How often to announce the server (default 5 s).
    pub announce_interval: Duration,
    /// An owner silent this long is taken for dead: its channels are hung up and its bridges
    /// destroyed (default 3 s).
    pub owner_timeout: Duration,
    /// How long an instance has to answer a call offer (default 2 s). An offer that gets no
    /// answer is never offered again (the instance may have taken it): the call is hung up.
    pub offer_timeout: Duration,
    /// How long to keep offering a new call while no instance of its app listens (default 3 s);
    /// then the call is hung up.
    pub offer_budget: Duration,
    /// How long, after the proxy starts, instances have to claim the calls already in its
    /// apps before the unclaimed ones are hung up (default 3 s).
    pub claim_grace: Duration,
    /// How often to forget owners of resources Asterisk no longer lists (default 60 s).
    pub prune_interval: Duration,
    /// Publish every event on `P.events.{app}.{server}` too, not only those no instance owns.
    pub mirror: bool,
    /// Time allowed for one REST call to Asterisk (default 30 s).
    pub request_timeout: Duration,
    /// Most events kept for a call while it is being offered (default 1000).
    pub pending_limit: usize,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("server", &self.server)
            .field("ari_url", &self.ari_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("apps", &self.apps)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ProxyConfig {
    /// A proxy for server `server` at `ari_url`, carrying `apps`, with user `asterisk` and the
    /// default timings.
    pub fn new(
        server: impl Into<String>,
        ari_url: impl Into<String>,
        apps: impl IntoIterator<Item = impl Into<String>>,
    ) -> ProxyConfig {
        ProxyConfig {
            server: server.into(),
            ari_url: ari_url.into(),
            username: String::new(),
            password: String::new(),
            apps: apps.into_iter().map(Into::into).collect(),
            prefix: wire::DEFAULT_PREFIX.to_owned(),
            announce_interval: Duration::from_secs(5),
            owner_timeout: Duration::from_secs(3),
            offer_timeout: Duration::from_secs(2),
            offer_budget: Duration::from_secs(3),
            claim_grace: Duration::from_secs(3),
            prune_interval: Duration::from_secs(60),
            mirror: false,
            request_timeout: Duration::from_secs(30),
            pending_limit: 1000,
        }
    }

    /// Sets the ARI credentials.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = username.into();
        self.password = password.into();
        self
    }

    fn check(&self) -> Result<()> {
        wire::check_token("server id", &self.server)?;
        wire::check_prefix(&self.prefix)?;
        if self.apps.is_empty() {
            return Err(FleetError::Config(
                "the proxy needs at least one app".into(),
            ));
        }
        for app in &self.apps {
            wire::check_token("app name", app)?;
        }
        Ok(())
    }
}

/// A running proxy, from [`Proxy::start`]. Dropping it stops the proxy.
#[must_use = "dropping a RunningProxy stops it"]
pub struct RunningProxy {
    boot: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for RunningProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningProxy")
            .field("boot", &self.boot)
            .finish_non_exhaustive()
    }
}

impl RunningProxy {
    /// This run's boot id, as announced.
    pub fn boot(&self) -> &str {
        &self.boot
    }

    /// Stops the proxy: the events connection closes (Asterisk unregisters the apps) and REST
    /// is no longer served.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the proxy has stopped.
    pub async fn join(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The proxy; see the [module docs](self).
#[derive(Debug)]
pub struct Proxy;

impl Proxy {
    /// Connects to Asterisk (learning its version, registering the apps), subscribes to its
    /// NATS subjects, announces the server and runs until stopped. Fails at once if Asterisk
    /// does not answer or refuses the credentials.
    pub async fn start(nats_url: &str, config: ProxyConfig) -> Result<RunningProxy> {
        config.check()?;
        let (nats, mut nats_events) =
            crate::nats::connect(nats_url, &format!("ari-fleet-proxy {}", config.server)).await?;
        let subjects = Subjects::new(&config.prefix)?;
        let client = Client::builder()
            .base_url(&config.ari_url)
            .credentials(&config.username, &config.password)
            .request_timeout(Some(config.request_timeout))
            .build()?;
        let version = client.connect().await?;
        let rest = Arc::new(Rest::new(&client, &config)?);
        let events = client
            .event_stream()
            .apps(config.apps.clone())
            .backoff(
                Backoff::default()
                    .initial(Duration::from_millis(200))
                    .max(Duration::from_secs(2)),
            )
            .connect_as::<Box<RawValue>>()
            .await?;
        let boot = uuid::Uuid::new_v4().simple().to_string();
        let server = config.server.clone();
        let nats_err = |what| move |e| FleetError::nats(what, e);
        let rest_sub = nats
            .queue_subscribe(subjects.rest(&server), "proxy".into())
            .await
            .map_err(nats_err("subscribe rest"))?;
        let claim_sub = nats
            .queue_subscribe(subjects.claim(&server), "proxy".into())
            .await
            .map_err(nats_err("subscribe claim"))?;
        let alive_sub = nats
            .subscribe(subjects.alive_all())
            .await
            .map_err(nats_err("subscribe alive"))?;
        let discover_sub = nats
            .subscribe(subjects.discover())
            .await
            .map_err(nats_err("subscribe discover"))?;

        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        let announce = Announce {
            server: server.clone(),
            boot: boot.clone(),
            asterisk_version: version.as_ref().map(|v| v.raw.clone()),
            release: version
                .as_ref()
                .and_then(|v| v.release)
                .map(|r| r.to_string()),
            apps: config.apps.clone(),
            connected: true,
            interval_ms: config.announce_interval.as_millis() as u64,
        };
        let routing = Routing {
            nats: nats.clone(),
            subjects: subjects.clone(),
            release: version
                .as_ref()
                .and_then(|v| v.release)
                .map(|r| r.to_string()),
            config: config.clone(),
            announce,
            client,
            rest: rest.clone(),
            cmd_tx: cmd_tx.clone(),
            owners: HashMap::new(),
            by_owner: HashMap::new(),
            last_seen: HashMap::new(),
            pending: HashMap::new(),
            started: Instant::now(),
            swept: false,
        };
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(serve_rest(
            nats.clone(),
            rest_sub,
            rest,
            cmd_tx.clone(),
        )));
        tasks.push(tokio::spawn(serve_claims(
            nats.clone(),
            claim_sub,
            cmd_tx.clone(),
        )));
        tasks.push(tokio::spawn(forward(alive_sub, cmd_tx.clone(), |m| {
            serde_json::from_slice::<Alive>(&m.payload)
                .ok()
                .map(|a| Cmd::Alive(a.instance))
        })));
        tasks.push(tokio::spawn(forward(discover_sub, cmd_tx.clone(), |m| {
            Some(Cmd::Discover(m.reply))
        })));
        let up = cmd_tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(event) = nats_events.recv().await {
                tracing::info!(%event, "NATS");
                if event == async_nats::Event::Connected && up.send(Cmd::NatsUp).is_err() {
                    break;
                }
            }
        }));
        let task = tokio::spawn(async move {
            routing.run(events, cmd_rx, stop_rx).await;
            for t in tasks {
                t.abort();
            }
        });
        Ok(RunningProxy {
            boot,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// Passes the messages of a subscription to the routing loop.
async fn forward(
    mut sub: async_nats::Subscriber,
    tx: mpsc::UnboundedSender<Cmd>,
    f: impl Fn(async_nats::Message) -> Option<Cmd>,
) {
    while let Some(m) = sub.next().await {
        if let Some(cmd) = f(m)
            && tx.send(cmd).is_err()
        {
            break;
        }
    }
}

/// What the routing loop is told by the other tasks.
enum Cmd {
    /// An offer ended.
    Offered {
        channel: String,
        outcome: OfferOutcome,
    },
    /// Resources to own (from a claim, or a REST call that creates them); acknowledged once
    /// recorded.
    Claim {
        claim: Claim,
        ack: Option<oneshot::Sender<ClaimReply>>,
    },
    /// An instance's heartbeat.
    Alive(String),
    /// Someone asked the proxies to announce themselves.
    Discover(Option<Subject>),
    /// What Asterisk lists now: owners of other channels and bridges are forgotten.
    Prune {
        channels: HashSet<String>,
        bridges: HashSet<String>,
    },
    /// The channels in the proxy's apps after its start, for the orphan sweep.
    Sweep(Vec<String>),
    /// The NATS connection is back: heartbeats could not arrive meanwhile.
    NatsUp,
}

enum OfferOutcome {
    Taken(String),
    /// Nobody listened for the whole budget.
    NoTaker,
    /// Someone got it and did not answer: it may hold the call.
    Unanswered,
}

/// A call being offered, and the events of its channel meanwhile.
struct Pending {
    events: Vec<(HeaderMap, Bytes)>,
}

struct Routing {
    nats: async_nats::Client,
    subjects: Subjects,
    release: Option<String>,
    config: ProxyConfig,
    announce: Announce,
    client: Client,
    rest: Arc<Rest>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    /// Resource key to owning instance.
    owners: HashMap<String, String>,
    by_owner: HashMap<String, HashSet<String>>,
    last_seen: HashMap<String, Instant>,
    /// Channel id to the call being offered.
    pending: HashMap<String, Pending>,
    started: Instant,
    swept: bool,
}

/// The parts of an event the routing needs, read once.
struct Routed {
    kind: String,
    app: Option<String>,
    keys: Vec<String>,
    ends: Vec<String>,
    /// The channel of a `StasisStart`.
    start: Option<String>,
}

fn key_of(r: ari_sdk::meta::ResourceRef<'_>) -> Option<String> {
    use ari_sdk::meta::ResourceRef as R;
    match r {
        R::Channel(id) => Some(format!("channel:{id}")),
        R::Bridge(id) => Some(format!("bridge:{id}")),
        R::Playback(id) => Some(format!("playback:{id}")),
        R::Recording(name) => Some(format!("recording:{name}")),
        _ => None,
    }
}

fn read_event(text: &str) -> Routed {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
        application: Option<String>,
    }
    let head = serde_json::from_str::<Head>(text).ok();
    let (kind, app) = head.map(|h| (h.kind, h.application)).unwrap_or_default();
    let mut routed = Routed {
        kind,
        app,
        keys: Vec::new(),
        ends: Vec::new(),
        start: None,
    };
    let Ok(event) = serde_json::from_str::<Event>(text) else {
        return routed;
    };
    event.visit_resources(|r| {
        if let Some(k) = key_of(r)
            && !routed.keys.contains(&k)
        {
            routed.keys.push(k);
        }
    });
    let end = match &event {
        Event::ChannelDestroyed(e) => Some(format!("channel:{}", e.channel.id)),
        Event::BridgeDestroyed(e) => Some(format!("bridge:{}", e.bridge.id)),
        Event::PlaybackFinished(e) => Some(format!("playback:{}", e.playback.id)),
        Event::RecordingFinished(e) => Some(format!("recording:{}", e.recording.name)),
        Event::RecordingFailed(e) => Some(format!("recording:{}", e.recording.name)),
        _ => None,
    };
    routed.ends.extend(end);
    if let Event::StasisStart(s) = &event {
        routed.start = Some(s.channel.id.clone());
    }
    routed
}

impl Routing {
    async fn run(
        mut self,
        mut events: ari_sdk::events::EventStream<Box<RawValue>>,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.publish_announce(None).await;
        let mut announce = tokio::time::interval(self.config.announce_interval);
        let mut check = tokio::time::interval(self.config.owner_timeout / 4);
        let mut prune = tokio::time::interval(self.config.prune_interval);
        let grace = tokio::time::sleep(self.config.claim_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                item = events.next() => match item {
                    None => break,
                    Some(StreamItem::Event(raw)) => self.on_event(raw).await,
                    Some(StreamItem::Reconnected { downtime, .. }) => {
                        self.announce.connected = true;
                        tracing::info!(server = %self.config.server, ?downtime, "events connection back");
                        let notice = Notice::Reconnected {
                            server: self.config.server.clone(),
                            boot: self.announce.boot.clone(),
                            downtime_ms: downtime.as_millis() as u64,
                        };
                        let subject = self.subjects.notice(&self.config.server);
                        if let Ok(payload) = serde_json::to_vec(&notice) {
                            let _ = self.nats.publish(subject, payload.into()).await;
                        }
                        self.publish_announce(None).await;
                        self.spawn_prune();
                    }
                    Some(StreamItem::Undecoded(u)) => {
                        tracing::warn!(kind = u.kind(), "event is not JSON of an event; dropped");
                    }
                    Some(StreamItem::Error(e)) => {
                        if self.announce.connected {
                            self.announce.connected = false;
                            self.publish_announce(None).await;
                        }
                        tracing::warn!(server = %self.config.server, error = %e, "events connection");
                    }
                },
                Some(cmd) = cmds.recv() => self.on_cmd(cmd).await,
                _ = announce.tick() => self.publish_announce(None).await,
                _ = check.tick() => self.check_owners(),
                _ = prune.tick() => self.spawn_prune(),
                () = &mut grace, if !self.swept => {
                    self.swept = true;
                    self.spawn_sweep();
                }
            }
        }
        events.close();
    }

    async fn publish_announce(&self, reply: Option<Subject>) {
        let Ok(payload) = serde_json::to_vec(&self.announce) else {
            return;
        };
        let payload = Bytes::from(payload);
        let subject = self.subjects.announce(&self.config.server);
        if let Err(e) = self.nats.publish(subject, payload.clone()).await {
            tracing::debug!(error = %e, "announce not published");
        }
        if let Some(reply) = reply {
            let _ = self.nats.publish(reply, payload).await;
        }
    }

    async fn on_event(&mut self, raw: Box<RawValue>) {
        let text = raw.get();
        let routed = read_event(text);
        let mut headers = HeaderMap::new();
        headers.insert(header::SERVER, self.config.server.as_str());
        headers.insert(header::EVENT_TYPE, routed.kind.as_str());
        if !routed.ends.is_empty() {
            headers.insert(header::ENDS, routed.ends.join(" ").as_str());
        }
        let payload = Bytes::copy_from_slice(text.as_bytes());

        let mut owners: Vec<&str> = Vec::new();
        for key in &routed.keys {
            if let Some(owner) = self.owners.get(key)
                && !owners.contains(&owner.as_str())
            {
                owners.push(owner);
            }
        }
        let pending_channel = routed.keys.iter().find_map(|k| {
            k.strip_prefix("channel:")
                .filter(|id| self.pending.contains_key(*id))
                .map(str::to_owned)
        });
        tracing::debug!(kind = %routed.kind, keys = ?routed.keys, ?owners, pending = ?pending_channel, "event");
        let mut unrouted = true;
        if let Some(channel) = routed
            .start
            .as_ref()
            .filter(|_| owners.is_empty() && pending_channel.is_none())
        {
            // A new call: offered to one instance of its app; its events wait meanwhile.
            if let Some(app) = routed.app.clone() {
                self.pending
                    .insert(channel.clone(), Pending { events: Vec::new() });
                self.spawn_offer(channel.clone(), app, headers.clone(), payload.clone());
                unrouted = false;
            }
        } else if !owners.is_empty() {
            let owners: Vec<String> = owners.into_iter().map(str::to_owned).collect();
            for owner in owners {
                let subject = self.subjects.owned(&owner, &self.config.server);
                if let Err(e) = self
                    .nats
                    .publish_with_headers(subject, headers.clone(), payload.clone())
                    .await
                {
                    tracing::warn!(error = %e, "event not published");
                }
            }
            unrouted = false;
        } else if let Some(channel) = pending_channel {
            if let Some(p) = self.pending.get_mut(&channel)
                && p.events.len() < self.config.pending_limit
            {
                p.events.push((headers.clone(), payload.clone()));
            }
            unrouted = false;
        }
        if (unrouted || self.config.mirror)
            && let Some(app) = &routed.app
        {
            let subject = self.subjects.events(app, &self.config.server);
            let _ = self
                .nats
                .publish_with_headers(subject, headers, payload)
                .await;
        }
        for key in &routed.ends {
            self.forget(key);
        }
    }

    fn forget(&mut self, key: &str) {
        if let Some(owner) = self.owners.remove(key)
            && let Some(set) = self.by_owner.get_mut(&owner)
        {
            set.remove(key);
        }
    }

    fn own(&mut self, key: String, instance: &str) {
        self.last_seen
            .entry(instance.to_owned())
            .or_insert_with(Instant::now);
        self.by_owner
            .entry(instance.to_owned())
            .or_default()
            .insert(key.clone());
        self.owners.insert(key, instance.to_owned());
    }

    fn spawn_offer(&self, channel: String, app: String, mut headers: HeaderMap, payload: Bytes) {
        if let Some(release) = &self.release {
            headers.insert(header::RELEASE, release.as_str());
        }
        headers.insert(header::BOOT, self.announce.boot.as_str());
        let nats = self.nats.clone();
        let subject = self.subjects.calls(&app, &self.config.server);
        let tx = self.cmd_tx.clone();
        let timeout = self.config.offer_timeout;
        let budget = self.config.offer_budget;
        tokio::spawn(async move {
            let deadline = Instant::now() + budget;
            let mut delay = Duration::from_millis(50);
            let outcome = loop {
                let request = async_nats::Request::new()
                    .headers(headers.clone())
                    .payload(payload.clone())
                    .timeout(Some(timeout));
                match nats.send_request(subject.clone(), request).await {
                    Ok(reply) => match serde_json::from_slice::<Taken>(&reply.payload) {
                        Ok(t) => break OfferOutcome::Taken(t.instance),
                        Err(_) => break OfferOutcome::Unanswered,
                    },
                    Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                        if Instant::now() + delay > deadline {
                            break OfferOutcome::NoTaker;
                        }
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_millis(500));
                    }
                    Err(_) => break OfferOutcome::Unanswered,
                }
            };
            let _ = tx.send(Cmd::Offered { channel, outcome });
        });
    }

    async fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Offered { channel, outcome } => {
                let pending = self.pending.remove(&channel);
                match outcome {
                    OfferOutcome::Taken(instance) => {
                        self.own(format!("channel:{channel}"), &instance);
                        let subject = self.subjects.owned(&instance, &self.config.server);
                        let mut ended = Vec::new();
                        for (headers, payload) in pending.map(|p| p.events).unwrap_or_default() {
                            if let Some(ends) = headers.get(header::ENDS) {
                                ended.extend(ends.as_str().split(' ').map(str::to_owned));
                            }
                            let _ = self
                                .nats
                                .publish_with_headers(subject.clone(), headers, payload)
                                .await;
                        }
                        for key in ended {
                            self.forget(&key);
                        }
                    }
                    OfferOutcome::NoTaker | OfferOutcome::Unanswered => {
                        let why = match outcome {
                            OfferOutcome::NoTaker => "no instance of the app listens",
                            _ => "the instance offered it did not answer",
                        };
                        tracing::warn!(%channel, why, "call not taken; hanging it up");
                        self.hang_up(vec![format!("channel:{channel}")]);
                    }
                }
            }
            Cmd::Claim { claim, ack } => {
                let mut reply = ClaimReply::default();
                for key in claim.resources {
                    match self.owners.get(&key) {
                        Some(owner) if *owner != claim.instance => reply.refused.push(Refused {
                            resource: key,
                            owner: owner.clone(),
                        }),
                        _ => {
                            self.own(key.clone(), &claim.instance);
                            reply.claimed.push(key);
                        }
                    }
                }
                if let Some(ack) = ack {
                    let _ = ack.send(reply);
                }
            }
            Cmd::NatsUp => {
                let now = Instant::now();
                self.last_seen.values_mut().for_each(|t| *t = now);
                self.publish_announce(None).await;
            }
            Cmd::Alive(instance) => {
                self.last_seen.insert(instance, Instant::now());
            }
            Cmd::Discover(reply) => self.publish_announce(reply).await,
            Cmd::Prune { channels, bridges } => {
                let gone: Vec<String> = self
                    .owners
                    .keys()
                    .filter(|k| match k.split_once(':') {
                        Some(("channel", id)) => !channels.contains(id),
                        Some(("bridge", id)) => !bridges.contains(id),
                        _ => false,
                    })
                    .cloned()
                    .collect();
                for key in gone {
                    self.forget(&key);
                }
            }
            Cmd::Sweep(channels) => {
                let orphans: Vec<String> = channels
                    .into_iter()
                    .map(|id| format!("channel:{id}"))
                    .filter(|k| !self.owners.contains_key(k))
                    .filter(|k| !self.pending.contains_key(&k["channel:".len()..]))
                    .collect();
                if !orphans.is_empty() {
                    tracing::warn!(
                        count = orphans.len(),
                        "calls in the apps that no instance claimed after the proxy started; hanging them up"
                    );
                    self.hang_up(orphans);
                }
            }
        }
    }

    /// Owners not heard from within the timeout are dead: their calls are hung up.
    fn check_owners(&mut self) {
        let now = Instant::now();
        // Instances that own nothing are only remembered for a while (every instance's
        // heartbeat reaches every proxy).
        let forget_after = self.config.owner_timeout * 10;
        let by_owner = &self.by_owner;
        self.last_seen.retain(|i, t| {
            by_owner.get(i).is_some_and(|k| !k.is_empty()) || now.duration_since(*t) < forget_after
        });
        self.by_owner.retain(|_, keys| !keys.is_empty());
        let dead: Vec<String> = self
            .by_owner
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .filter(|(i, _)| {
                self.last_seen
                    .get(*i)
                    .is_none_or(|t| now.duration_since(*t) > self.config.owner_timeout)
            })
            .map(|(i, _)| i.clone())
            .collect();
        for instance in dead {
            let keys: Vec<String> = self
                .by_owner
                .remove(&instance)
                .map(|s| s.into_iter().collect())
                .unwrap_or_default();
            self.last_seen.remove(&instance);
            for k in &keys {
                self.owners.remove(k);
            }
            tracing::warn!(%instance, resources = keys.len(), "owner silent; hanging up its calls and destroying its bridges");
            self.hang_up(keys);
        }
    }

    /// Hangs up channels and destroys bridges, in the background.
    fn hang_up(&self, keys: Vec<String>) {
        let rest = self.rest.clone();
        tokio::spawn(async move {
            for key in keys {
                let path = match key.split_once(':') {
                    Some(("channel", id)) => format!("channels/{}", encode(id)),
                    Some(("bridge", id)) => format!("bridges/{}", encode(id)),
                    _ => continue,
                };
                match rest.exchange("DELETE", &path, "", None, None).await {
                    Ok((status, _, _)) if status < 300 || status == 404 => {}
                    Ok((status, _, _)) => tracing::warn!(%key, status, "cleanup refused"),
                    Err((_, e)) => tracing::warn!(%key, error = %e, "cleanup failed"),
                }
            }
        });
    }

    fn spawn_prune(&self) {
        let client = self.client.clone();
        let tx = self.cmd_tx.clone();
        tokio::spawn(async move {
            match client.snapshot().await {
                Ok(s) => {
                    let _ = tx.send(Cmd::Prune {
                        channels: s.channels.into_iter().map(|c| c.id).collect(),
                        bridges: s.bridges.into_iter().map(|b| b.id).collect(),
                    });
                }
                Err(e) => tracing::debug!(error = %e, "prune: cannot list"),
            }
        });
    }

    /// Lists the channels now in this proxy's apps (dialplan application `Stasis` with one of
    /// them as its first argument) for the orphan sweep.
    fn spawn_sweep(&self) {
        let client = self.client.clone();
        let tx = self.cmd_tx.clone();
        let apps = self.config.apps.clone();
        let started = self.started;
        tokio::spawn(async move {
            match client.channels().list().send().await {
                Ok(channels) => {
                    let ours = channels
                        .into_iter()
                        .filter(|c| {
                            c.dialplan.app_name.as_deref() == Some("Stasis")
                                && c.dialplan.app_data.as_deref().is_some_and(|d| {
                                    let app = d.split(',').next().unwrap_or("");
                                    apps.iter().any(|a| a == app)
                                })
                        })
                        .map(|c| c.id)
                        .collect();
                    let _ = tx.send(Cmd::Sweep(ours));
                }
                Err(e) => {
                    tracing::warn!(error = %e, after = ?started.elapsed(), "orphan sweep: cannot list channels")
                }
            }
        });
    }
}

fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// REST calls passed through to Asterisk as they are.
struct Rest {
    http: reqwest::Client,
    base: String,
    username: String,
    password: String,
    timeout: Duration,
}

impl Rest {
    fn new(client: &Client, config: &ProxyConfig) -> Result<Rest> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| FleetError::Config(format!("HTTP client: {e}")))?;
        Ok(Rest {
            http,
            base: client.base_url().as_str().trim_end_matches('/').to_owned(),
            username: client.username().to_owned(),
            password: config.password.clone(),
            timeout: config.request_timeout,
        })
    }

    /// One exchange: the status, media type and body as Asterisk sent them.
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<Bytes>,
        content_type: Option<&str>,
    ) -> std::result::Result<(u16, Option<String>, Bytes), (ProxyFailure, String)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| (ProxyFailure::BadRequest, format!("bad method {method:?}")))?;
        if path.contains("..") || path.starts_with('/') || path.contains(['?', '#']) {
            return Err((ProxyFailure::BadRequest, format!("bad path {path:?}")));
        }
        let mut url = format!("{}/{path}", self.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let mut req = self.http.request(method, url);
        if !self.username.is_empty() {
            req = req.basic_auth(&self.username, Some(&self.password));
        }
        if let Some(body) = body {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    content_type.unwrap_or("application/json"),
                )
                .body(body);
        }
        let classify = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                ProxyFailure::Timeout
            } else if e.is_connect() {
                ProxyFailure::ConnectionRefused
            } else {
                ProxyFailure::ConnectionReset
            };
            // reqwest's message names the URL, never the credentials (sent as a header).
            (kind, e.without_url().to_string())
        };
        let response = req.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(classify)?;
        Ok((status, content_type, body))
    }
}

/// Serves `P.rest.{server}`: each request in a task of its own.
async fn serve_rest(
    nats: async_nats::Client,
    mut sub: async_nats::Subscriber,
    rest: Arc<Rest>,
    cmds: mpsc::UnboundedSender<Cmd>,
) {
    while let Some(msg) = sub.next().await {
        let Some(reply) = msg.reply.clone() else {
            continue;
        };
        let nats = nats.clone();
        let rest = rest.clone();
        let cmds = cmds.clone();
        tokio::spawn(async move {
            let (headers, payload) = rest_call(&rest, &cmds, msg).await;
            if let Err(e) = nats.publish_with_headers(reply, headers, payload).await {
                tracing::debug!(error = %e, "REST reply not sent");
            }
        });
    }
}

async fn rest_call(
    rest: &Rest,
    cmds: &mpsc::UnboundedSender<Cmd>,
    msg: async_nats::Message,
) -> (HeaderMap, Bytes) {
    let get = |name: &str| {
        msg.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let failure = |kind: ProxyFailure, message: String| {
        let mut h = HeaderMap::new();
        h.insert(header::ERROR, kind.as_str());
        (h, Bytes::from(message))
    };
    let (Some(method), Some(path)) = (get(header::METHOD), get(header::PATH)) else {
        return failure(
            ProxyFailure::BadRequest,
            format!(
                "a REST request needs headers {} and {}",
                header::METHOD,
                header::PATH
            ),
        );
    };
    let query = get(header::QUERY).unwrap_or_default();
    let instance = get(header::INSTANCE).filter(|i| wire::check_token("instance", i).is_ok());
    // What the call creates under ids it names is owned by the caller before Asterisk can
    // send its first event.
    if let Some(instance) = &instance {
        let resources = wire::created_by_request(&method, &path, &query);
        if !resources.is_empty() {
            let (ack, acked) = oneshot::channel();
            let claim = Claim {
                instance: instance.clone(),
                resources,
            };
            if cmds
                .send(Cmd::Claim {
                    claim,
                    ack: Some(ack),
                })
                .is_ok()
            {
                let _ = acked.await;
            }
        }
    }
    let body = (!msg.payload.is_empty()).then(|| msg.payload.clone());
    let content_type = get(header::CONTENT_TYPE);
    match rest
        .exchange(&method, &path, &query, body, content_type.as_deref())
        .await
    {
        Ok((status, content_type, body)) => {
            // An id Asterisk chose is owned once known.
            if let (Some(instance), Some(kind), true) = (
                &instance,
                wire::created_kind(&method, &path),
                (200..300).contains(&status),
            ) && let Some(id) = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
            {
                let _ = cmds.send(Cmd::Claim {
                    claim: Claim {
                        instance: instance.clone(),
                        resources: vec![format!("{kind}:{id}")],
                    },
                    ack: None,
                });
            }
            let mut h = HeaderMap::new();
            h.insert(header::STATUS, status.to_string().as_str());
            if let Some(ct) = content_type {
                h.insert(header::CONTENT_TYPE, ct.as_str());
            }
            (h, body)
        }
        Err((kind, message)) => {
            tracing::debug!(timeout = ?rest.timeout, %message, "REST call got no answer");
            failure(kind, message)
        }
    }
}

/// Serves `P.claim.{server}`.
async fn serve_claims(
    nats: async_nats::Client,
    mut sub: async_nats::Subscriber,
    cmds: mpsc::UnboundedSender<Cmd>,
) {
    while let Some(msg) = sub.next().await {
        let Some(reply) = msg.reply.clone() else {
            continue;
        };
        let answer = match serde_json::from_slice::<Claim>(&msg.payload) {
            Ok(claim) if wire::check_token("instance", &claim.instance).is_ok() => {
                let (ack, acked) = oneshot::channel();
                if cmds
                    .send(Cmd::Claim {
                        claim,
                        ack: Some(ack),
                    })
                    .is_err()
                {
                    break;
                }
                acked
                    .await
                    .ok()
                    .and_then(|r| serde_json::to_vec(&r).ok())
                    .unwrap_or_default()
            }
            _ => br#"{"error":"a claim is {\"instance\": TOKEN, \"resources\": [KEY, ...]}"}"#
                .to_vec(),
        };
        let _ = nats.publish(reply, answer.into()).await;
    }
}
