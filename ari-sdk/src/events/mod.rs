//! The events connection: ARI's WebSocket at `/ari/events`, as a [`Stream`] that survives
//! server restarts.
//!
//! ```no_run
//! # async fn demo(client: ari_sdk::Client) -> ari_sdk::Result<()> {
//! use futures::StreamExt;
//! use ari_sdk::events::StreamItem;
//!
//! let mut events = client.event_stream().app("my-app").connect().await?;
//! while let Some(item) = events.next().await {
//!     match item {
//!         StreamItem::Event(event) => { /* handle */ }
//!         StreamItem::Reconnected { .. } => { /* events may have been missed: resync */ }
//!         StreamItem::Undecoded(u) => {
//!             // An event this SDK could not type (a server that leaves out a field the spec
//!             // requires, or changed a type): its kind and JSON are still here.
//!             tracing::warn!(kind = u.kind(), error = %u.error(), raw = u.raw(), "undecoded event");
//!         }
//!         StreamItem::Error(e) => tracing::warn!(error = %e, "events"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! A background task owns the socket and runs an explicit state machine
//! ([`ConnectionState`]): `Connecting` → `Connected` → (socket lost) → `Backoff` → `Connecting` →
//! ... → `Closed`. A lost connection or a failed attempt is an [`StreamItem::Error`] item, never
//! the end of the stream; after a reconnect a [`StreamItem::Reconnected`] item says that events
//! may have been missed (ARI cannot resume), so the application can re-list what it tracks. The
//! stream ends only when closed ([`EventStream::close`]), when the credentials are rejected (a
//! reconnect would be rejected too), or after the configured number of failed attempts.
//!
//! # Nothing is lost in decoding
//!
//! Every text frame becomes exactly one item. A frame that decodes is a [`StreamItem::Event`];
//! an event type the bindings do not know is still one (`Event::Unknown`, with its JSON). A frame
//! that is a JSON object with a `type` but does not fit that type's struct (a field the spec
//! requires is missing, a value has another type than the spec says) is a
//! [`StreamItem::Undecoded`] carrying its type, its exact text and the decode error (with the
//! JSON path of the failure); the stream goes on. Only a frame that is not such an object at all
//! (not JSON, no `type`) is a [`StreamItem::Error`] of kind [`Decode`](crate::ErrorKind::Decode).
//!
//! Which fields can be missing: the generator makes a model's field `Option` unless every ARI
//! revision the bindings cover marks it required, so a field that only some releases send or
//! require never fails decoding. A field that every revision requires is a plain value, and the
//! SDK does not invent a default for it: a server that leaves it out gives an `Undecoded` item.
//! Checked against the captured traffic of both test servers (`tests/fixtures/events-*.jsonl`,
//! Asterisk 16.28.0 and 22.10.1): every frame decodes to its typed variant (the `fixtures` test
//! of the `ari-tests` crate), and no frame lacks a property that its own server's spec marks
//! required, nor has one the spec does not know (`bench/scripts/required-fields.py`).

mod driver;
mod feed;
pub(crate) mod rest;

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot, watch};

use crate::client::Client;
use crate::error::{Error, Result};

pub use driver::ConnectionState;
pub use feed::EventFeed;

/// The default event type: the generated ARI event enum.
pub type DefaultEvent = crate::Event;

/// One item of an [`EventStream`].
#[derive(Debug)]
pub enum StreamItem<E = DefaultEvent> {
    /// An event from Asterisk.
    Event(E),
    /// The connection was lost and is back. Events sent while it was down are lost: resync the
    /// state you track (list channels and bridges).
    Reconnected {
        /// Connection attempts it took, counting the one that succeeded.
        attempt: u32,
        /// Time from losing the connection to having it back.
        downtime: Duration,
    },
    /// An event that arrived whole (a JSON object with a `type`) but does not fit its type's
    /// typed form: a field the spec requires is missing, or a value has another type. The
    /// stream goes on.
    Undecoded(UndecodedEvent),
    /// Something went wrong; the stream goes on unless it then ends. A frame that is not an
    /// event at all (not JSON, no `type`), a lost connection, a failed connection attempt.
    Error(Error),
}

