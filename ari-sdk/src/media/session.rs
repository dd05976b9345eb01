//! One media connection: a reader task that turns WebSocket messages into [`MediaItem`]s and
//! keeps the flow-control state, and a [`MediaSender`] that paces audio into Asterisk's queue.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::MediaError;
use super::protocol::{ControlFormat, ControlParseError, MediaCommand, MediaEvent, MediaStart};
use crate::meta::{Release, Support};

/// Asterisk's queue levels (`QUEUE_LENGTH_*` in chan_websocket.c, in frames).
const ASTERISK_QUEUE_MAX: u32 = 1000;

/// Settings of a media session.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Most frames the sender lets Asterisk hold queued, by its own playout estimate (default
    /// 950: above Asterisk's XOFF level of 900, so XOFF/XON still steer, and below its hard
    /// limit of 1000, past which Asterisk drops whole messages without a word).
    pub max_queued_frames: u32,
    /// Items the receiver buffers for the application (default 500, 10 s of 20 ms audio); when
    /// full, the reader stops reading the socket, so the back-pressure reaches Asterisk's TCP
    /// buffer rather than memory.
    pub receive_buffer: usize,
    /// How long to wait for `MEDIA_START` after the WebSocket opens (default 10 s).
    pub start_timeout: Duration,
    /// Most whole frames [`MediaSender::send_audio`] puts in one WebSocket message (default 1).
    /// Asterisk splits a longer message into frames itself, so with audio handed over in
    /// larger pieces (text-to-speech output, a file), 5 sends a tenth of a second per message
    /// and the socket writes fall fivefold; the pacing and the queue estimate still count
    /// frames. Passthrough codecs are always sent one frame per message.
    pub frames_per_message: u32,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            max_queued_frames: 950,
            receive_buffer: 500,
            start_timeout: Duration::from_secs(10),
            frames_per_message: 1,
        }
    }
}

/// The audio format of a session, from `MEDIA_START`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    /// Asterisk's name for it (`slin16`, `ulaw`, `opus`, ...).
    pub name: Arc<str>,
    /// Samples per second, when the name is one this SDK knows.
    pub sample_rate: Option<u32>,
    /// Bytes in one frame; 0 for passthrough codecs, whose frames the app sizes.
    pub frame_size: usize,
    /// Milliseconds per frame.
    pub ptime: u32,
}

impl MediaFormat {
    fn from_start(start: &MediaStart) -> MediaFormat {
        MediaFormat {
            name: start.format.as_str().into(),
            sample_rate: sample_rate(&start.format),
            frame_size: start.optimal_frame_size,
            ptime: start.ptime,
        }
    }

    /// Whether this is signed linear PCM (`slin`, `slin16`, ...: 16-bit little-endian mono).
    pub fn is_slin(&self) -> bool {
        self.name.starts_with("slin")
    }

    /// Whether Asterisk passes frames through as sent (no fixed frame size).
    pub fn is_passthrough(&self) -> bool {
        self.frame_size == 0
    }

    /// The byte that encodes silence (used to pad the last partial frame).
    pub fn silence_byte(&self) -> u8 {
        match &*self.name {
            "ulaw" => 0xFF,
            "alaw" => 0xD5,
            _ => 0,
        }
    }
}

fn sample_rate(name: &str) -> Option<u32> {
    Some(match name {
        "slin" | "ulaw" | "alaw" | "gsm" | "g729" | "ilbc" | "g726" | "g726aal2" | "speex"
        | "lpc10" | "adpcm" => 8000,
        "g722" | "speex16" | "slin16" => 16000,
        "speex32" => 32000,
        "opus" => 48000,
        "slin44" => 44100,
        s => s.strip_prefix("slin")?.parse::<u32>().ok()? * 1000,
    })
}

/// One frame of the call's audio, with its format.
#[derive(Clone, Debug)]
pub struct AudioFrame {
    /// The encoded audio, as Asterisk sent it.
    pub data: Bytes,
    /// Its format (shared by every frame of the session).
    pub format: Arc<MediaFormat>,
}

/// Why a media session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionClosed {
    /// The WebSocket close code, when the peer sent one (Asterisk sends 1000 on a normal hangup).
    pub code: Option<u16>,
    /// The close reason text, if any.
    pub reason: String,
    /// A transport error that ended the session instead of a close handshake.
    pub error: Option<String>,
}

