//! Per-resource event routing: each channel's, bridge's, playback's or recording's events to the
//! task that owns it, as a stream of its own.
//!
//! A [`Router`] takes over an [`EventStream`] and passes every item on through its
//! [`RouterStream`]; in addition, each event goes to the [`ResourceEvents`] streams subscribed to
//! a resource it carries (found with [`Event::visit_resources`]). Routing runs in the events
//! connection's own task. With [`Router::with_unrouted_stream`] the main stream carries only the
//! events that no subscription took, and no event is ever copied. A resource's stream ends by
//! itself after the event that ends the resource's life in the application:
//!
//! | resource  | last event                                   |
//! |-----------|----------------------------------------------|
//! | channel   | `ChannelDestroyed`, or `StasisEnd` (below)   |
//! | bridge    | `BridgeDestroyed`                            |
//! | playback  | `PlaybackFinished`                           |
//! | recording | `RecordingFinished`, `RecordingFailed`       |
//!
//! (generated from the generator's table of resource kinds:
//! [`ResourceKind::ending_events`](crate::meta::ResourceKind::ending_events))
//! or when a resync after a reconnect finds the resource gone (its last event was lost). Dropping
//! a [`ResourceEvents`] removes its subscription at once: nothing accumulates.
//!
//! A channel's stream goes on after `StasisEnd` to its `ChannelDestroyed` (with the hangup
//! cause) wherever Asterisk is known to send that event to the application: for a [`Call`]
//! (the router subscribes the application to the call's channel when it enters, see
//! [`Router::follow_calls`]; Asterisk sends a channel that came from the dialplan nothing after
//! `StasisEnd` otherwise), and for a channel made with [`Router::new_channel`] (created into
//! the application, which Asterisk keeps subscribed). A channel that leaves the application
//! alive (`continue`, `move`) then carries its later events too, until it is destroyed, and a
//! channel that enters the application again ends that stream and starts a new [`Call`]. Other
//! channel subscriptions ([`Router::channel`], [`Router::subscribe`]) end at `StasisEnd`. (A
//! call dropped before its channel's end leaves Asterisk's subscription in place until the
//! channel is destroyed; the events it brings go to the [`RouterStream`].)
//!
//! An event that fails typed decoding ([`StreamItem::Undecoded`]) has no typed form to hand a
//! resource's stream: it always goes on the [`RouterStream`], in either mode, and if it is one
//! of the last events above, the subscriptions of the resource it names (read from its JSON)
//! end as they would have. [`StasisApp`] hands these items to
//! [`on_undecoded`](StasisApp::on_undecoded) (by default it logs them as warnings); a
//! `StasisStart` that does not decode starts no [`Call`] and arrives there.
//!
//! To miss no event of a resource the application creates, subscribe first, with an id made by
//! the client, then create it with that id: [`Router::new_channel`], [`Router::new_bridge`],
//! [`Router::new_playback`].

mod app;
pub mod broadcast;
mod flows;
mod resync;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::{CloseHandle, EventStream, StreamItem, UndecodedEvent};
use crate::generated::events::{Event, StasisStart};
use crate::generated::handles::{BridgeHandle, ChannelHandle, LiveRecordingHandle, PlaybackHandle};
use crate::meta::ResourceRef;

pub use app::{AppError, Call, HandlerError, HandlerOutcome, Registered, RunningApp, StasisApp};
pub use resync::Snapshot;

use crate::generated::resources::Ending;
pub use crate::generated::resources::ResourceKey;

// The routing table is keyed by `ResourceKey` and looked up with the `ResourceRef`s an event
// carries, without making owned keys per event: both hash as their `ResourceRef`, and the table
// borrows keys as `dyn AsResourceRef`.
impl Hash for ResourceKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state)
    }
}

/// Either form of a key, seen as a [`ResourceRef`].
trait AsResourceRef {
    fn resource_ref(&self) -> ResourceRef<'_>;
}

impl AsResourceRef for ResourceKey {
    fn resource_ref(&self) -> ResourceRef<'_> {
        self.as_ref()
    }
}