/// An event that failed typed decoding, with everything needed to handle it by hand.
pub struct UndecodedEvent {
    inner: Box<Undecoded>,
}

struct Undecoded {
    kind: String,
    application: Option<String>,
    raw: String,
    error: Error,
}

impl UndecodedEvent {
    /// The event's `type`, e.g. `StasisStart`.
    pub fn kind(&self) -> &str {
        &self.inner.kind
    }

    /// The event's `application`, when it names one.
    pub fn application(&self) -> Option<&str> {
        self.inner.application.as_deref()
    }

    /// The frame's text exactly as the server sent it.
    pub fn raw(&self) -> &str {
        &self.inner.raw
    }

    /// The frame as a JSON value.
    pub fn json(&self) -> serde_json::Value {
        // The text was parsed as an object once already; it cannot fail now.
        serde_json::from_str(&self.inner.raw).unwrap_or(serde_json::Value::Null)
    }

    /// Why typed decoding failed: a [`Decode`](crate::ErrorKind::Decode) error with the JSON
    /// path of the failure ([`Error::json_path`]) and an excerpt.
    pub fn error(&self) -> &Error {
        &self.inner.error
    }

    /// The decode error, taking it out.
    pub fn into_error(self) -> Error {
        self.inner.error
    }

    /// Tries the typed decoding again, as another type (for example a struct of your own with
    /// only the fields you need).
    pub fn decode_as<T: DeserializeOwned>(&self) -> Result<T> {
        crate::decode::decode_json_str(&self.inner.raw)
    }

    /// Recognises a frame that is an event (an object with a string `type`) among those that
    /// failed decoding.
    fn from_failure(text: &str, error: Error) -> std::result::Result<UndecodedEvent, Error> {
        #[derive(serde::Deserialize)]
        struct Head {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            application: Option<serde_json::Value>,
        }
        match serde_json::from_str::<Head>(text) {
            Ok(head) => Ok(UndecodedEvent {
                inner: Box::new(Undecoded {
                    kind: head.kind,
                    application: head.application.and_then(|a| a.as_str().map(str::to_owned)),
                    raw: text.to_owned(),
                    error,
                }),
            }),
            Err(_) => Err(error),
        }
    }
}

impl fmt::Debug for UndecodedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UndecodedEvent")
            .field("kind", &self.inner.kind)
            .field("error", &format_args!("{}", self.inner.error))
            .field("raw_bytes", &self.inner.raw.len())
            .finish()
    }
}

impl fmt::Display for UndecodedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "undecoded {} event: {}",
            self.inner.kind, self.inner.error
        )
    }
}

/// How long to wait between connection attempts.
///
/// The delay before the n-th consecutive failed attempt is `initial * multiplier^(n-1)`, capped
/// at `max`, minus a random part of up to `jitter` of it, so that many clients restarted together
/// do not reconnect in lockstep.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
    max_attempts: Option<u32>,
    stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.3,
            max_attempts: None,
            stable_after: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// Delay after the first failure (default 500 ms).
    pub fn initial(mut self, delay: Duration) -> Self {
        self.initial = delay;
        self
    }

    /// Longest delay (default 30 s).
    pub fn max(mut self, delay: Duration) -> Self {
        self.max = delay;
        self
    }

    /// Growth factor per consecutive failure (default 2; values below 1 count as 1).
    pub fn multiplier(mut self, factor: f64) -> Self {
        self.multiplier = factor;
        self
    }

    /// Largest fraction of a delay removed at random (default 0.3; clamped to 0..=1).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Give up after this many consecutive failed attempts (default: never).
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// A connection that lasted this long resets the failure count, so that the next loss is
    /// retried at once (default 10 s). A shorter-lived one counts as a failure, so a server that
    /// accepts and drops at once does not get a reconnect storm.
    pub fn stable_after(mut self, duration: Duration) -> Self {
        self.stable_after = duration;
        self
    }

    /// The delay before the attempt that follows `failures` consecutive failures.
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = self
            .multiplier
            .max(1.0)
            .powi(failures.saturating_sub(1).min(64) as i32);
        let base = self.initial.as_secs_f64() * factor;
        let capped = base.min(self.max.as_secs_f64()).max(0.0);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let cut = if jitter > 0.0 {
            capped * jitter * rand::random::<f64>()
        } else {
            0.0
        };
        Duration::try_from_secs_f64(capped - cut).unwrap_or(self.max)
    }
}

