//! An event stream fed by the application instead of Asterisk's WebSocket: for events that
//! reach the program another way (a message bus between a fleet of servers, say), so that a
//! [`Router`](crate::routing::Router) and its per-resource streams work on them unchanged.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{ConnectionState, EventStream, Outlet, RawItem, driver, lock_outlet};
use crate::error::Error;

/// The sending side of an [`EventStream`] made by [`EventStream::fed`]. Each item handed to it
/// becomes one item of the stream, decoded as a WebSocket frame would be. Dropping it ends the
/// stream (once its queued items are taken).
pub struct EventFeed {
    out: driver::Out,
    close: watch::Receiver<bool>,
    state: watch::Sender<ConnectionState>,
}

impl fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFeed")
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// A stream whose items come from the returned [`EventFeed`] rather than from a WebSocket
    /// of its own: up to `buffer` items wait for the consumer before the feed's methods wait
    /// for room. The stream's state is what the feed says ([`EventFeed::set_state`]),
    /// `Connected` at first. The stream has no REST client of its own.
    pub fn fed(buffer: usize) -> (EventFeed, EventStream) {
        let (items_tx, items_rx) = mpsc::channel(buffer.max(1));
        let (close_tx, close_rx) = watch::channel(false);
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connected);
        let outlet = Arc::new(Mutex::new(Outlet::Queue));
        let feed = EventFeed {
            out: driver::Out {
                queue: items_tx,
                outlet: outlet.clone(),
            },
            close: close_rx,
            state: state_tx,
        };
        let stream = EventStream {
            items: items_rx,
            outlet,
            close: super::CloseHandle {
                tx: Arc::new(close_tx),
            },
            state: state_rx,
            rest_client: None,
            decode: super::decode_event,
        };
        (feed, stream)
    }
}

impl EventFeed {
    /// Passes on one event, the JSON text of an ARI event as Asterisk sends it. `false` when
    /// the stream is closed or dropped: nothing more will be taken.
    pub async fn event(&self, json: String) -> bool {
        self.deliver(RawItem::Text(json.into())).await
    }

    /// Tells the stream that events may have been missed
    /// ([`StreamItem::Reconnected`](super::StreamItem::Reconnected)): a router resyncs.
    pub async fn reconnected(&self, attempt: u32, downtime: Duration) -> bool {
        self.deliver(RawItem::Reconnected { attempt, downtime })
            .await
    }

    /// Passes on an error item ([`StreamItem::Error`](super::StreamItem::Error)).
    pub async fn error(&self, error: Error) -> bool {
        self.deliver(RawItem::Error(error)).await
    }

    /// Sets the state the stream reports ([`EventStream::state`]).
    pub fn set_state(&self, state: ConnectionState) {
        self.state.send_replace(state);
    }

    /// Whether the stream was closed ([`EventStream::close`]) or dropped.
    pub fn is_closed(&self) -> bool {
        *self.close.borrow() || self.out.queue.is_closed()
    }

    /// Resolves once the stream is closed or dropped.
    pub async fn closed(&self) {
        tokio::select! {
            () = close_requested(self.close.clone()) => {}
            () = self.out.queue.closed() => {}
        }
    }

    /// As the WebSocket task does: straight to a router when one took the stream over,
    /// otherwise into the bounded queue, waiting for room.
    async fn deliver(&self, item: RawItem) -> bool {
        use mpsc::error::TrySendError;
        if self.is_closed() {
            return false;
        }
        let item = {
            let mut outlet = lock_outlet(&self.out.outlet);
            if let Outlet::Direct(consumer) = &mut *outlet {
                consumer(item);
                return true;
            }
            match self.out.queue.try_send(item) {
                Ok(()) => return true,
                Err(TrySendError::Closed(_)) => return false,
                Err(TrySendError::Full(item)) => item,
            }
        };
        let permit = tokio::select! {
            biased;
            () = close_requested(self.close.clone()) => return false,
            permit = self.out.queue.reserve() => match permit {
                Ok(permit) => permit,
                Err(_) => return false,
            },
        };
        let mut outlet = lock_outlet(&self.out.outlet);
        if let Outlet::Direct(consumer) = &mut *outlet {
            drop(permit);
            consumer(item);
        } else {
            permit.send(item);
        }
        true
    }
}

/// Resolves once a close is asked for (or the stream is gone), holding no borrow of the flag.
async fn close_requested(mut close: watch::Receiver<bool>) {
    let _ = close.wait_for(|c| *c).await;
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        self.state.send_replace(ConnectionState::Closed);
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::events::StreamItem;

    #[tokio::test]
    async fn fed_items_decode_like_frames_and_the_stream_ends_with_the_feed() {
        let (feed, mut stream) = EventStream::fed(4);
        assert!(
            feed.event(r#"{"type":"SomethingNew","application":"a"}"#.into())
                .await
        );
        assert!(feed.reconnected(2, Duration::from_secs(1)).await);
        assert!(feed.event("not json".into()).await);
        drop(feed);
        assert!(matches!(stream.next().await, Some(StreamItem::Event(_))));
        assert!(matches!(
            stream.next().await,
            Some(StreamItem::Reconnected { attempt: 2, .. })
        ));
        assert!(matches!(stream.next().await, Some(StreamItem::Error(_))));
        assert!(stream.next().await.is_none());
        assert_eq!(stream.state(), ConnectionState::Closed);
    }

    #[tokio::test]
    async fn a_closed_stream_takes_nothing_more() {
        let (feed, stream) = EventStream::fed(1);
        stream.close();
        feed.closed().await;
        assert!(!feed.event("{}".into()).await);
        drop(stream);
        assert!(feed.is_closed());
    }
}
