//! A Stasis application in a few lines: one task per call, each with its channel's events.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use tokio::task::{JoinHandle, JoinSet};

use super::{ResourceEvents, Router};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventsBuilder, StreamItem, UndecodedEvent};
use crate::generated::events::StasisStart;
use crate::generated::handles::ChannelHandle;

/// A channel that entered the application, with everything its handler needs.
#[derive(Debug)]
pub struct Call {
    /// The `StasisStart` event that brought the channel in (application arguments, the
    /// channel's snapshot).
    pub start: Box<StasisStart>,
    /// The channel.
    pub channel: ChannelHandle,
    /// The channel's events after `StasisStart`: through `StasisEnd` to `ChannelDestroyed`,
    /// which carries the hangup cause (see [`Router::follow_calls`]; with that off, the stream
    /// ends at `StasisEnd`).
    pub events: ResourceEvents,
    /// The router, to create bridges, playbacks or more channels without missing their events.
    pub router: Router,
}

impl Call {
    /// The arguments given to `Stasis()` in the dialplan (or `appArgs` of an originate).
    pub fn args(&self) -> &[String] {
        &self.start.args
    }

    /// The application the channel entered.
    pub fn application(&self) -> &str {
        &self.start.application
    }
}

/// What a call handler returns: nothing, or a result whose error goes to
/// [`StasisApp::on_error`] (by default, a warning in the log).
pub trait HandlerOutcome: Send + 'static {
    /// The failure, if the handler failed.
    fn failure(self) -> Option<HandlerError>;
}

impl HandlerOutcome for () {
    fn failure(self) -> Option<HandlerError> {
        None
    }
}

impl<E: fmt::Display + Send + 'static> HandlerOutcome for std::result::Result<(), E> {
    fn failure(self) -> Option<HandlerError> {
        self.err().map(HandlerError::new)
    }
}

/// A call handler that failed: the error it returned (kept, to be downcast), or its panic.
pub struct HandlerError {
    channel_id: String,
    message: String,
    error: Option<Box<dyn Any + Send>>,
}

impl HandlerError {
    /// Wraps a handler's error (for a [`HandlerOutcome`] of your own).
    pub fn new<E: fmt::Display + Send + 'static>(error: E) -> HandlerError {
        HandlerError {
            channel_id: String::new(),
            // `{:#}` shows an `anyhow::Error`'s causes too.
            message: format!("{error:#}"),
            error: Some(Box::new(error)),
        }
    }

    fn panicked(channel_id: String, payload: &(dyn Any + Send)) -> HandlerError {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        HandlerError {
            channel_id,
            message: format!("panicked: {what}"),
            error: None,
        }
    }

    /// The channel of the call whose handler failed.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// Whether the handler panicked (rather than returned an error).
    pub fn is_panic(&self) -> bool {
        self.error.is_none()
    }

    /// The handler's error as its own type (`ari_sdk::Error`, `anyhow::Error`, ...).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.error.as_ref()?.downcast_ref()
    }

    /// The handler's error, boxed; `None` for a panic.
    pub fn into_inner(self) -> Option<Box<dyn Any + Send>> {
        self.error
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("channel_id", &self.channel_id)
            .field("message", &self.message)
            .field("panicked", &self.is_panic())
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the handler of channel {} failed: {}",
            self.channel_id, self.message
        )
    }
}

impl std::error::Error for HandlerError {}

/// Something that went wrong while a [`StasisApp`] runs, handed to
/// [`StasisApp::on_error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum AppError {
    /// A call handler returned an error or panicked; the other calls go on.
    Handler(HandlerError),
    /// The events connection failed; it is retried (see [`StreamItem::Error`]).
    Events(Error),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Handler(e) => e.fmt(f),
            AppError::Events(e) => write!(f, "events: {e}"),
        }
    }
}