/// Configures the events connection; made by [`Client::event_stream`].
#[derive(Clone)]
pub struct EventsBuilder {
    client: Client,
    apps: Vec<String>,
    subscribe_all: bool,
    backoff: Backoff,
    ping_interval: Duration,
    idle_timeout: Option<Duration>,
    buffer: usize,
    rest: bool,
    rest_to_stream: bool,
}

impl EventsBuilder {
    /// The applications the connection will register.
    pub(crate) fn app_names(&self) -> &[String] {
        &self.apps
    }
}

impl fmt::Debug for EventsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsBuilder")
            .field("apps", &self.apps)
            .field("subscribe_all", &self.subscribe_all)
            .field("backoff", &self.backoff)
            .field("ping_interval", &self.ping_interval)
            .field("rest_over_websocket", &self.rest)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring the events connection for one or more Stasis applications.
    pub fn event_stream(&self) -> EventsBuilder {
        EventsBuilder {
            client: self.clone(),
            apps: Vec::new(),
            subscribe_all: false,
            backoff: Backoff::default(),
            ping_interval: Duration::from_secs(20),
            idle_timeout: None,
            buffer: 1024,
            rest: self.inner.ws_hub.is_some(),
            rest_to_stream: false,
        }
    }
}

impl EventsBuilder {
    /// Adds a Stasis application to register and receive events for.
    pub fn app(mut self, name: impl Into<String>) -> Self {
        self.apps.push(name.into());
        self
    }

