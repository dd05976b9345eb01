//! A Stasis application in a few lines: one task per call, each with its channel's events.

use std::fmt;
use std::future::Future;

use futures::StreamExt;
use tokio::task::JoinSet;

use super::{ResourceEvents, Router};
use crate::client::Client;
use crate::error::{ErrorKind, Result};
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
    /// The channel's events after `StasisStart`; ends with `StasisEnd` or `ChannelDestroyed`.
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

/// What a call handler returns: nothing, or a result whose error is logged.
pub trait HandlerOutcome: Send + 'static {
    /// The error to log, if the handler failed.
    fn failure(self) -> Option<String>;
}

impl HandlerOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: fmt::Display + Send + 'static> HandlerOutcome for std::result::Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
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
    on_undecoded: Option<OnUndecoded>,
}

/// The application's callback for undecoded events, shared by the tasks of an outbound
/// application's connections.
type OnUndecoded = std::sync::Arc<std::sync::Mutex<Box<dyn FnMut(UndecodedEvent) + Send>>>;

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
        d.field("on_undecoded", &self.on_undecoded.is_some());
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
            on_undecoded: None,
        }
    }

    /// Called with every event that fails typed decoding (see
    /// [`StreamItem::Undecoded`]), in the application's own task; by default each is logged as
    /// a warning with its kind and error. A `StasisStart` that does not decode starts no call
    /// and arrives here, so that the application can still take the channel by hand (its id is
    /// at `channel.id` of [`UndecodedEvent::json`]).
    pub fn on_undecoded(mut self, f: impl FnMut(UndecodedEvent) + Send + 'static) -> StasisApp {
        self.on_undecoded = Some(std::sync::Arc::new(std::sync::Mutex::new(Box::new(f))));
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
            on_undecoded: None,
        }
    }

    /// Adjusts the events connection (more apps, backoff, pings). Has no effect on an
    /// [`outbound`](Self::outbound) application, whose connections Asterisk configures.
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
    /// An [`outbound`](Self::outbound) application serves every connection Asterisk opens, each
    /// until it ends, and returns once the listener is shut down and its connections have ended.
    pub async fn run<F, Fut>(self, handler: F) -> Result<()>
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        let on_undecoded = self.on_undecoded;
        match self.source {
            Source::Inbound { client, events } => {
                let stream = events.connect().await?;
                serve(&client, stream, &handler, on_undecoded.as_ref()).await
            }
            #[cfg(feature = "server")]
            Source::Outbound(mut listener) => {
                let handler = std::sync::Arc::new(handler);
                let mut connections = JoinSet::new();
                loop {
                    tokio::select! {
                        conn = listener.accept() => {
                            let Some(conn) = conn else { break };
                            let handler = handler.clone();
                            let on_undecoded = on_undecoded.clone();
                            connections.spawn(async move {
                                let (client, events) = conn.into_parts();
                                if let Err(e) = serve(&client, events, &*handler, on_undecoded.as_ref()).await {
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
            }
        }
    }
}

/// Routes one events connection's calls to `handler` until the connection ends for good.
async fn serve<F, Fut>(
    client: &Client,
    stream: crate::events::EventStream,
    handler: &F,
    on_undecoded: Option<&OnUndecoded>,
) -> Result<()>
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutcome,
{
    // Events reach the calls' own streams; the main stream only carries the rest.
    let (router, mut items) = Router::with_unrouted_stream(client, stream)?;
    let mut incoming = router.incoming();
    let mut tasks = JoinSet::new();
    let mut last_error = None;
    loop {
        tokio::select! {
            Some(call) = incoming.next() => {
                let channel = call.channel.id().to_owned();
                let fut = handler(call);
                tasks.spawn(async move {
                    if let Some(e) = fut.await.failure() {
                        tracing::warn!(%channel, error = %e, "call handler failed");
                    }
                });
            }
            item = items.next() => match item {
                None => break,
                Some(StreamItem::Error(e)) => {
                    tracing::warn!(error = %e, "events");
                    last_error = Some(e);
                }
                Some(StreamItem::Reconnected { attempt, downtime }) => {
                    tracing::info!(attempt, ?downtime, "events reconnected");
                }
                Some(StreamItem::Event(event)) => {
                    tracing::trace!(kind = %event.kind(), "event of no call");
                }
                Some(StreamItem::Undecoded(undecoded)) => match on_undecoded {
                    Some(f) => (f.lock().unwrap_or_else(|p| p.into_inner()))(undecoded),
                    None => tracing::warn!(
                        kind = undecoded.kind(),
                        error = %undecoded.error(),
                        "an event did not decode"
                    ),
                },
            },
            Some(joined) = tasks.join_next() => {
                if joined.is_err_and(|e| e.is_panic()) {
                    tracing::error!("a call handler panicked");
                }
            }
        }
    }
    match last_error {
        Some(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Closed) => Err(e),
        Some(e) if e.kind() == ErrorKind::Http && matches!(e.status(), Some(400 | 403)) => Err(e),
        _ => Ok(()),
    }
}