impl AsResourceRef for ResourceRef<'_> {
    fn resource_ref(&self) -> ResourceRef<'_> {
        *self
    }
}

impl<'a> Borrow<dyn AsResourceRef + 'a> for ResourceKey {
    fn borrow(&self) -> &(dyn AsResourceRef + 'a) {
        self
    }
}

impl Hash for dyn AsResourceRef + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.resource_ref().hash(state)
    }
}

impl PartialEq for dyn AsResourceRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.resource_ref() == other.resource_ref()
    }
}

impl Eq for dyn AsResourceRef + '_ {}

/// Takes out of `routes` the subscriptions of `key` that `how` ends; the channel subscriptions
/// that go on past `StasisEnd` stay, marked as left.
fn take_ended<Q>(
    routes: &mut HashMap<ResourceKey, Vec<Route>>,
    key: &Q,
    how: Ending,
) -> Option<Vec<Route>>
where
    ResourceKey: Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    match how {
        Ending::Gone => routes.remove(key),
        Ending::LeftApp => {
            let list = routes.get_mut(key)?;
            let (ended, stay): (Vec<Route>, Vec<Route>) = std::mem::take(list)
                .into_iter()
                .partition(|r| r.until == Until::StasisEnd);
            if stay.is_empty() {
                routes.remove(key);
            } else {
                *list = stay;
                list.iter_mut().for_each(|r| r.left = true);
            }
            Some(ended)
        }
    }
}

/// An id for a resource the client creates. UUIDs are all the same length, so no id is a prefix
/// of another (ARI matches some ids by prefix in places, e.g. snoop and local channels' `;2`).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

struct Route {
    id: u64,
    /// Resync generation when subscribed: a resync only ends routes older than its reconnect.
    generation: u64,
    tx: mpsc::UnboundedSender<Event>,
    /// When a channel's subscription ends (for other resources: at their last event anyway).
    until: Until,
    /// The channel left the application (`StasisEnd`); the subscription waits for its end.
    left: bool,
}

/// Where a channel subscription ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Until {
    /// At `StasisEnd` (or `ChannelDestroyed`): nothing is known to follow `StasisEnd`.
    StasisEnd,
    /// At `ChannelDestroyed`: the application stays subscribed to the channel.
    Destroyed,
    /// The application is being subscribed to the channel: `Destroyed` once that succeeds,
    /// `StasisEnd` if it fails.
    Subscribing,
}

/// State shared by the router task, the router handles and the subscriptions.
struct Shared {
    routes: Mutex<HashMap<ResourceKey, Vec<Route>>>,
    next_route: AtomicU64,
    generation: AtomicU64,
    incoming: Mutex<Option<mpsc::UnboundedSender<NewCall>>>,
    /// Whether a new call's channel is subscribed to, so that its stream goes on to
    /// `ChannelDestroyed`.
    follow_calls: std::sync::atomic::AtomicBool,
    /// New calls' channels waiting to be subscribed to (see [`Shared::follow`]).
    follow_queue: Mutex<FollowQueue>,
}

/// Subscriptions of new calls' channels not yet sent, and whether a task is sending them.
#[derive(Default)]
struct FollowQueue {
    pending: Vec<Follow>,
    sending: bool,
}

/// One call's channel to subscribe application `app` to, and the route that waits for it.
struct Follow {
    key: ResourceKey,
    route: u64,
    app: String,
    id: String,
    /// The call to hand to the application once the subscription is answered.
    call: Option<(NewCall, mpsc::UnboundedSender<NewCall>)>,
}

/// How many bytes of channel ids go into one subscription request: Asterisk reads a request
/// line of at most 4096 bytes (`MAX_HTTP_LINE_LENGTH` in main/http.c).
const FOLLOW_BATCH_BYTES: usize = 2048;

/// A call as the router task makes it; [`Incoming`] adds the router handle.
struct NewCall {
    start: Box<StasisStart>,
    channel: ChannelHandle,
    events: ResourceEvents,
}