    /// Adds several Stasis applications.
    pub fn apps<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.apps.extend(names.into_iter().map(Into::into));
        self
    }

    /// Subscribe the applications to all event sources (`subscribeAll`), not only to what they
    /// subscribe to explicitly.
    pub fn subscribe_all(mut self, enabled: bool) -> Self {
        self.subscribe_all = enabled;
        self
    }

    /// Reconnection delays and limits.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How often to ping the server (default 20 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// A connection that receives no frame at all (event, pong) for this long is taken for dead
    /// and replaced (default: twice the ping interval plus 5 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// How many received items may wait for the consumer before reading pauses (default 1024).
    pub fn buffer(mut self, items: usize) -> Self {
        self.buffer = items.max(1);
        self
    }

    /// Carry REST calls over this WebSocket too (the default for a client built with
    /// [`ClientBuilder::rest_over_websocket`](crate::ClientBuilder::rest_over_websocket)): [`EventStream::rest_client`] then gives a
    /// [`Client`] whose every call is a `RESTRequest` frame on this connection, answered by a
    /// `RESTResponse` event, instead of an HTTP exchange.
    ///
    /// Asterisk has this since 20.14.0, 21.9.0 and 22.4.0 (and in every 23); the client refuses
    /// calls before sending them on an older release (when it gates by release, the default).
    /// Typed results and errors are the same as over HTTP. What differs:
    /// - calls that want a binary body (a stored recording's file) go over HTTP, because Asterisk
    ///   refuses binary bodies on the socket (406);
    /// - while the socket is down (between a loss and the reconnect), calls fail at once with a
    ///   transient [`ConnectionReset`](crate::TransportKind::ConnectionReset); calls in flight
    ///   when it drops fail at once the same way (their effect on the server is unknown), and
    ///   calls made after a reconnect go over the new socket;
    /// - the client's [`request_timeout`](crate::ClientBuilder::request_timeout) bounds each
    ///   call, from queueing to the answer;
    /// - an application event filter set over the socket always lets `RESTResponse` through
    ///   (added to a non-empty `allowed` list, taken out of `disallowed`): Asterisk passes each
    ///   answer through the filter of the socket's first application, and a filter without it
    ///   would silently stop every answer. A filter set on that application by another client,
    ///   over HTTP, is not guarded and has the same effect.
    ///
    /// The `RESTResponse` events are taken by the calls and do not reach the event stream unless
    /// [`rest_responses_in_stream`](Self::rest_responses_in_stream) asks for them.
    pub fn rest_over_websocket(mut self, enabled: bool) -> Self {
        self.rest = enabled;
        self
    }

    /// Also deliver the `RESTResponse` events to the stream, after they answered their calls
    /// (default `false`).
    pub fn rest_responses_in_stream(mut self, enabled: bool) -> Self {
        self.rest_to_stream = enabled;
        self
    }

    /// Starts the connection in the background and returns the stream at once; the first
    /// attempt's failure is an item like any other. Needs a tokio runtime.
    pub fn start(self) -> Result<EventStream> {
        self.spawn(None, decode_event)
    }

    /// Like [`start`](Self::start), decoding each event as `E` (for example
    /// `serde_json::Value`, to see events exactly as sent).
    pub fn start_as<E: DeserializeOwned>(self) -> Result<EventStream<E>> {
        self.spawn(None, decode::<E>)
    }

    /// Starts the connection and waits for the first attempt: on success the applications are
    /// registered with Asterisk when this returns (so a call into them will not be missed); on
    /// failure the error is returned and nothing keeps running.
    pub async fn connect(self) -> Result<EventStream> {
        self.connect_with(decode_event).await
    }

    /// Like [`connect`](Self::connect), decoding each event as `E`.
    pub async fn connect_as<E: DeserializeOwned>(self) -> Result<EventStream<E>> {
        self.connect_with(decode::<E>).await
    }

    async fn connect_with<E>(self, decode: fn(RawItem) -> StreamItem<E>) -> Result<EventStream<E>> {
        let (first_tx, first_rx) = oneshot::channel();
        let stream = self.spawn(Some(first_tx), decode)?;
        match first_rx.await {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::closed(Some("the connection task ended".into()))),
        }
    }

    fn spawn<E>(
        self,
        first: Option<oneshot::Sender<Result<()>>>,
        decode: fn(RawItem) -> StreamItem<E>,
    ) -> Result<EventStream<E>> {
        if self.apps.is_empty() {
            return Err(Error::config(
                "the events connection needs at least one app",
            ));
        }
        if let Some(bad) = self.apps.iter().find(|a| a.is_empty() || a.contains(',')) {
            return Err(Error::config(format!(
                "app name {bad:?} is empty or contains a comma"
            )));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::config("the events connection needs a tokio runtime"))?;
        let idle_timeout = self
            .idle_timeout
            .unwrap_or(self.ping_interval * 2 + Duration::from_secs(5));
        let (rest_client, rest_link) = if self.rest {
            let own: rest::Hub = Arc::default();
            let carrier = rest::WsCarrier::new(own.clone(), self.client.inner.request_timeout);
            let mut hubs = vec![own];
            // A client that sends everything over WebSockets uses this socket too.
            hubs.extend(self.client.inner.ws_hub.clone());
            let link = rest::WsLink {
                hubs,
                deliver_to_stream: self.rest_to_stream,
            };
            (
                Some(self.client.with_carrier(Arc::new(carrier))),
                Some(link),
            )
        } else {
            (None, None)
        };
        let (items_tx, items_rx) = mpsc::channel(self.buffer);
        let (close_tx, close_rx) = watch::channel(false);
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting);
        let config = driver::Config {
            request: driver::WsTarget::new(&self.client, &self.apps, self.subscribe_all)?,
            backoff: self.backoff,
            ping_interval: self.ping_interval,
            idle_timeout,
            handshake_timeout: self.client.inner.connect_timeout + Duration::from_secs(5),
            rest: rest_link,
        };
        let outlet = Arc::new(Mutex::new(Outlet::Queue));
        let out = driver::Out {
            queue: items_tx,
            outlet: outlet.clone(),
        };
        runtime.spawn(driver::run(config, out, close_rx, state_tx, first));
        Ok(EventStream {
            items: items_rx,
            outlet,
            close: CloseHandle {
                tx: Arc::new(close_tx),
            },
            state: state_rx,
            rest_client,
            decode,
        })
    }
}

