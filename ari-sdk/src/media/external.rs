//! `POST /channels/externalMedia` with `transport=websocket`, `connection_type=server`, and the
//! connection to Asterisk's `/media/<connection id>` that goes with it.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use url::Url;

use super::MediaError;
use super::protocol::{ControlFormat, WEBSOCKET_MEDIA};
use super::session::{MediaSession, SessionOptions};
use crate::Client;
use crate::generated::models::Channel;
use crate::generated::ops::channels::ExternalMediaResponseType;
use crate::meta::{Availability, Release, Support};

/// The channel variable that holds a media channel's connection id.
pub const CONNECTION_ID_VARIABLE: &str = "MEDIA_WEBSOCKET_CONNECTION_ID";

/// The WebSocket sub-protocol chan_websocket registers.
const MEDIA_PROTOCOL: &str = "media";

/// The media URL of a connection id on the server `client` talks to: the ARI base URL without
/// its trailing `/ari`, with `ws`/`wss` and `/media/<connection id>`.
pub fn media_url(client: &Client, connection_id: &str) -> Result<Url, MediaError> {
    let mut url = client.base_url().clone();
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| MediaError::Protocol(format!("cannot make a {scheme} URL")))?;
    let path = url.path().trim_end_matches('/');
    let root = path.strip_suffix("/ari").unwrap_or(path).to_owned();
    // Asterisk matches the id undecoded (`no_decode_uri`), so only what cannot stand in a path
    // segment is escaped; its ids are UUIDs, which pass unchanged.
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'/')
        .add(b'?')
        .add(b'#')
        .add(b'%');
    let encoded = percent_encoding::utf8_percent_encode(connection_id, SEGMENT).to_string();
    url.set_path(&format!("{root}/media/{encoded}"));
    url.set_query(None);
    Ok(url)
}

/// Creates a chan_websocket channel that the app connects to, and connects it; from
/// [`Client::websocket_media`].
#[derive(Debug)]
#[must_use = "nothing happens until `.connect().await`"]
pub struct WebSocketMedia {
    client: Client,
    app: String,
    format: String,
    channel_id: Option<String>,
    variables: BTreeMap<String, String>,
    control_format: Option<ControlFormat>,
    no_auto_answer: bool,
    passthrough: bool,
    options: SessionOptions,
    connect_timeout: Duration,
    runtime: Option<tokio::runtime::Handle>,
}

impl Client {
    /// A media channel over chan_websocket (`transport=websocket`, `connection_type=server`)
    /// in Stasis app `app`, with audio in `format` (`slin16`, `ulaw`, `opus`, ...).
    /// `.connect().await` returns the channel and a session whose `MEDIA_START` has arrived.
    pub fn websocket_media(
        &self,
        app: impl Into<String>,
        format: impl Into<String>,
    ) -> WebSocketMedia {
        WebSocketMedia {
            client: self.clone(),
            app: app.into(),
            format: format.into(),
            channel_id: None,
            variables: BTreeMap::new(),
            control_format: None,
            no_auto_answer: false,
            passthrough: false,
            options: SessionOptions::default(),
            connect_timeout: Duration::from_secs(10),
            runtime: None,
        }
    }
}

impl WebSocketMedia {
    /// The id to give the channel.
    pub fn channel_id(mut self, id: impl Into<String>) -> Self {
        self.channel_id = Some(id.into());
        self
    }