impl Shared {
    /// Locks the routing table. A panic elsewhere while holding the lock leaves the table
    /// consistent (every operation on it is a single insert or removal), so poisoning is ignored.
    fn routes(&self) -> MutexGuard<'_, HashMap<ResourceKey, Vec<Route>>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(self: &Arc<Self>, key: ResourceKey) -> ResourceEvents {
        self.subscribe_until(key, Until::StasisEnd)
    }

    fn subscribe_until(self: &Arc<Self>, key: ResourceKey, until: Until) -> ResourceEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_route.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation.load(Ordering::Acquire);
        self.routes().entry(key.clone()).or_default().push(Route {
            id,
            generation,
            tx,
            until,
            left: false,
        });
        ResourceEvents {
            rx,
            guard: RouteGuard {
                shared: self.clone(),
                key,
                id,
            },
        }
    }

    /// The outcome of subscribing the application to a call's channel: the call's stream then
    /// ends at `ChannelDestroyed`, or (on failure) at `StasisEnd`, at once if that has passed.
    fn subscribed(&self, key: &ResourceKey, id: u64, ok: bool) {
        let mut routes = self.routes();
        let Some(list) = routes.get_mut(key) else {
            return;
        };
        let Some(i) = list.iter().position(|r| r.id == id) else {
            return;
        };
        if ok {
            list[i].until = Until::Destroyed;
        } else if list[i].left {
            let ended = list.remove(i);
            if list.is_empty() {
                routes.remove(key);
            }
            drop(routes);
            drop(ended);
        } else {
            list[i].until = Until::StasisEnd;
        }
    }

    fn unsubscribe(&self, key: &ResourceKey, id: u64) {
        let mut routes = self.routes();
        if let Some(list) = routes.get_mut(key) {
            list.retain(|r| r.id != id);
            if list.is_empty() {
                routes.remove(key);
            }
        }
    }

    /// Sends an event to every subscription of every resource it carries, ending the
    /// subscriptions of a resource whose life it ends; a `StasisStart` for an unowned channel
    /// becomes a [`Call`] when calls are being taken. The event is given back when `keep` is set
    /// or when no subscription took it; otherwise the last subscription gets it without a copy.
    fn dispatch(self: &Arc<Self>, client: &Client, event: Event, keep: bool) -> Option<Event> {
        let mut keys: Vec<ResourceRef<'_>> = Vec::with_capacity(4);
        event.visit_resources(|r| {
            if !keys.contains(&r) {
                keys.push(r);
            }
        });
        let ending = event.ending();

        // A new call is subscribed before this event's dispatch, so it misses nothing after its
        // StasisStart. The Call is sent after the lock is released: a dropped receiver drops
        // the Call, whose subscription then takes the lock itself.
        let mut call = None;
        let mut follow_call: Option<(ResourceKey, u64, String, String)> = None;
        if let Event::StasisStart(start) = &event {
            let has_taker = self
                .incoming
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_some_and(|tx| !tx.is_closed());
            let key = ResourceRef::Channel(&start.channel.id);
            // A channel that entered again after leaving: the streams that waited for its end
            // end now, and it is a new call.
            let owned = has_taker && {
                let mut routes = self.routes();
                let left = match routes.get(&key as &dyn AsResourceRef) {
                    None => false,
                    Some(list) => list.iter().all(|r| r.left),
                };
                let ended = left
                    .then(|| routes.remove(&key as &dyn AsResourceRef))
                    .flatten();
                let owned = routes.contains_key(&key as &dyn AsResourceRef);
                drop(routes);
                drop(ended);
                owned
            };
            if has_taker && !owned {
                let id = start.channel.id.clone();
                let follow = self.follow_calls.load(Ordering::Relaxed);
                let until = if follow {
                    Until::Subscribing
                } else {
                    Until::StasisEnd
                };
                let key = ResourceKey::Channel(id.clone());
                let events = self.subscribe_until(key.clone(), until);
                if follow {
                    follow_call =
                        Some((key, events.guard.id, start.application.clone(), id.clone()));
                }
                call = Some((events, ChannelHandle::new(client.clone(), id)));
            }
        }
        // The call's own StasisStart travels in the Call, not on its stream.
        let skip = call.as_ref().map(|(events, _)| events.guard.id);

        let mut event = {
            let mut routes = self.routes();
            // An ending resource's routes leave the table now and end (their senders dropped)
            // once this event has been sent to them.
            let ended = ending.and_then(|(key, how)| {
                keys.contains(&key)
                    .then(|| take_ended(&mut routes, &key as &dyn AsResourceRef, how))
                    .flatten()
            });
            let mut targets: Vec<&Route> = Vec::new();
            for key in &keys {
                if let Some(list) = routes.get(key as &dyn AsResourceRef) {
                    targets.extend(list.iter().filter(|r| Some(r.id) != skip));
                }
            }
            targets.extend(ended.iter().flatten().filter(|r| Some(r.id) != skip));
            // The keys borrowed from the event are done with: it can move now.
            let mut event = Some(event);
            // A new Call is the last taker when there is one.
            let hold = keep || call.is_some();
            let last = targets.len().checked_sub(usize::from(!hold));
            for (i, route) in targets.iter().enumerate() {
                let copy = if Some(i) == last {
                    event.take()
                } else {
                    event.clone()
                };
                // A failed send is a subscription being dropped: its guard removes it.
                if let Some(copy) = copy {
                    let _ = route.tx.send(copy);
                }
            }
            event
        };

        if let Some((events, channel)) = call {
            let start = if keep {
                match &event {
                    Some(Event::StasisStart(start)) => Some(start.clone()),
                    _ => None,
                }
            } else {
                match event.take() {
                    Some(Event::StasisStart(start)) => Some(start),
                    other => {
                        event = other;
                        None
                    }
                }
            };
            let tx = self
                .incoming
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let handed = match (tx, start) {
                (Some(tx), Some(start)) => Some((
                    NewCall {
                        start,
                        channel,
                        events,
                    },
                    tx,
                )),
                _ => None,
            };
            match (follow_call, handed) {
                // A followed call reaches the application once its channel's subscription is
                // answered: a handler that hangs up at once still sees `ChannelDestroyed`.
                (Some((key, route, app, id)), handed) => {
                    self.follow(client, key, route, app, id, handed);
                }
                // On failure the Call (and its subscription) is dropped here, outside the lock.
                (None, Some((call, tx))) => {
                    let _ = tx.send(call);
                }
                (None, None) => {}
            }
        }
        event
    }

    /// Ends the subscriptions of the resource whose life an undecoded event ends, found in its
    /// JSON (`channel.id` of a `StasisEnd`, ...).
    fn end_undecoded(&self, undecoded: &UndecodedEvent) {
        let Some((key, how)) = ResourceKey::ended_by_json(undecoded.kind(), &undecoded.json())
        else {
            return;
        };
        // Dropped outside the lock: the receivers' owners may take it as they see the end.
        let ended = take_ended(&mut self.routes(), &key, how);
        if ended.as_ref().is_some_and(|e| !e.is_empty()) {
            tracing::debug!(%key, kind = undecoded.kind(), "subscriptions ended by an undecoded event");
        }
        drop(ended);
    }

    /// Subscribes application `app` to a new call's channel, so that Asterisk sends it the
    /// channel's events past `StasisEnd` (a channel from the dialplan gets none otherwise), and
    /// records the outcome on the call's subscription `route`.
    ///
    /// One task sends the subscriptions, one request at a time, each for every call that
    /// arrived meanwhile (`eventSource` takes a list): under load that is one request per
    /// batch of calls, not one per call in flight, which spares Asterisk's HTTP threads and
    /// the client's pooled connections.
    fn follow(
        self: &Arc<Self>,
        client: &Client,
        key: ResourceKey,
        route: u64,
        app: String,
        id: String,
        call: Option<(NewCall, mpsc::UnboundedSender<NewCall>)>,
    ) {
        let mut queue = self.follow_queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.pending.push(Follow {
            key,
            route,
            app,
            id,
            call,
        });
        if queue.sending {
            return;
        }
        queue.sending = true;
        drop(queue);
        let shared = Arc::downgrade(self);
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                let Some(me) = shared.upgrade() else { return };
                let batch = me.next_follow_batch();
                drop(me);
                if batch.is_empty() {
                    return;
                }
                let result = subscribe_channels(&client, &batch).await;
                // One channel that ended before its subscription fails the whole request
                // (422): then each is tried alone, so the others are still followed.
                let results = match result {
                    Ok(()) => vec![true; batch.len()],
                    Err(_) if batch.len() > 1 => {
                        let mut each = Vec::with_capacity(batch.len());
                        for f in &batch {
                            each.push(
                                subscribe_channels(&client, std::slice::from_ref(f))
                                    .await
                                    .is_ok(),
                            );
                        }
                        each
                    }
                    Err(e) => {
                        tracing::debug!(key = %batch[0].key, error = %e, "cannot subscribe to the call's channel; its stream ends at StasisEnd");
                        vec![false]
                    }
                };
                let Some(me) = shared.upgrade() else { return };
                for (mut f, ok) in batch.into_iter().zip(results) {
                    me.subscribed(&f.key, f.route, ok);
                    if let Some((call, tx)) = f.call.take() {
                        let _ = tx.send(call);
                    }
                }
            }
        });
    }

    /// Takes the next subscriptions to send: the oldest waiting call's application, and as
    /// many of its calls as fit in one request. Empty (and the sender marked stopped) when
    /// nothing waits.
    fn next_follow_batch(&self) -> Vec<Follow> {
        let mut queue = self.follow_queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(app) = queue.pending.first().map(|f| f.app.clone()) else {
            queue.sending = false;
            return Vec::new();
        };
        let mut bytes = 0;
        let mut batch = Vec::new();
        let mut rest = Vec::with_capacity(queue.pending.len());
        for f in queue.pending.drain(..) {
            let cost = f.id.len() + "channel:,".len();
            if f.app == app && (batch.is_empty() || bytes + cost <= FOLLOW_BATCH_BYTES) {
                bytes += cost;
                batch.push(f);
            } else {
                rest.push(f);
            }
        }
        queue.pending = rest;
        batch
    }

    /// Ends every subscription: the events connection is gone for good.
    fn close_all(&self) {
        self.routes().clear();
        *self.incoming.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Subscribes the application of `batch` (all of one application) to their channels, in one
/// request. Sent as a plain request whose answer is not decoded: Asterisk answers with the
/// application, listing every channel it is subscribed to, which grows with the calls in
/// progress.
async fn subscribe_channels(client: &Client, batch: &[Follow]) -> Result<()> {
    let mut sources = String::new();
    for f in batch {
        if !sources.is_empty() {
            sources.push(',');
        }
        sources.push_str("channel:");
        sources.push_str(&f.id);
    }
    let mut request = crate::Request::new(crate::ops::applications::Subscribe::INFO);
    request
        .path_param("applicationName", batch[0].app.as_str())
        .query("eventSource", sources);
    client.send_unit(request).await
}

/// Closes the events connection when the last [`Router`] and the [`RouterStream`] are dropped.
struct KeepAlive {
    close: CloseHandle,
    /// Held so that the connection does not stop for want of a reader: its items go to the
    /// router directly.
    _events: EventStream,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.close.close();
    }
}