/// Runs a WebSocket that Asterisk opened towards the application (an outbound ARI connection)
/// as an [`EventStream`] with REST over the same socket; `client` turns the socket's carrier into
/// the stream's REST client. The connection is not reconnected (Asterisk reconnects, as a new
/// connection); when `guard`'s listener shuts down, the socket is closed.
#[cfg(feature = "server")]
pub(crate) fn spawn_accepted<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    mut guard: crate::server::ConnectionGuard,
    options: AcceptedOptions,
    client: impl FnOnce(rest::WsCarrier) -> Client,
) -> EventStream
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let own: rest::Hub = Arc::default();
    let carrier = rest::WsCarrier::new(own.clone(), options.request_timeout);
    let link = rest::WsLink {
        hubs: vec![own],
        deliver_to_stream: options.rest_to_stream,
    };
    let (items_tx, items_rx) = mpsc::channel(options.buffer.max(1));
    let (close_tx, close_rx) = watch::channel(false);
    let close_tx = Arc::new(close_tx);
    let (state_tx, state_rx) = watch::channel(ConnectionState::Connected);
    let outlet = Arc::new(Mutex::new(Outlet::Queue));
    let out = driver::Out {
        queue: items_tx,
        outlet: outlet.clone(),
    };
    let closer = close_tx.clone();
    // Opened before the client is handed out, so that its first call finds the socket.
    let opened = link.open();
    tokio::spawn(async move {
        let socket_config = driver::SocketConfig {
            ping_interval: options.ping_interval,
            idle_timeout: options.idle_timeout,
            rest: Some(&link),
        };
        let run =
            driver::run_accepted(socket, socket_config, Some(opened), out, close_rx, state_tx);
        tokio::pin!(run);
        tokio::select! {
            () = &mut run => {}
            () = guard.shutdown_requested() => {
                // The listener shuts down: close this connection cleanly, then finish.
                closer.send_replace(true);
                run.await;
            }
        }
        // The guard counts the connection until here.
        drop(guard);
    });
    EventStream {
        items: items_rx,
        outlet,
        close: CloseHandle { tx: close_tx },
        state: state_rx,
        rest_client: Some(client(carrier)),
        decode: decode_event,
    }
}

/// The settings of an accepted connection's events and REST.
#[cfg(feature = "server")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct AcceptedOptions {
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) buffer: usize,
    pub(crate) rest_to_stream: bool,
}

/// Items passed from the connection task to the stream, before decoding.
#[derive(Debug)]
pub(crate) enum RawItem {
    Text(tokio_tungstenite::tungstenite::Utf8Bytes),
    Reconnected { attempt: u32, downtime: Duration },
    Error(Error),
}

/// Where the connection task hands received items.
pub(crate) enum Outlet {
    /// Into the stream's bounded queue (reading pauses while it is full).
    Queue,
    /// To a consumer called in the connection task itself: the router, which saves each event
    /// a hand-off to another task.
    Direct(Box<dyn FnMut(RawItem) + Send>),
    /// The connection task has ended; a direct consumer has been dropped.
    Finished,
}

/// Locks an outlet. Its state is a single value replaced whole, so a poisoned lock still holds a
/// consistent one.
pub(crate) fn lock_outlet(outlet: &Mutex<Outlet>) -> MutexGuard<'_, Outlet> {
    outlet.lock().unwrap_or_else(|p| p.into_inner())
}

/// The events of one connection, as a [`Stream`] of [`StreamItem`]s.
///
/// Dropping the stream stops the connection task.
pub struct EventStream<E = DefaultEvent> {
    items: mpsc::Receiver<RawItem>,
    outlet: Arc<Mutex<Outlet>>,
    close: CloseHandle,
    state: watch::Receiver<ConnectionState>,
    rest_client: Option<Client>,
    /// How frames become items: [`decode_event`] for the SDK's events, [`decode`] for others.
    decode: fn(RawItem) -> StreamItem<E>,
}

impl<E> fmt::Debug for EventStream<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl<E> EventStream<E> {
    /// A client whose REST calls go over this connection, when it was built with
    /// [`EventsBuilder::rest_over_websocket`]; `None` otherwise. Clones share the socket; the
    /// client outlives the stream, but once the stream is dropped its calls fail.
    pub fn rest_client(&self) -> Option<Client> {
        self.rest_client.clone()
    }