/// The application is registered with Asterisk: calls into it are delivered from now on.
/// Handed to [`StasisApp::on_registered`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registered {
    /// The applications registered (empty for an outbound connection, whose applications
    /// Asterisk's `ari.conf` names).
    pub apps: Vec<String>,
    /// After a reconnect: events (and calls) may have been missed while disconnected.
    pub reconnected: bool,
}

/// Runs a Stasis application: connects the events WebSocket, and for each channel entering the
/// application runs the handler as a task of its own with that channel's [`Call`].
///
/// ```no_run
/// # async fn demo() -> ari_sdk::Result<()> {
/// use ari_sdk::routing::{Call, StasisApp};
/// use futures::StreamExt;
///
/// let client = ari_sdk::Client::new("http://127.0.0.1:8088/ari", "asterisk", "secret")?;
/// StasisApp::new(&client, "hello")
///     .run(|mut call: Call| async move {
///         call.channel.answer().send().await?;
///         call.channel.play(["sound:hello-world"]).send().await?;
///         while let Some(event) = call.events.next().await {
///             tracing::info!(kind = %event.kind(), "channel event");
///         }
///         Ok::<(), ari_sdk::Error>(())
///     })
///     .await
/// # }
/// ```
pub struct StasisApp {
    source: Source,
    hooks: Hooks,
}

/// A callback of the application, shared by the tasks of an outbound application's
/// connections.
type Hook<T> = Arc<Mutex<Box<dyn FnMut(T) + Send>>>;

fn hook<T>(f: impl FnMut(T) + Send + 'static) -> Hook<T> {
    Arc::new(Mutex::new(Box::new(f)))
}

/// Calls a hook; a hook that panicked before is still called (its state is its own).
fn call<T>(hook: &Hook<T>, value: T) {
    (hook.lock().unwrap_or_else(|p| p.into_inner()))(value)
}

/// The application's callbacks.
#[derive(Clone, Default)]
struct Hooks {
    on_undecoded: Option<Hook<UndecodedEvent>>,
    on_error: Option<Hook<AppError>>,
    on_registered: Option<Hook<Registered>>,
    follow_calls: Option<bool>,
}

impl Hooks {
    fn error(&self, e: AppError) {
        match &self.on_error {
            Some(f) => call(f, e),
            None => match &e {
                AppError::Handler(h) => {
                    tracing::warn!(channel = %h.channel_id, error = %h.message, "call handler failed")
                }
                AppError::Events(e) => tracing::warn!(error = %e, "events"),
            },
        }
    }

    fn registered(&self, r: Registered) {
        match &self.on_registered {
            Some(f) => call(f, r),
            None => {
                tracing::debug!(apps = ?r.apps, reconnected = r.reconnected, "application registered")
            }
        }
    }
}

/// Where the application's events come from.
enum Source {
    /// We connect to Asterisk's events WebSocket.
    Inbound {
        client: Client,
        events: Box<EventsBuilder>,
    },
    /// Asterisk connects to us.
    #[cfg(feature = "server")]
    Outbound(Box<crate::server::AriListener>),
}

impl fmt::Debug for StasisApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StasisApp");
        match &self.source {
            Source::Inbound { events, .. } => d.field("events", events),
            #[cfg(feature = "server")]
            Source::Outbound(l) => d.field("outbound", l),
        };
        d.field("on_undecoded", &self.hooks.on_undecoded.is_some());
        d.field("on_error", &self.hooks.on_error.is_some());
        d.field("on_registered", &self.hooks.on_registered.is_some());
        d.finish_non_exhaustive()
    }
}

impl StasisApp {
    /// An application named `app` on `client`'s server.
    pub fn new(client: &Client, app: impl Into<String>) -> StasisApp {
        StasisApp {
            source: Source::Inbound {
                client: client.clone(),
                events: Box::new(client.event_stream().app(app)),
            },
            hooks: Hooks::default(),
        }
    }