/// Routes events to per-resource streams. Cheap to clone.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
    client: Client,
    close: CloseHandle,
    _keep: Arc<KeepAlive>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("subscribed_resources", &self.shared.routes().len())
            .finish_non_exhaustive()
    }
}

/// Every item of the underlying [`EventStream`], passed on after routing.
///
/// Poll it or drop it: items queue here unboundedly while it is held and not polled.
pub struct RouterStream {
    rx: mpsc::UnboundedReceiver<StreamItem>,
    _keep: Arc<KeepAlive>,
}

impl fmt::Debug for RouterStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterStream").finish_non_exhaustive()
    }
}

impl Stream for RouterStream {
    type Item = StreamItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        self.rx.poll_recv(cx)
    }
}

impl Router {
    /// Takes over `events` and starts routing in a background task (needs a tokio runtime).
    ///
    /// After a [`StreamItem::Reconnected`], the router re-lists channels and bridges (and looks
    /// up subscribed playbacks and recordings) and ends the subscriptions of resources that
    /// are gone; the item is still passed on so the application can resync its own state.
    ///
    /// When `events` carries REST ([`EventsBuilder::rest_over_websocket`]), the handles the
    /// router makes (and its resync) call over that socket rather than through `client`.
    ///
    /// [`EventsBuilder::rest_over_websocket`]: crate::events::EventsBuilder::rest_over_websocket
    pub fn new(client: &Client, events: EventStream) -> Result<(Router, RouterStream)> {
        Router::start(client, events, true)
    }

