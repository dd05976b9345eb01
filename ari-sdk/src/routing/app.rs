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
    client: Client,
    events: EventsBuilder,
    on_undecoded: Option<Box<dyn FnMut(UndecodedEvent) + Send>>,
}

impl fmt::Debug for StasisApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StasisApp")
            .field("events", &self.events)
            .field("on_undecoded", &self.on_undecoded.is_some())
            .finish_non_exhaustive()
    }
}

impl StasisApp {
    /// An application named `app` on `client`'s server.
    pub fn new(client: &Client, app: impl Into<String>) -> StasisApp {
        StasisApp {
            client: client.clone(),
            events: client.event_stream().app(app),
            on_undecoded: None,
        }
    }

    /// Called with every event that fails typed decoding (see
    /// [`StreamItem::Undecoded`]), in the application's own task; by default each is logged as
    /// a warning with its kind and error. A `StasisStart` that does not decode starts no call
    /// and arrives here, so that the application can still take the channel by hand (its id is
    /// at `channel.id` of [`UndecodedEvent::json`]).
    pub fn on_undecoded(mut self, f: impl FnMut(UndecodedEvent) + Send + 'static) -> StasisApp {
        self.on_undecoded = Some(Box::new(f));
        self
    }

    /// Adjusts the events connection (more apps, backoff, pings).
    pub fn configure(mut self, f: impl FnOnce(EventsBuilder) -> EventsBuilder) -> StasisApp {
        self.events = f(self.events);
        self
    }

    /// Connects and handles calls until the events connection ends for good. Fails at once if
    /// the first connection fails (wrong URL or credentials); afterwards a lost connection is
    /// retried, and `Ok` is returned only when the connection is closed. Dropping the future
    /// stops the application and aborts the running handlers.
    pub async fn run<F, Fut>(mut self, handler: F) -> Result<()>
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        let stream = self.events.connect().await?;
        // Events reach the calls' own streams; the main stream only carries the rest.
        let (router, mut items) = Router::with_unrouted_stream(&self.client, stream)?;
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
                    Some(StreamItem::Undecoded(undecoded)) => match &mut self.on_undecoded {
                        Some(f) => f(undecoded),
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
            Some(e) if e.kind() == ErrorKind::Http && matches!(e.status(), Some(400 | 403)) => {
                Err(e)
            }
            _ => Ok(()),
        }
    }
}