    /// Called with every event that fails typed decoding (see
    /// [`StreamItem::Undecoded`]), in the application's own task; by default each is logged as
    /// a warning with its kind and error. A `StasisStart` that does not decode starts no call
    /// and arrives here, so that the application can still take the channel by hand (its id is
    /// at `channel.id` of [`UndecodedEvent::json`]).
    pub fn on_undecoded(mut self, f: impl FnMut(UndecodedEvent) + Send + 'static) -> StasisApp {
        self.hooks.on_undecoded = Some(hook(f));
        self
    }

    /// Called, in the application's own task, with each handler that failed (its error, kept
    /// to be downcast, or its panic) and each failure of the events connection (which is
    /// retried); by default each is logged as a warning. A failed handler ends only its own
    /// call.
    ///
    /// ```no_run
    /// # async fn demo(client: ari_sdk::Client) -> ari_sdk::Result<()> {
    /// use ari_sdk::routing::{AppError, Call, StasisApp};
    ///
    /// let (tx, mut failures) = tokio::sync::mpsc::unbounded_channel();
    /// let app = StasisApp::new(&client, "hello")
    ///     .on_error(move |e| {
    ///         if let AppError::Handler(h) = e {
    ///             let _ = tx.send(h);
    ///         }
    ///     })
    ///     .start(|call: Call| async move { call.channel.answer().await })
    ///     .await?;
    /// while let Some(failed) = failures.recv().await {
    ///     let status = failed.downcast_ref::<ari_sdk::Error>().and_then(|e| e.status());
    ///     eprintln!("{failed} (HTTP status {status:?})");
    /// }
    /// # app.stop(); Ok(()) }
    /// ```
    pub fn on_error(mut self, f: impl FnMut(AppError) + Send + 'static) -> StasisApp {
        self.hooks.on_error = Some(hook(f));
        self
    }

    /// Called each time the application is registered with Asterisk: when the events
    /// connection is made (in the task that called [`start`](Self::start), before it returns),
    /// after each reconnect, and for each connection Asterisk opens to an
    /// `outbound` (feature `server`) application (in the application's own task).
    pub fn on_registered(mut self, f: impl FnMut(Registered) + Send + 'static) -> StasisApp {
        self.hooks.on_registered = Some(hook(f));
        self
    }

    /// Whether each call's stream goes on past `StasisEnd` to `ChannelDestroyed` (on by
    /// default; one request per call): see [`Router::follow_calls`].
    pub fn follow_calls(mut self, enabled: bool) -> StasisApp {
        self.hooks.follow_calls = Some(enabled);
        self
    }

    /// An application served over the connections Asterisk opens to `listener` (outbound ARI
    /// WebSockets, Asterisk 20.15+, 21.10+, 22.5+; feature `server`): the same handler as with
    /// [`new`](Self::new), each call's REST going over the connection that brought it. Which
    /// apps arrive is Asterisk's `ari.conf` (`apps`); a per-call connection's app is named
    /// `app:<channel name>`.
    ///
    /// ```no_run
    /// # async fn demo() -> ari_sdk::Result<()> {
    /// use ari_sdk::routing::{Call, StasisApp};
    /// use ari_sdk::server::AriListener;
    ///
    /// let listener = AriListener::builder()
    ///     .credentials("ari-out", "ari-out-secret")
    ///     .bind("127.0.0.1:8765")
    ///     .await?;
    /// StasisApp::outbound(listener) // instead of StasisApp::new(&client, "hello")
    ///     .run(|call: Call| async move { call.channel.answer().send().await })
    ///     .await
    /// # }
    /// ```
    #[cfg(feature = "server")]
    pub fn outbound(listener: crate::server::AriListener) -> StasisApp {
        StasisApp {
            source: Source::Outbound(Box::new(listener)),
            hooks: Hooks::default(),
        }
    }

    /// Adjusts the events connection (more apps, backoff, pings). Has no effect on an
    /// `outbound` (feature `server`) application, whose connections Asterisk configures.
    pub fn configure(mut self, f: impl FnOnce(EventsBuilder) -> EventsBuilder) -> StasisApp {
        match &mut self.source {
            Source::Inbound { events, .. } => {
                let built = f((**events).clone());
                **events = built;
            }
            #[cfg(feature = "server")]
            Source::Outbound(_) => {}
        }
        self
    }