/// What the receiver yields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum MediaItem {
    /// Call audio.
    Audio(AudioFrame),
    /// A control event (`MEDIA_XOFF`/`MEDIA_XON` are also acted on by the sender).
    Event(MediaEvent),
    /// A text message that could not be parsed; the session goes on.
    BadControl(ControlParseError),
    /// The session ended (the far end hung up, or the connection broke). Always the last item.
    Closed(SessionClosed),
}

type BoxSink = Pin<Box<dyn Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Send>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Open,
    Xoff,
    Closed,
}

struct Shared {
    sink: Mutex<BoxSink>,
    flow: watch::Sender<Flow>,
    format: ControlFormat,
    release: std::sync::Mutex<Option<Release>>,
    known_majors: &'static [u16],
    xoffs: AtomicU64,
}

/// Counters of a session's sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Audio frames sent.
    pub frames_sent: u64,
    /// `MEDIA_XOFF` events received.
    pub xoffs: u64,
    /// Times the sender waited (for XON or for its queue estimate to fall).
    pub waits: u64,
}

/// A media connection whose `MEDIA_START` has arrived.
pub struct MediaSession {
    start: MediaStart,
    sender: MediaSender,
    receiver: MediaReceiver,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl MediaSession {
    /// Runs the media protocol on an open WebSocket (one that Asterisk opened to the app, or
    /// one the app opened to Asterisk): waits for `MEDIA_START`, then starts the reader task.
    ///
    /// `release` gates commands ([`MediaCommand::availability`]); `None` does not gate.
    pub async fn from_websocket<S>(
        ws: WebSocketStream<S>,
        release: Option<Release>,
        options: SessionOptions,
    ) -> Result<MediaSession, MediaError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::from_websocket_guarded(ws, release, options, None).await
    }