    /// A channel variable to set on creation.
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.insert(name.into(), value.into());
        self
    }

    /// The control format for this call (`transport_data` `f(...)`, 20.18 / 22.8 / 23.2+).
    /// Without it the server's `chan_websocket.conf` default applies (plain text unless
    /// configured); the session learns the format from `MEDIA_START` either way.
    pub fn control_format(mut self, format: ControlFormat) -> Self {
        self.control_format = Some(format);
        self
    }

    /// Do not answer the channel when the media connects (dial-string option `n`); send
    /// `ANSWER` when ready.
    pub fn no_auto_answer(mut self) -> Self {
        self.no_auto_answer = true;
        self
    }

    /// Pass frames through as the app sizes them (dial-string option `p`).
    pub fn passthrough(mut self) -> Self {
        self.passthrough = true;
        self
    }

    /// Session settings (pacing, receive buffer, `MEDIA_START` timeout).
    pub fn session_options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }

    /// The runtime that owns the session's socket and its reader task (default: the one
    /// `connect` is awaited on), such as a [`PacedRuntime`](super::PacedRuntime) worker's
    /// [`handle`](super::PacedRuntime::handle). The REST calls stay on the caller's runtime.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    fn transport_data(&self) -> Option<String> {
        let mut s = String::new();
        if self.no_auto_answer {
            s.push('n');
        }
        if self.passthrough {
            s.push('p');
        }
        match self.control_format {
            Some(ControlFormat::Json) => s.push_str("f(json)"),
            Some(ControlFormat::PlainText) => s.push_str("f(plain-text)"),
            None => {}
        }
        (!s.is_empty()).then_some(s)
    }

    /// Creates the channel, connects its media WebSocket and waits for `MEDIA_START`.
    ///
    /// Refused before anything is sent when the server's release lacks chan_websocket (or the
    /// JSON control format, when asked for). If the media connection fails after the channel
    /// was made, the channel is hung up before the error is returned.
    pub async fn connect(self) -> Result<(Channel, MediaSession), MediaError> {
        let (channel, release) = self.create("server", None).await?;
        match self.open(&channel, release).await {
            Ok(session) => Ok((channel, session)),
            Err(e) => {
                let _ = self
                    .client
                    .channels()
                    .hangup(channel.id.clone())
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    /// Like [`WebSocketMedia::connect`], and also waits until the channel has entered the Stasis
    /// app (its `StasisStart`, seen through `router`), so it can be bridged at once.
    ///
    /// chan_websocket sends `MEDIA_START` before it answers the channel, and the channel
    /// enters the app only once answered: a bridge made right after [`WebSocketMedia::connect`]
    /// can be refused with "Channel not in Stasis application". The channel is subscribed
    /// before it exists, so its `StasisStart` cannot be missed; the returned events carry the
    /// rest of its life. With [`WebSocketMedia::no_auto_answer`] the channel enters the app
    /// only after the app sends `ANSWER`, so this returns at `MEDIA_START` and the app waits
    /// for `StasisStart` on the returned events itself.
    ///
    /// On failure (the channel ends first, or no `StasisStart` within the connect timeout)
    /// the channel is hung up before the error is returned.
    pub async fn connect_routed(
        mut self,
        router: &crate::routing::Router,
    ) -> Result<RoutedMedia, MediaError> {
        let id = self
            .channel_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        let mut events = router.channel(id.clone()).events;
        let (channel, release) = self.create("server", None).await?;
        let ready = async {
            let session = self.open(&channel, release).await?;
            if !self.no_auto_answer {
                wait_for_stasis_start(&mut events, &id, self.connect_timeout).await?;
            }
            Ok::<_, MediaError>(session)
        };
        match ready.await {
            Ok(session) => Ok(RoutedMedia {
                channel,
                session,
                events,
            }),
            Err(e) => {
                let _ = self.client.channels().hangup(id).send().await;
                Err(e)
            }
        }
    }

    /// Connection type `client`: Asterisk connects to the app through the
    /// `websocket_client.conf` entry `connection` and `listener` receives the connection. The
    /// channel id is announced to the listener before the channel is made (one is generated
    /// unless [`WebSocketMedia::channel_id`] gave it), so the session cannot be missed; returns
    /// once `MEDIA_START` has arrived. On failure the channel is hung up.
    pub async fn connect_via(
        mut self,
        connection: &str,
        listener: &super::MediaListener,
    ) -> Result<(Channel, MediaSession), MediaError> {
        let id = self
            .channel_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        let expected = listener.expect(&id);
        let (channel, release) = self.create("client", Some(connection)).await?;
        match expected.wait(self.connect_timeout).await {
            Ok(mut session) => {
                session.set_release(release);
                Ok((channel, session))
            }
            Err(e) => {
                let _ = self
                    .client
                    .channels()
                    .hangup(channel.id.clone())
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn create(
        &self,
        connection_type: &str,
        external_host: Option<&str>,
    ) -> Result<(Channel, Option<Release>), MediaError> {
        let release = self.client.server_version().await?.and_then(|v| v.release);
        if let Some(release) = release {
            gate(
                "transport=websocket (chan_websocket)",
                WEBSOCKET_MEDIA,
                release,
            )?;
            if let Some(f) = self.control_format {
                gate(
                    &format!("the {f:?} control format"),
                    f.availability(),
                    release,
                )?;
            }
        }
        let mut req = self
            .client
            .channels()
            .external_media(self.app.clone(), self.format.clone())
            .transport("websocket")
            .encapsulation("none")
            .connection_type(connection_type.to_owned());
        if let Some(host) = external_host {
            req = req.external_host(host.to_owned());
        }
        if let Some(id) = &self.channel_id {
            req = req.channel_id(id.clone());
        }
        if !self.variables.is_empty() {
            req = req.variables(self.variables.clone());
        }
        if let Some(td) = self.transport_data() {
            req = req.transport_data(td);
        }
        let channel = match req.send().await? {
            ExternalMediaResponseType::Channel(c) => c,
            ExternalMediaResponseType::ExternalMedia(m) => m.channel,
        };
        Ok((channel, release))
    }

    async fn open(
        &self,
        channel: &Channel,
        release: Option<Release>,
    ) -> Result<MediaSession, MediaError> {
        let from_vars = channel
            .channelvars
            .as_ref()
            .and_then(|v| v.get(CONNECTION_ID_VARIABLE))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let connection_id = match from_vars {
            Some(id) => id,
            None => {
                self.client
                    .channels()
                    .get_channel_var(channel.id.clone(), CONNECTION_ID_VARIABLE)
                    .send()
                    .await?
                    .value
            }
        };
        let url = media_url(&self.client, &connection_id)?;
        let url_text = url.to_string();
        let connect_err = move |message: String| MediaError::Connect {
            url: url_text.clone(),
            message,
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| connect_err(e.to_string()))?;
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL,
            tokio_tungstenite::tungstenite::http::HeaderValue::from_static(MEDIA_PROTOCOL),
        );
        #[cfg(feature = "rustls")]
        let connector = Some(if url.scheme() == "wss" {
            tokio_tungstenite::Connector::Rustls(self.client.inner.tls.clone())
        } else {
            tokio_tungstenite::Connector::Plain
        });
        // tungstenite zeroes `read_buffer_size` bytes (128 KiB by default) before every socket
        // read; media messages are one frame (at most a few KiB), 50 a second.
        let ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 * 1024);
        #[cfg(feature = "rustls")]
        let attempt = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(ws_config),
            true,
            connector,
        );
        #[cfg(not(feature = "rustls"))]
        let attempt = tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true);
        let (timeout, options) = (self.connect_timeout, self.options.clone());
        let connect = async move {
            let (ws, _) = tokio::time::timeout(timeout, attempt)
                .await
                .map_err(|_| MediaError::Timeout("opening the media WebSocket"))?
                .map_err(|e| connect_err(e.to_string()))?;
            MediaSession::from_websocket(ws, release, options).await
        };
        let Some(runtime) = &self.runtime else {
            return connect.await;
        };
        // The socket registers with the reactor of the runtime it is opened on, and the
        // reader task is spawned there: both happen on `runtime`.
        match runtime.spawn(connect).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(MediaError::Connect {
                url: url.to_string(),
                message: "the runtime given for the session has shut down".to_owned(),
            }),
        }
    }
}