    /// Connects and handles calls until the events connection ends for good. Fails at once if
    /// the first connection fails (wrong URL or credentials); afterwards a lost connection is
    /// retried, and `Ok` is returned only when the connection is closed. Dropping the future
    /// stops the application and aborts the running handlers.
    ///
    /// An `outbound` (feature `server`) application serves every connection Asterisk opens, each
    /// until it ends, and returns once the listener is shut down and its connections have ended.
    ///
    /// [`start`](Self::start) does the same in a task of its own, and returns once the
    /// application is registered.
    pub async fn run<F, Fut>(self, handler: F) -> Result<()>
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.start(handler).await?.join().await
    }

    /// Connects, then handles calls in a task of its own (needs a tokio runtime). Returns once
    /// the application is registered with Asterisk, so a call placed into it from then on is
    /// delivered (no StasisStart is lost to a race with the registration); fails at once if the
    /// first connection fails. The [`RunningApp`] stops the application when asked or dropped.
    ///
    /// ```no_run
    /// # async fn demo(client: ari_sdk::Client) -> ari_sdk::Result<()> {
    /// use ari_sdk::routing::{Call, StasisApp};
    ///
    /// let app = StasisApp::new(&client, "hello")
    ///     .start(|call: Call| async move { call.channel.answer().await })
    ///     .await?;
    /// // Registered: this call enters the application.
    /// client.channels().originate("Local/wait@default").app("hello").await?;
    /// # app.stop(); app.join().await
    /// # }
    /// ```
    ///
    /// An `outbound` (feature `server`) application returns at once: it is registered when
    /// Asterisk connects ([`on_registered`](Self::on_registered)).
    pub async fn start<F, Fut>(self, handler: F) -> Result<RunningApp>
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        tokio::runtime::Handle::try_current()
            .map_err(|_| Error::config("a Stasis application needs a tokio runtime"))?;
        let hooks = self.hooks;
        let handler = Arc::new(handler);
        match self.source {
            Source::Inbound { client, events } => {
                let apps = events.app_names().to_vec();
                let stream = events.connect().await?;
                let close = stream.close_handle();
                hooks.registered(Registered {
                    apps: apps.clone(),
                    reconnected: false,
                });
                let task =
                    tokio::spawn(
                        async move { serve(&client, stream, handler, &hooks, apps).await },
                    );
                Ok(RunningApp {
                    task: Some(task),
                    stop: Stop::Events(close),
                })
            }
            #[cfg(feature = "server")]
            Source::Outbound(mut listener) => {
                let shutdown = listener.shutdown_handle();
                let task = tokio::spawn(async move {
                    let mut connections = JoinSet::new();
                    loop {
                        tokio::select! {
                            conn = listener.accept() => {
                                let Some(conn) = conn else { break };
                                let handler = handler.clone();
                                let hooks = hooks.clone();
                                connections.spawn(async move {
                                    let (client, events) = conn.into_parts();
                                    hooks.registered(Registered { apps: Vec::new(), reconnected: false });
                                    if let Err(e) = serve(&client, events, handler, &hooks, Vec::new()).await {
                                        tracing::warn!(error = %e, "outbound connection ended with an error");
                                    }
                                });
                            }
                            Some(joined) = connections.join_next() => {
                                if joined.is_err_and(|e| e.is_panic()) {
                                    tracing::error!("an outbound connection's task panicked");
                                }
                            }
                        }
                    }
                    while connections.join_next().await.is_some() {}
                    Ok(())
                });
                Ok(RunningApp {
                    task: Some(task),
                    stop: Stop::Listener(shutdown),
                })
            }
        }
    }
}