    /// Like [`MediaSession::from_websocket`], keeping `guard` alive as long as the connection.
    pub(crate) async fn from_websocket_guarded<S>(
        mut ws: WebSocketStream<S>,
        release: Option<Release>,
        options: SessionOptions,
        guard: Option<Box<dyn std::any::Any + Send>>,
    ) -> Result<MediaSession, MediaError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let first = tokio::time::timeout(options.start_timeout, async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
                    Some(Ok(Message::Binary(b))) => {
                        return Err(MediaError::Protocol(format!(
                            "a {}-byte binary frame before MEDIA_START",
                            b.len()
                        )));
                    }
                    Some(Ok(Message::Close(c))) => {
                        return Err(MediaError::Protocol(format!(
                            "closed before MEDIA_START ({})",
                            close_text(c.as_ref())
                        )));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(MediaError::WebSocket(e.to_string())),
                    None => {
                        return Err(MediaError::Protocol(
                            "connection ended before MEDIA_START".into(),
                        ));
                    }
                }
            }
        })
        .await
        .map_err(|_| MediaError::Timeout("waiting for MEDIA_START"))??;
        let start = match MediaEvent::parse(&first).map_err(MediaError::BadStart)? {
            MediaEvent::MediaStart(s) => s,
            other => {
                return Err(MediaError::Protocol(format!(
                    "expected MEDIA_START first, got {other:?}"
                )));
            }
        };
        let control = ControlFormat::of_message(&first);
        let format = Arc::new(MediaFormat::from_start(&start));
        if format.ptime == 0 {
            return Err(MediaError::Protocol("MEDIA_START with ptime 0".into()));
        }
        let (sink, stream) = ws.split();
        let (flow, _) = watch::channel(Flow::Open);
        let shared = Arc::new(Shared {
            sink: Mutex::new(Box::pin(sink)),
            flow,
            format: control,
            release: std::sync::Mutex::new(release),
            known_majors: crate::default_known_majors(),
            xoffs: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel(options.receive_buffer.max(1));
        tokio::spawn(read_loop(stream, tx, shared.clone(), format.clone(), guard));
        tracing::debug!(channel = %start.channel, format = %start.format, ?control, "media session started");
        let max_queued = options.max_queued_frames.clamp(1, ASTERISK_QUEUE_MAX - 1);
        Ok(MediaSession {
            sender: MediaSender {
                shared,
                format: format.clone(),
                carry: BytesMut::new(),
                playout_end: Instant::now(),
                ptime: Duration::from_millis(u64::from(format.ptime)),
                max_queued,
                frames_per_message: options.frames_per_message.clamp(1, max_queued),
                stats: SenderStats::default(),
            },
            receiver: MediaReceiver { rx, done: false },
            start,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// The `MEDIA_START` event that opened the session.
    pub fn start(&self) -> &MediaStart {
        &self.start
    }

    /// The session's audio format.
    pub fn format(&self) -> &Arc<MediaFormat> {
        &self.sender.format
    }

    /// The runtime the session's reader task runs on (with its socket, when the session was
    /// opened there): spawn the tasks that consume its audio on it, so that a frame wakes no
    /// other thread. With a [`PacedRuntime`](super::PacedRuntime), that is the session's worker.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// The control format the session speaks (learned from `MEDIA_START`).
    pub fn control_format(&self) -> ControlFormat {
        self.sender.shared.format
    }

    /// Sets the release that commands are gated by (learned after the connection came in).
    pub(crate) fn set_release(&mut self, release: Option<Release>) {
        if let Ok(mut r) = self.sender.shared.release.lock() {
            *r = release;
        }
    }

    /// Splits into a sender and a receiver that can run in different tasks.
    pub fn split(self) -> (MediaSender, MediaReceiver) {
        (self.sender, self.receiver)
    }

    /// The sender half.
    pub fn sender(&mut self) -> &mut MediaSender {
        &mut self.sender
    }

    /// The receiver half.
    pub fn receiver(&mut self) -> &mut MediaReceiver {
        &mut self.receiver
    }

    /// The next item from Asterisk; see [`MediaReceiver::recv`].
    pub async fn recv(&mut self) -> Option<MediaItem> {
        self.receiver.recv().await
    }
}

fn close_text(c: Option<&CloseFrame>) -> String {
    match c {
        Some(c) => format!("code {}, reason `{}`", u16::from(c.code), c.reason),
        None => "no close frame".into(),
    }
}

async fn read_loop<St>(
    mut stream: St,
    tx: mpsc::Sender<MediaItem>,
    shared: Arc<Shared>,
    format: Arc<MediaFormat>,
    // Held until the connection ends (the listener's connection slot).
    _guard: Option<Box<dyn std::any::Any + Send>>,
) where
    St: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    // Once the application has dropped its receiver, items are discarded on purpose (it said it
    // does not want them); flow control still runs.
    let deliver = |item: MediaItem| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(item).await;
        }
    };
    let closed = loop {
        let msg = match stream.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                break SessionClosed {
                    code: None,
                    reason: String::new(),
                    error: Some(e.to_string()),
                };
            }
            None => {
                break SessionClosed {
                    code: None,
                    reason: String::new(),
                    error: Some("the connection ended without a close frame".into()),
                };
            }
        };
        match msg {
            Message::Binary(data) => {
                deliver(MediaItem::Audio(AudioFrame {
                    data,
                    format: format.clone(),
                }))
                .await
            }
            Message::Text(t) => match MediaEvent::parse(t.as_str()) {
                Ok(event) => {
                    match event {
                        MediaEvent::MediaXoff => {
                            shared.xoffs.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!("MEDIA_XOFF: pausing audio");
                            shared.flow.send_if_modified(|f| set_flow(f, Flow::Xoff));
                        }
                        MediaEvent::MediaXon => {
                            tracing::debug!("MEDIA_XON: resuming audio");
                            shared.flow.send_if_modified(|f| set_flow(f, Flow::Open));
                        }
                        _ => {}
                    }
                    deliver(MediaItem::Event(event)).await
                }
                Err(e) => {
                    tracing::warn!(error = %e, "media control message not understood");
                    deliver(MediaItem::BadControl(e)).await
                }
            },
            Message::Close(c) => {
                break SessionClosed {
                    code: c.as_ref().map(|c| u16::from(c.code)),
                    reason: c.map(|c| c.reason.as_str().to_owned()).unwrap_or_default(),
                    error: None,
                };
            }
            _ => {}
        }
    };
    tracing::debug!(?closed, "media session closed");
    shared.flow.send_replace(Flow::Closed);
    deliver(MediaItem::Closed(closed)).await;
}

fn set_flow(f: &mut Flow, to: Flow) -> bool {
    if *f == Flow::Closed || *f == to {
        return false;
    }
    *f = to;
    true
}

/// The receiving half: call audio and control events, in the order Asterisk sent them.
#[derive(Debug)]
pub struct MediaReceiver {
    rx: mpsc::Receiver<MediaItem>,
    done: bool,
}