/// A media channel that is in the Stasis app, with its session and its events; from
/// [`WebSocketMedia::connect_routed`].
#[derive(Debug)]
#[non_exhaustive]
pub struct RoutedMedia {
    /// The channel, as `POST /channels/externalMedia` returned it.
    pub channel: Channel,
    /// The media session, past `MEDIA_START`.
    pub session: MediaSession,
    /// The channel's events after its `StasisStart`, until its life in the app ends.
    pub events: crate::routing::ResourceEvents,
}

async fn wait_for_stasis_start(
    events: &mut crate::routing::ResourceEvents,
    id: &str,
    timeout: Duration,
) -> Result<(), MediaError> {
    use crate::Event;
    use futures::StreamExt;
    let wait = async {
        while let Some(event) = events.next().await {
            match event {
                Event::StasisStart(_) => return Ok(()),
                Event::StasisEnd(_) | Event::ChannelDestroyed(_) => {
                    return Err(MediaError::Protocol(format!(
                        "media channel {id} ended before it entered the Stasis app"
                    )));
                }
                _ => {}
            }
        }
        Err(MediaError::Protocol(format!(
            "the events connection closed before media channel {id} entered the Stasis app"
        )))
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| MediaError::Timeout("waiting for the media channel's StasisStart"))?
}

fn gate(what: &str, availability: Availability, release: Release) -> Result<(), MediaError> {
    if availability.support(release, crate::default_known_majors()) == Support::No {
        return Err(MediaError::Unsupported {
            what: what.to_owned(),
            server: release,
            availability,
        });
    }
    Ok(())
}