/// A [`StasisApp`] running in a task of its own, from [`StasisApp::start`]. Dropping it stops
/// the application and aborts its handlers, like dropping the future of
/// [`run`](StasisApp::run).
#[must_use = "dropping a RunningApp stops the application"]
pub struct RunningApp {
    task: Option<JoinHandle<Result<()>>>,
    stop: Stop,
}

/// How a running application is stopped.
enum Stop {
    Events(crate::events::CloseHandle),
    #[cfg(feature = "server")]
    Listener(crate::server::ShutdownHandle),
}

impl fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningApp")
            .field(
                "finished",
                &self.task.as_ref().is_none_or(|t| t.is_finished()),
            )
            .finish_non_exhaustive()
    }
}

impl RunningApp {
    /// Stops the application: closes its events connection (or shuts the listener down), after
    /// which [`join`](Self::join) returns. Running handlers see their streams end.
    pub fn stop(&self) {
        match &self.stop {
            Stop::Events(close) => close.close(),
            #[cfg(feature = "server")]
            Stop::Listener(shutdown) => shutdown.shutdown(),
        }
    }

    /// Waits until the application ends: `Ok` after [`stop`](Self::stop) or a close, an error
    /// when the events connection ended for good on one (wrong credentials, say).
    pub async fn join(mut self) -> Result<()> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::closed(Some(
                "the application's task was cancelled".into(),
            ))),
        }
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Routes one events connection's calls to `handler` until the connection ends for good.
async fn serve<F, Fut>(
    client: &Client,
    stream: crate::events::EventStream,
    handler: Arc<F>,
    hooks: &Hooks,
    apps: Vec<String>,
) -> Result<()>
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutcome,
{
    // Events reach the calls' own streams; the main stream only carries the rest.
    let (router, mut items) = Router::with_unrouted_stream(client, stream)?;
    if let Some(follow) = hooks.follow_calls {
        router.follow_calls(follow);
    }
    let mut incoming = router.incoming();
    let mut tasks = JoinSet::new();
    let mut last_error = None;
    loop {
        tokio::select! {
            Some(call) = incoming.next() => {
                let channel = call.channel.id().to_owned();
                let fut = handler(call);
                tasks.spawn(async move {
                    // A panic is the handler's failure, reported with its channel like an error.
                    match AssertUnwindSafe(fut).catch_unwind().await {
                        Ok(outcome) => outcome.failure().map(|mut e| {
                            e.channel_id = channel;
                            e
                        }),
                        Err(payload) => Some(HandlerError::panicked(channel, &*payload)),
                    }
                });
            }
            item = items.next() => match item {
                None => break,
                // An error that ends the connection for good is what `run` returns; the
                // others (retried) go to the hook.
                Some(StreamItem::Error(e)) => {
                    if let Some(previous) = last_error.take() {
                        hooks.error(AppError::Events(previous));
                    }
                    if is_final(&e) {
                        last_error = Some(e);
                    } else {
                        hooks.error(AppError::Events(e));
                    }
                }
                Some(StreamItem::Reconnected { attempt, downtime }) => {
                    tracing::info!(attempt, ?downtime, "events reconnected");
                    hooks.registered(Registered { apps: apps.clone(), reconnected: true });
                }
                Some(StreamItem::Event(event)) => {
                    tracing::trace!(kind = %event.kind(), "event of no call");
                }
                Some(StreamItem::Undecoded(undecoded)) => match &hooks.on_undecoded {
                    Some(f) => call(f, undecoded),
                    None => tracing::warn!(
                        kind = undecoded.kind(),
                        error = %undecoded.error(),
                        "an event did not decode"
                    ),
                },
            },
            Some(joined) = tasks.join_next() => match joined {
                Ok(Some(failed)) => hooks.error(AppError::Handler(failed)),
                Ok(None) => {}
                Err(e) if e.is_panic() => tracing::error!("a call handler task panicked"),
                Err(_) => {}
            }
        }
    }
    match last_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether an events error is one the connection does not recover from.
fn is_final(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Closed)
        || (e.kind() == ErrorKind::Http && matches!(e.status(), Some(400 | 403)))
}