    /// Like [`new`](Self::new), but the [`RouterStream`] carries only the events that no
    /// subscription and no new [`Call`] took, besides every `Reconnected`, `Undecoded` and
    /// `Error` item. No
    /// event is then ever copied: use this when the per-resource streams are where events are
    /// handled and the main stream is for what falls through. [`StasisApp`] works this way.
    pub fn with_unrouted_stream(
        client: &Client,
        events: EventStream,
    ) -> Result<(Router, RouterStream)> {
        Router::start(client, events, false)
    }

    fn start(
        client: &Client,
        mut events: EventStream,
        every_event: bool,
    ) -> Result<(Router, RouterStream)> {
        // Resyncs are spawned from the connection's task; checked here for a clear error.
        tokio::runtime::Handle::try_current()
            .map_err(|_| Error::config("the router needs a tokio runtime"))?;
        // A stream that carries REST (`rest_over_websocket`) gives handles that call over it.
        let own = events.rest_client();
        let client = own.as_ref().unwrap_or(client);
        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            next_route: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            incoming: Mutex::new(None),
            follow_calls: std::sync::atomic::AtomicBool::new(true),
            follow_queue: Mutex::new(FollowQueue::default()),
        });
        let close = events.close_handle();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut pump = Pump {
            shared: shared.clone(),
            tx,
            client: client.clone(),
            every_event,
        };
        // Events are routed in the connection's own task: one hand-off between tasks fewer per
        // event than reading the stream from a task of the router's.
        events.divert(move |item| pump.item(item));
        let keep = Arc::new(KeepAlive {
            close: close.clone(),
            _events: events,
        });
        Ok((
            Router {
                shared,
                client: client.clone(),
                close,
                _keep: keep.clone(),
            },
            RouterStream { rx, _keep: keep },
        ))
    }

    /// The client the router makes handles with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Events of one resource, until its life in the application ends.
    pub fn subscribe(&self, key: ResourceKey) -> ResourceEvents {
        self.shared.subscribe(key)
    }

    /// A new channel id, already subscribed: create the channel with it into the application
    /// (`handle.originate_with_id(..).app(..)`, or `channels().create(.., app).channel_id(handle.id())`).
    /// Asterisk keeps the application subscribed to a channel created into it, so the stream
    /// goes on past `StasisEnd` to `ChannelDestroyed`.
    pub fn new_channel(&self) -> Prepared<ChannelHandle> {
        let id = new_id();
        Prepared {
            events: self
                .shared
                .subscribe_until(ResourceKey::Channel(id.clone()), Until::Destroyed),
            handle: ChannelHandle::new(self.client.clone(), id),
        }
    }

    /// A new bridge id, already subscribed: create the bridge with `handle.create_with_id()`.
    pub fn new_bridge(&self) -> Prepared<BridgeHandle> {
        let id = new_id();
        Prepared {
            events: self.subscribe(ResourceKey::Bridge(id.clone())),
            handle: BridgeHandle::new(self.client.clone(), id),
        }
    }

    /// A new playback id, already subscribed: start it with `play_with_id(handle.id(), ..)` on
    /// a channel or bridge.
    pub fn new_playback(&self) -> Prepared<PlaybackHandle> {
        let id = new_id();
        Prepared {
            events: self.subscribe(ResourceKey::Playback(id.clone())),
            handle: PlaybackHandle::new(self.client.clone(), id),
        }
    }

    /// Subscribes to a live recording by the name you will record it under.
    pub fn recording(&self, name: impl Into<String>) -> Prepared<LiveRecordingHandle> {
        let name = name.into();
        Prepared {
            events: self.subscribe(ResourceKey::Recording(name.clone())),
            handle: LiveRecordingHandle::new(self.client.clone(), name),
        }
    }

    /// Subscribes to an existing channel.
    pub fn channel(&self, id: impl Into<String>) -> Prepared<ChannelHandle> {
        let id = id.into();
        Prepared {
            events: self.subscribe(ResourceKey::Channel(id.clone())),
            handle: ChannelHandle::new(self.client.clone(), id),
        }
    }

    /// Subscribes to an existing bridge.
    pub fn bridge(&self, id: impl Into<String>) -> Prepared<BridgeHandle> {
        let id = id.into();
        Prepared {
            events: self.subscribe(ResourceKey::Bridge(id.clone())),
            handle: BridgeHandle::new(self.client.clone(), id),
        }
    }

    /// Channels entering the application (`StasisStart`) that no subscription owns yet, each as
    /// a [`Call`] whose event stream is subscribed before any later event is routed, and which
    /// goes on to the channel's `ChannelDestroyed` ([`follow_calls`](Self::follow_calls)).
    /// Calling it again replaces the previous stream, which then ends.
    pub fn incoming(&self) -> Incoming {
        let (tx, rx) = mpsc::unbounded_channel();
        *self
            .shared
            .incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(tx);
        Incoming {
            rx,
            router: self.clone(),
        }
    }

    /// Whether the channel of each new [`Call`] is followed to its `ChannelDestroyed` (on by
    /// default): the router subscribes the application to the channel when it enters
    /// (`POST /applications/{app}/subscription`; one request at a time, for every call that
    /// entered meanwhile), so that the call's stream carries the channel's events past
    /// `StasisEnd`, up to `ChannelDestroyed` and its hangup cause. The [`Call`] reaches
    /// [`Router::incoming`] (and a `StasisApp`'s handler) once that request is answered, so a
    /// handler that hangs up at once still sees `ChannelDestroyed`; its events meanwhile are
    /// kept for it. Off, a call's stream ends at `StasisEnd` (a
    /// channel that came from the dialplan gets nothing after it) and no request is sent. If
    /// the subscription fails (the channel was already gone, a read-only user), that call's
    /// stream ends at `StasisEnd`.
    pub fn follow_calls(&self, enabled: bool) {
        self.shared.follow_calls.store(enabled, Ordering::Relaxed);
    }

    /// Closes the events connection; every stream then ends.
    pub fn close(&self) {
        self.close.close();
    }

    /// How many resources have at least one subscription (for diagnostics and tests).
    pub fn subscribed_resources(&self) -> usize {
        self.shared.routes().len()
    }
}