impl MediaReceiver {
    /// The next item; [`MediaItem::Closed`] comes once, last, then `None`.
    pub async fn recv(&mut self) -> Option<MediaItem> {
        if self.done {
            return None;
        }
        let item = self.rx.recv().await;
        if matches!(item, Some(MediaItem::Closed(_)) | None) {
            self.done = true;
        }
        item
    }
}

/// The sending half: audio paced into Asterisk's queue, and commands.
///
/// Pacing: Asterisk plays one frame per `ptime` and queues the rest (at most 1000 frames; at 900
/// it sends `MEDIA_XOFF`, below 800 `MEDIA_XON`). The sender keeps an estimate of that queue
/// (frames sent minus frames Asterisk has played since) and waits while the estimate is at
/// [`SessionOptions::max_queued_frames`] or while Asterisk said `MEDIA_XOFF`. So a producer
/// faster than real time is slowed to real time, the bytes in flight stay bounded, and nothing
/// is dropped.
pub struct MediaSender {
    shared: Arc<Shared>,
    format: Arc<MediaFormat>,
    carry: BytesMut,
    playout_end: Instant,
    ptime: Duration,
    max_queued: u32,
    frames_per_message: u32,
    stats: SenderStats,
}

impl std::fmt::Debug for MediaSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSender")
            .field("format", &self.format)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl MediaSender {
    /// The session's audio format.
    pub fn format(&self) -> &Arc<MediaFormat> {
        &self.format
    }

    /// Counters so far.
    pub fn stats(&self) -> SenderStats {
        SenderStats {
            xoffs: self.shared.xoffs.load(Ordering::Relaxed),
            ..self.stats
        }
    }

    /// Frames Asterisk is estimated to hold queued now.
    pub fn queued_estimate(&self) -> u32 {
        let ahead = self.playout_end.saturating_duration_since(Instant::now());
        ahead.as_micros().div_ceil(self.ptime.as_micros().max(1)) as u32
    }

    /// Sends audio of any length in the session's format. Whole frames go out at once (paced);
    /// a partial frame at the end waits for the next call, [`MediaSender::finish_audio`] or a
    /// queued command. Not for passthrough codecs, whose frames the app must size
    /// ([`MediaSender::send_frame`]).
    pub async fn send_audio(&mut self, audio: &[u8]) -> Result<(), MediaError> {
        if self.format.is_passthrough() {
            return Err(MediaError::NeedsFraming {
                format: self.format.name.to_string(),
            });
        }
        let size = self.format.frame_size;
        self.carry.extend_from_slice(audio);
        while self.carry.len() >= size {
            let frames = (self.carry.len() / size).min(self.frames_per_message as usize);
            let message = self.carry.split_to(frames * size).freeze();
            self.write_frames(message, frames as u32).await?;
        }
        Ok(())
    }

    /// Sends the partial frame left by [`MediaSender::send_audio`], padded with silence.
    pub async fn finish_audio(&mut self) -> Result<(), MediaError> {
        if self.carry.is_empty() {
            return Ok(());
        }
        let size = self.format.frame_size;
        self.carry.resize(size, self.format.silence_byte());
        let frame = self.carry.split_to(size).freeze();
        self.write_frame(frame).await
    }

    /// Sends one frame as is, framed and timed by the application: for passthrough codecs
    /// (opus, speex, g729, ...) any non-empty frame, otherwise exactly the format's frame size.
    pub async fn send_frame(&mut self, frame: Bytes) -> Result<(), MediaError> {
        let expected = self.format.frame_size;
        if frame.is_empty() || (expected != 0 && frame.len() != expected) {
            return Err(MediaError::FrameSize {
                format: self.format.name.to_string(),
                got: frame.len(),
                expected: (expected != 0).then_some(expected),
            });
        }
        if !self.carry.is_empty() {
            return Err(MediaError::Protocol(
                "send_frame after a partial send_audio: call finish_audio first".into(),
            ));
        }
        self.write_frame(frame).await
    }

    async fn write_frame(&mut self, frame: Bytes) -> Result<(), MediaError> {
        self.write_frames(frame, 1).await
    }

    /// Writes `frames` whole frames as one message, once Asterisk's queue has room for them.
    async fn write_frames(&mut self, message: Bytes, frames: u32) -> Result<(), MediaError> {
        self.wait_for_room(frames).await?;
        let now = Instant::now();
        self.playout_end = self.playout_end.max(now) + self.ptime * frames;
        self.write(Message::Binary(message)).await?;
        self.stats.frames_sent += u64::from(frames);
        Ok(())
    }

    async fn wait_for_room(&mut self, frames: u32) -> Result<(), MediaError> {
        // The common case, a sender at real time with the flow open, needs no subscription
        // and no timer: this runs once per message (50 times a second per session at one
        // frame per message).
        let state = *self.shared.flow.borrow();
        if state == Flow::Open && Instant::now() >= self.room_at(frames) {
            return Ok(());
        }
        let mut flow = self.shared.flow.subscribe();
        let mut waited = false;
        loop {
            let state = *flow.borrow_and_update();
            match state {
                Flow::Closed => return Err(MediaError::Closed),
                Flow::Xoff => {
                    waited = true;
                    // Woken by XON or by the close.
                    let _ = flow.changed().await;
                    continue;
                }
                Flow::Open => {}
            }
            let room_at = self.room_at(frames);
            if Instant::now() >= room_at {
                if waited {
                    self.stats.waits += 1;
                }
                return Ok(());
            }
            waited = true;
            tokio::select! {
                () = tokio::time::sleep_until(room_at) => {}
                _ = flow.changed() => {}
            }
        }
    }

    /// When there is room for `frames` more frames: once at most `max_queued - frames` are
    /// ahead of real time.
    fn room_at(&self, frames: u32) -> Instant {
        self.playout_end
            .checked_sub(self.ptime * self.max_queued.saturating_sub(frames))
            .unwrap_or(self.playout_end)
    }

    async fn write(&self, msg: Message) -> Result<(), MediaError> {
        if *self.shared.flow.borrow() == Flow::Closed {
            return Err(MediaError::Closed);
        }
        let mut sink = self.shared.sink.lock().await;
        sink.send(msg)
            .await
            .map_err(|e| MediaError::WebSocket(e.to_string()))
    }

    /// Sends a command, after the audio sent before it. A command that Asterisk queues with the
    /// audio (`MARK_MEDIA`, `START`/`STOP_MEDIA_BUFFERING`) first sends a partial frame left
    /// over, padded with silence, so that the mark lands after all of it. `FLUSH_MEDIA` also
    /// drops that partial frame and resets the queue estimate.
    ///
    /// Refused before sending when the server's release lacks the command, when the control
    /// format cannot carry it, or when it would exceed Asterisk's 128-byte limit.
    pub async fn command(&mut self, command: MediaCommand) -> Result<(), MediaError> {
        let release = self.shared.release.lock().ok().and_then(|r| *r);
        if let Some(release) = release {
            let availability = command.availability();
            if availability.support(release, self.shared.known_majors) == Support::No {
                return Err(MediaError::Unsupported {
                    what: command.name().to_owned(),
                    server: release,
                    availability,
                });
            }
        }
        let text = command.encode(self.shared.format)?;
        if command.is_queued() {
            self.finish_audio().await?;
        }
        if command == MediaCommand::FlushMedia {
            self.carry.clear();
            self.playout_end = Instant::now();
        }
        self.write(Message::text(text)).await
    }

    /// Places a mark after the audio sent so far; Asterisk answers
    /// [`MediaEvent::MediaMarkProcessed`] with `id` when playback reaches it.
    pub async fn mark(&mut self, id: impl Into<String>) -> Result<(), MediaError> {
        self.command(MediaCommand::MarkMedia {
            correlation_id: Some(id.into()),
        })
        .await
    }

    /// Asks Asterisk to hang the channel up (`HANGUP`).
    pub async fn hangup(&mut self) -> Result<(), MediaError> {
        self.command(MediaCommand::Hangup).await
    }

    /// Sends a raw text message, unchecked (for fault injection and commands this SDK does not
    /// know).
    pub async fn send_raw_text(&mut self, text: impl Into<String>) -> Result<(), MediaError> {
        self.write(Message::text(text.into())).await
    }

    /// Closes the WebSocket (Asterisk hangs the channel up).
    pub async fn close(&mut self) -> Result<(), MediaError> {
        let mut sink = self.shared.sink.lock().await;
        sink.close()
            .await
            .map_err(|e| MediaError::WebSocket(e.to_string()))
    }
}
