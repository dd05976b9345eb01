//! Everyday flows built on the router: originate a call into the application and wait until
//! it enters, play media and wait for the end, hang up or destroy without minding that the
//! resource is gone already.

use futures::StreamExt;

use super::{Call, Router};
use crate::error::{Error, Result};
use crate::generated::events::Event;
use crate::generated::handles::{BridgeHandle, ChannelHandle};
use crate::generated::models::Playback;
use crate::generated::ops::channels::OriginateWithId;

impl Router {
    /// Originates a call to `endpoint` into Stasis application `app` (one of the applications
    /// this router's events connection registered) and waits until the far end answers and the
    /// channel enters the application; the channel is then a [`Call`], as if it had come in
    /// from the dialplan. Subscribed before the request, so no event of the channel is missed.
    ///
    /// Fails with [`ErrorKind::Hangup`](crate::ErrorKind::Hangup), and the hangup cause, when
    /// the channel is destroyed first (busy, no answer, ...). This waits as long as the
    /// endpoint rings (the originate's `timeout`, Asterisk's default 30 s); bound it with
    /// `tokio::time::timeout` if you need to, and then hang the channel up
    /// ([`ChannelHandle::hangup_if_present`]) since it may still ring.
    ///
    /// ```no_run
    /// # async fn demo(router: ari_sdk::routing::Router) -> ari_sdk::Result<()> {
    /// let call = router.originate_call("PJSIP/alice", "my-app").await?;
    /// call.channel.hangup().await?;
    /// # Ok(()) }
    /// ```
    pub async fn originate_call(
        &self,
        endpoint: impl Into<String>,
        app: impl Into<String>,
    ) -> Result<Call> {
        self.originate_call_with(endpoint, app, |o| o).await
    }

    /// [`originate_call`](Self::originate_call) with more of the originate's parameters:
    /// `configure` gets the request (channel id and application set) to add to.
    ///
    /// ```no_run
    /// # async fn demo(router: ari_sdk::routing::Router) -> ari_sdk::Result<()> {
    /// let call = router
    ///     .originate_call_with("PJSIP/alice", "my-app", |o| {
    ///         o.caller_id("Reception <100>").timeout(20)
    ///     })
    ///     .await?;
    /// # let _ = call; Ok(()) }
    /// ```
    pub async fn originate_call_with(
        &self,
        endpoint: impl Into<String>,
        app: impl Into<String>,
        configure: impl FnOnce(OriginateWithId) -> OriginateWithId,
    ) -> Result<Call> {
        let caller = self.new_channel();
        let request = configure(caller.handle.originate_with_id(endpoint).app(app));
        self.place_call(caller, request).await
    }

    /// The steps of [`originate_call`](Self::originate_call) for a channel you prepared
    /// yourself, whose id you then know before the call is placed (to hang it up if you give
    /// up waiting, say): sends `request`, which must originate `caller`'s channel
    /// (`caller.handle.originate_with_id(..)`) into an application of this router's events
    /// connection, and waits until the channel enters it.
    ///
    /// ```no_run
    /// # async fn demo(router: ari_sdk::routing::Router) -> ari_sdk::Result<()> {
    /// use std::time::Duration;
    ///
    /// let caller = router.new_channel();
    /// let handle = caller.handle.clone();
    /// let request = caller.handle.originate_with_id("PJSIP/alice").app("my-app");
    /// match tokio::time::timeout(Duration::from_secs(20), router.place_call(caller, request)).await {
    ///     Ok(call) => drop(call?),
    ///     Err(_) => drop(handle.hangup_if_present().await?),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn place_call(
        &self,
        mut caller: super::Prepared<ChannelHandle>,
        request: OriginateWithId,
    ) -> Result<Call> {
        request.await?;
        while let Some(event) = caller.events.next().await {
            match event {
                Event::StasisStart(start) => {
                    return Ok(Call {
                        start,
                        channel: caller.handle,
                        events: caller.events,
                        router: self.clone(),
                    });
                }
                Event::ChannelDestroyed(gone) => {
                    return Err(Error::hangup(
                        caller.handle.id(),
                        Some((gone.cause, gone.cause_txt)),
                        "it entered the application",
                    ));
                }
                _ => {}
            }
        }
        Err(Error::closed(Some(format!(
            "the events connection closed before channel {} entered the application",
            caller.handle.id()
        ))))
    }

    /// Plays `media` on channel `channel_id` and waits for the playback's `PlaybackFinished`;
    /// returns the playback as it finished (`state` is `done` when played to the end, `failed`
    /// when, say, the channel hung up during it). Subscribed before the playback starts, so its
    /// end cannot be missed.
    pub async fn play_on_channel(
        &self,
        channel_id: &str,
        media: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Playback> {
        let playback = self.new_playback();
        let request = self
            .client
            .channels()
            .play_with_id(channel_id, playback.handle.id(), media);
        self.play_to_end(playback, request.send()).await
    }

    /// [`play_on_channel`](Self::play_on_channel) for a bridge: every channel in it hears the
    /// media.
    pub async fn play_on_bridge(
        &self,
        bridge_id: &str,
        media: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Playback> {
        let playback = self.new_playback();
        let request = self
            .client
            .bridges()
            .play_with_id(bridge_id, playback.handle.id(), media);
        self.play_to_end(playback, request.send()).await
    }

    async fn play_to_end(
        &self,
        mut playback: super::Prepared<crate::generated::handles::PlaybackHandle>,
        start: impl std::future::Future<Output = Result<Playback>>,
    ) -> Result<Playback> {
        start.await?;
        while let Some(event) = playback.events.next().await {
            if let Event::PlaybackFinished(done) = event {
                return Ok(done.playback);
            }
        }
        Err(Error::closed(Some(format!(
            "the events connection closed before playback {} finished",
            playback.handle.id()
        ))))
    }
}

impl Call {
    /// Plays `media` to the call and waits until the playback has finished:
    /// [`Router::play_on_channel`] on this call's channel. The call's own events are left
    /// untouched on [`events`](Call::events).
    ///
    /// ```no_run
    /// # async fn demo(call: ari_sdk::routing::Call) -> ari_sdk::Result<()> {
    /// call.channel.answer().await?;
    /// let played = call.play_to_end(["sound:hello-world"]).await?;
    /// println!("playback {}: {}", played.id, played.state);
    /// call.channel.hangup_if_present().await?;
    /// # Ok(()) }
    /// ```
    pub async fn play_to_end(
        &self,
        media: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Playback> {
        self.router.play_on_channel(self.channel.id(), media).await
    }
}

impl ChannelHandle {
    /// Hangs the channel up, unless it is gone already: `Ok(true)` when this hung it up,
    /// `Ok(false)` when Asterisk no longer had it (`404`). For cleanup paths, where the far
    /// end may have hung up first.
    pub async fn hangup_if_present(&self) -> Result<bool> {
        present(self.hangup().await)
    }
}

impl BridgeHandle {
    /// Destroys the bridge, unless it is gone already: `Ok(true)` when this destroyed it,
    /// `Ok(false)` when Asterisk no longer had it (`404`). While Asterisk tears a bridge down
    /// (between a destroy and its `BridgeDestroyed`), it may answer `409` "Bridge not in Stasis
    /// application", which stays an error: the bridge is still there.
    pub async fn destroy_if_present(&self) -> Result<bool> {
        present(self.destroy().await)
    }
}

/// `Ok(true)` for done, `Ok(false)` for Asterisk's 404.
fn present(result: Result<()>) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}