/// Routes each item in the events connection's task and passes it on to the [`RouterStream`].
/// Dropped when that task ends, which ends every subscription.
struct Pump {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<StreamItem>,
    client: Client,
    /// Whether the stream carries every event, or only those nobody else took.
    every_event: bool,
}

impl Pump {
    fn item(&mut self, item: StreamItem) {
        // Unless the stream wants every event and is still held, the event is moved to its
        // last taker instead of copied, and comes back only if nobody took it.
        let keep = self.every_event && !self.tx.is_closed();
        let item = match item {
            StreamItem::Event(event) => match self.shared.dispatch(&self.client, event, keep) {
                Some(event) => StreamItem::Event(event),
                None => return,
            },
            reconnected @ StreamItem::Reconnected { .. } => {
                let generation = self.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
                let prune = resync::prune(self.shared.clone(), self.client.clone(), generation);
                tokio::spawn(prune);
                reconnected
            }
            StreamItem::Undecoded(undecoded) => {
                // It has no typed form to route, but the end of a resource's life must not be
                // lost with it: its subscriptions end as they would have.
                self.shared.end_undecoded(&undecoded);
                StreamItem::Undecoded(undecoded)
            }
            error @ StreamItem::Error(_) => error,
        };
        // The application may have dropped the stream and kept only subscriptions.
        let _ = self.tx.send(item);
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.shared.close_all();
    }
}

