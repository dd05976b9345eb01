//! Resync after a reconnect: what exists now, and pruning subscriptions whose resource is gone.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{ResourceKey, Shared};
use crate::client::Client;
use crate::error::{ErrorKind, Result};
use crate::generated::models::{Bridge, Channel};
use crate::generated::resources::{Resync, list_for_resync};

/// The channels and bridges that exist on the server at one moment, to rebuild application
/// state after [`StreamItem::Reconnected`](crate::events::StreamItem::Reconnected).
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Every channel.
    pub channels: Vec<Channel>,
    /// Every bridge.
    pub bridges: Vec<Bridge>,
}

impl Client {
    /// Lists channels and bridges (two requests, sent together).
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let (channels, bridges) =
            futures::try_join!(self.channels().list().send(), self.bridges().list().send())?;
        Ok(Snapshot { channels, bridges })
    }
}

/// Ends the subscriptions, made before reconnect number `generation`, of resources that no
/// longer exist: their last event was sent while the connection was down. On any failure to
/// learn what exists, nothing is ended.
pub(super) async fn prune(shared: Arc<Shared>, client: Client, generation: u64) {
    let listed: HashSet<ResourceKey> = match list_for_resync(&client).await {
        Ok(keys) => keys.into_iter().collect(),
        Err(e) => {
            tracing::warn!(error = %e, "resync after reconnect failed; keeping subscriptions");
            return;
        }
    };

    // Kinds with no list operation (playbacks, recordings): ask for each one subscribed.
    let others: Vec<ResourceKey> = shared
        .routes()
        .iter()
        .filter(|(k, routes)| {
            k.kind().resync() == Resync::Get && routes.iter().any(|r| r.generation < generation)
        })
        .map(|(k, _)| k.clone())
        .collect();
    let mut gone: HashSet<ResourceKey> = HashSet::new();
    for key in others {
        match key.look_up(&client).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Http && e.status() == Some(404) => {
                gone.insert(key);
            }
            Err(e) => {
                tracing::debug!(error = %e, %key, "resync lookup failed; keeping subscription");
            }
        }
    }

    // A later reconnect's resync supersedes this one.
    if shared.generation.load(Ordering::Acquire) != generation {
        return;
    }
    let mut routes = shared.routes();
    routes.retain(|key, list| {
        let exists = match key.kind().resync() {
            Resync::List => listed.contains(key),
            Resync::Get => !gone.contains(key),
            // Nothing ends it: nothing waits for its end.
            Resync::Keep => true,
        };
        if !exists {
            // Dropping a route's sender ends its stream once queued events are taken.
            list.retain(|r| r.generation >= generation);
            if !list.is_empty() {
                return true;
            }
            tracing::debug!(%key, "resource gone after reconnect; ending its event stream");
            return false;
        }
        true
    });
}
