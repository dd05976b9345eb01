//! Connection type `client`: Asterisk connects to the app (a `websocket_client.conf` entry), the
//! app's listener accepts, and each connection is matched to its channel by `MEDIA_START`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::MediaError;
use super::session::{MediaSession, SessionOptions};
use crate::server::Listener;

type Pending = HashMap<String, oneshot::Sender<MediaSession>>;

/// Media sessions that Asterisk opens to the app, on a [`Listener`] (feature `server`) that
/// checks Asterisk's credentials. Sessions whose channel was announced with
/// [`MediaListener::expect`] (as [`super::WebSocketMedia::connect_via`] does) go to that
/// waiter; the others come out of [`MediaListener::accept`].
pub struct MediaListener {
    pending: Arc<StdMutex<Pending>>,
    unclaimed: Mutex<mpsc::Receiver<MediaSession>>,
    local_addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MediaListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaListener")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MediaListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MediaListener {
    /// Runs the media protocol on every connection `listener` accepts. A connection that does
    /// not start with a valid `MEDIA_START` is closed and logged; it never reaches the app.
    pub fn new(mut listener: Listener, options: SessionOptions) -> MediaListener {
        let pending: Arc<StdMutex<Pending>> = Arc::default();
        // Bounded: unclaimed sessions beyond this wait in their own tasks (each holding its
        // connection slot, which the listener bounds).
        let (tx, rx) = mpsc::channel(64);
        let local_addr = listener.local_addr();
        let map = pending.clone();
        let task = tokio::spawn(async move {
            while let Some(incoming) = listener.accept().await {
                // The session's reader is spawned where its socket is registered, so a frame
                // wakes only that runtime.
                let runtime = incoming.runtime().clone();
                let (request, ws, guard) = incoming.into_parts();
                let (map, tx, options) = (map.clone(), tx.clone(), options.clone());
                runtime.spawn(async move {
                    match MediaSession::from_websocket_guarded(
                        ws,
                        None,
                        options,
                        Some(Box::new(guard)),
                    )
                    .await
                    {
                        Ok(session) => {
                            let id = session.start().channel_id.clone();
                            let waiter = map.lock().ok().and_then(|mut m| m.remove(&id));
                            let session = match waiter {
                                Some(w) => match w.send(session) {
                                    Ok(()) => return,
                                    Err(s) => s,
                                },
                                None => session,
                            };
                            let _ = tx.send(session).await;
                        }
                        Err(e) => tracing::warn!(
                            peer = %request.peer_addr(),
                            error = %e,
                            "media connection refused"
                        ),
                    }
                });
            }
        });
        MediaListener {
            pending,
            unclaimed: Mutex::new(rx),
            local_addr,
            task,
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// The next session no one was waiting for; `None` once the listener has stopped.
    pub async fn accept(&self) -> Option<MediaSession> {
        self.unclaimed.lock().await.recv().await
    }

    /// Announces a channel id before the channel is made, so that its session cannot be missed;
    /// await the result for the session.
    pub fn expect(&self, channel_id: &str) -> ExpectedSession {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.pending.lock() {
            m.insert(channel_id.to_owned(), tx);
        }
        ExpectedSession {
            rx,
            channel_id: channel_id.to_owned(),
            pending: self.pending.clone(),
        }
    }
}

/// A session announced with [`MediaListener::expect`].
#[derive(Debug)]
pub struct ExpectedSession {
    rx: oneshot::Receiver<MediaSession>,
    channel_id: String,
    pending: Arc<StdMutex<Pending>>,
}

impl ExpectedSession {
    /// Waits up to `timeout` for Asterisk to connect and send `MEDIA_START`.
    pub async fn wait(mut self, timeout: Duration) -> Result<MediaSession, MediaError> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(_)) => Err(MediaError::Closed),
            Err(_) => Err(MediaError::Timeout(
                "waiting for Asterisk to open the media connection",
            )),
        }
    }
}

impl Drop for ExpectedSession {
    fn drop(&mut self) {
        if let Ok(mut m) = self.pending.lock() {
            m.remove(&self.channel_id);
        }
    }
}