/// A resource's handle and its event stream, subscribed before the resource exists.
#[derive(Debug)]
pub struct Prepared<H> {
    /// The handle, with the id the resource must be created with.
    pub handle: H,
    /// The resource's events, from its creation on.
    pub events: ResourceEvents,
}

/// The events of one resource. Ends after the event that ends the resource's life in the
/// application, after a resync finds it gone, or when the events connection closes for good.
/// Dropping it unsubscribes.
pub struct ResourceEvents {
    rx: mpsc::UnboundedReceiver<Event>,
    guard: RouteGuard,
}

struct RouteGuard {
    shared: Arc<Shared>,
    key: ResourceKey,
    id: u64,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.shared.unsubscribe(&self.key, self.id);
    }
}

impl fmt::Debug for ResourceEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceEvents")
            .field("key", &self.guard.key)
            .finish_non_exhaustive()
    }
}

impl ResourceEvents {
    /// The resource these events concern.
    pub fn key(&self) -> &ResourceKey {
        &self.guard.key
    }
}

impl Stream for ResourceEvents {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

/// Channels entering the application; see [`Router::incoming`].
pub struct Incoming {
    rx: mpsc::UnboundedReceiver<NewCall>,
    router: Router,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming").finish_non_exhaustive()
    }
}