    /// The connection's state now.
    pub fn state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    /// A handle that closes this connection from elsewhere.
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }

    /// Closes the connection: sends a WebSocket Close and ends the stream once the items already
    /// received have been taken. Keep polling the stream to see it end.
    pub fn close(&self) {
        self.close.close();
    }

    /// Waits until the connection is up (`Ok`) or closed for good (`Err`). Items keep queueing
    /// meanwhile.
    pub async fn wait_connected(&mut self) -> Result<()> {
        let mut state = self.state.clone();
        let reached = state
            .wait_for(|s| matches!(s, ConnectionState::Connected | ConnectionState::Closed))
            .await
            .map(|s| *s);
        match reached {
            Ok(ConnectionState::Connected) => Ok(()),
            _ => Err(Error::closed(None)),
        }
    }
}

impl EventStream {
    /// Hands every item to `sink`, called in the connection task as each arrives, instead of
    /// queueing it for this stream, which then stays empty. Items queued already go first, in
    /// order. When the connection task ends, `sink` is dropped.
    pub(crate) fn divert(&mut self, mut sink: impl FnMut(StreamItem) + Send + 'static) {
        let decode = self.decode;
        let mut direct: Box<dyn FnMut(RawItem) + Send> = Box::new(move |raw| sink(decode(raw)));
        // The task only queues while holding this lock, so once it is held, the queue holds
        // everything received before the switch.
        let mut outlet = lock_outlet(&self.outlet);
        while let Ok(raw) = self.items.try_recv() {
            direct(raw);
        }
        if matches!(*outlet, Outlet::Queue) {
            *outlet = Outlet::Direct(direct);
        }
        // Otherwise the task has ended: everything it received was drained above, and `direct`
        // is dropped here, which ends the consumer too.
    }
}

/// Decodes a frame into an item of the stream, as any `E` (`connect_as`, `start_as`).
fn decode<E: DeserializeOwned>(raw: RawItem) -> StreamItem<E> {
    decode_with(raw, |text| {
        crate::decode::decode_json_str::<E>(&crate::decode::type_first(text)).or_else(|_| {
            // Decoded again as received, so that the error's position and excerpt are of the
            // frame itself (a failure is rare; the moved text was only for speed).
            crate::decode::decode_json_str::<E>(text)
        })
    })
}

/// Decodes a frame into an item of a stream of the SDK's [`Event`](crate::Event): the
/// default streams' decoder, compiled once in this crate and reached through the stream's
/// function pointer, so that an application's crate does not compile the event decoders again.
fn decode_event(raw: RawItem) -> StreamItem {
    decode_with(raw, crate::decode::event_frame::<DefaultEvent>)
}

fn decode_with<E>(raw: RawItem, typed: impl FnOnce(&str) -> Result<E>) -> StreamItem<E> {
    match raw {
        RawItem::Text(text) => match typed(text.as_str()) {
            Ok(event) => StreamItem::Event(event),
            Err(e) => {
                let e = e.with_operation(&driver::EVENTS_OP);
                match UndecodedEvent::from_failure(text.as_str(), e) {
                    Ok(undecoded) => StreamItem::Undecoded(undecoded),
                    Err(e) => StreamItem::Error(e),
                }
            }
        },
        RawItem::Reconnected { attempt, downtime } => StreamItem::Reconnected { attempt, downtime },
        RawItem::Error(e) => StreamItem::Error(e),
    }
}

impl<E: DeserializeOwned> Stream for EventStream<E> {
    type Item = StreamItem<E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let decode = self.decode;
        self.items.poll_recv(cx).map(|raw| raw.map(decode))
    }
}

/// Closes an [`EventStream`]'s connection from anywhere; cheap to clone.
#[derive(Clone, Debug)]
pub struct CloseHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl CloseHandle {
    /// Asks the connection to close. Idempotent.
    pub fn close(&self) {
        self.tx.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let b = Backoff::default()
            .initial(Duration::from_millis(100))
            .max(Duration::from_secs(1))
            .jitter(0.0);
        assert_eq!(b.delay(0), Duration::ZERO);
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
        let j = b.clone().jitter(0.5);
        for _ in 0..100 {
            let d = j.delay(3);
            assert!(d > Duration::from_millis(200) && d <= Duration::from_millis(400));
        }
        let odd = b.multiplier(f64::NAN).jitter(f64::INFINITY);
        assert!(odd.delay(3) <= Duration::from_secs(1));
    }
}