impl Stream for Incoming {
    type Item = Call;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Call>> {
        let router = self.router.clone();
        self.rx.poll_recv(cx).map(|c| {
            c.map(|call| Call {
                start: call.start,
                channel: call.channel,
                events: call.events,
                router,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ResourceKind;

    /// The generated keys read as they always have, and round-trip through their borrowed form.
    #[test]
    fn keys_display_and_round_trip() {
        let endpoint = ResourceKey::Endpoint {
            technology: "PJSIP".to_owned(),
            resource: "alice".to_owned(),
        };
        assert_eq!(endpoint.to_string(), "endpoint:PJSIP/alice");
        assert_eq!(endpoint.kind(), ResourceKind::Endpoint);
        assert_eq!(ResourceKey::from(endpoint.as_ref()), endpoint);
        let device = ResourceKey::DeviceState("Custom:x".to_owned());
        assert_eq!(device.to_string(), "deviceState:Custom:x");
        assert_eq!(ResourceKey::from(device.as_ref()), device);
        assert_eq!(
            ResourceKey::Recording("r".to_owned()).to_string(),
            "recording:r"
        );
    }

    /// The events that end a resource, typed and from an undecoded event's JSON, agree.
    #[test]
    fn endings_typed_and_from_json() {
        let json = serde_json::json!({
            "type": "StasisEnd",
            "application": "a",
            "timestamp": "2020-01-01T00:00:00.000+0000",
            "channel": {"id": "c1", "name": "n", "state": "Up", "accountcode": "",
                        "caller": {"name": "", "number": ""}, "connected": {"name": "", "number": ""},
                        "dialplan": {"context": "x", "exten": "s", "priority": 1},
                        "creationtime": "2020-01-01T00:00:00.000+0000", "language": "en"}
        });
        let event: Event = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            event.ending(),
            Some((ResourceRef::Channel("c1"), Ending::LeftApp))
        );
        assert_eq!(
            ResourceKey::ended_by_json("StasisEnd", &json),
            Some((ResourceKey::Channel("c1".to_owned()), Ending::LeftApp))
        );
        let finished = serde_json::json!({"recording": {"name": "r1"}});
        assert_eq!(
            ResourceKey::ended_by_json("RecordingFailed", &finished),
            Some((ResourceKey::Recording("r1".to_owned()), Ending::Gone))
        );
        assert_eq!(
            ResourceKey::ended_by_json("ChannelDestroyed", &finished),
            None
        );
        assert_eq!(
            ResourceKey::ended_by_json("ChannelHangupRequest", &json),
            None
        );
        for kind in ResourceKind::ALL {
            for (event, _) in kind.ending_events() {
                assert!(
                    ResourceKey::ended_by_json(event.as_str(), &serde_json::json!({})).is_none()
                );
            }
        }
    }
}
