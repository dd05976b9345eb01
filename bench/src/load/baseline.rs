//! The same flow written by hand with `reqwest`, `tokio-tungstenite` and `serde_json::Value`, the
//! way a small application without an SDK would: one WebSocket reader routing each event by its
//! `channel.id` or `playback.id` to the flow waiting on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{
    ChildReport, ENDPOINT, FlowConfig, FlowError, IdLog, MEDIA, drive, expect, receiver_stream,
};

type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>>;

/// A raw frame sink for [`super::capture`]: every text frame, as received.
pub type FrameLog = Arc<Mutex<Vec<String>>>;

/// The hand-written client: an HTTP client and the routing table the WebSocket reader feeds.
#[derive(Clone)]
pub struct Ari {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
    routes: Routes,
}

impl Ari {
    /// Connects the events WebSocket for `app` and starts reading it; `frames`, when given,
    /// keeps every text frame.
    pub async fn connect(config: &FlowConfig, frames: Option<FrameLog>) -> anyhow::Result<Ari> {
        let base = config.url.trim_end_matches('/').to_owned();
        let ws_base = base
            .strip_prefix("http://")
            .context("the baseline speaks plain http only")?;
        let ws_url = Url::parse_with_params(
            &format!("ws://{ws_base}/events"),
            &[
                ("app", config.app.as_str()),
                ("api_key", &format!("{}:{}", config.user, config.password)),
            ],
        )?;
        let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .context("connecting the events WebSocket")?;
        let routes: Routes = Arc::default();
        tokio::spawn(read_events(ws, routes.clone(), frames));
        Ok(Ari {
            http: crate::plain_reqwest(),
            base,
            user: config.user.clone(),
            password: config.password.clone(),
            routes,
        })
    }

    /// Sends one ARI call; fails on a non-2xx status; returns the JSON body (`Null` if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = Url::parse_with_params(&format!("{}{path}", self.base), query)?;
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&body)?);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Events whose `channel.id` or `playback.id` is one of `ids`, from now on.
    pub fn subscribe(&self, ids: &[&str]) -> mpsc::UnboundedReceiver<Value> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            routes.insert((*id).to_owned(), tx.clone());
        }
        rx
    }

    /// Stops routing `ids`.
    pub fn unsubscribe(&self, ids: &[&str]) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            routes.remove(*id);
        }
    }
}

/// Reads the WebSocket until it closes, routing each event.
async fn read_events<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    routes: Routes,
    frames: Option<FrameLog>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if let Some(frames) = &frames {
            frames
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(text.as_str().to_owned());
        }
        let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let key = event
            .pointer("/channel/id")
            .or_else(|| event.pointer("/playback/id"))
            .and_then(Value::as_str);
        if let Some(key) = key {
            let routes = routes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = routes.get(key) {
                let _ = tx.send(event);
            }
        }
    }
}

/// Runs the configured flows through the baseline.
pub async fn run(config: &FlowConfig) -> anyhow::Result<ChildReport> {
    let ari = Ari::connect(config, None).await?;
    let rss_connected_kib = crate::procstat::rss_now_kib();
    let ids = IdLog::default();
    let mut report = drive(config, |_| {
        let (ari, ids, app) = (ari.clone(), ids.clone(), config.app.clone());
        let timeout = config.event_timeout;
        async move { flow(&ari, &ids, &app, timeout).await }
    })
    .await;
    report.implementation = "baseline".into();
    report.channel_ids = ids.take();
    report.rss_connected_kib = rss_connected_kib;
    Ok(report)
}

/// The event's `type`.
fn kind(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}

/// One call, as in [`super::sdk`].
async fn flow(ari: &Ari, ids: &IdLog, app: &str, timeout: Duration) -> Result<Duration, FlowError> {
    let channel = uuid::Uuid::new_v4().to_string();
    let other_half = uuid::Uuid::new_v4().to_string();
    let playback = uuid::Uuid::new_v4().to_string();
    ids.add(&[&channel, &other_half]);
    let mut events = ari.subscribe(&[&channel, &playback]);
    let started = Instant::now();
    let result = async {
        ari.call(
            Method::POST,
            &format!("/channels/{channel}"),
            &[
                ("endpoint", ENDPOINT),
                ("app", app),
                ("otherChannelId", &other_half),
            ],
            Some(json!({"variables": {"BENCH_FLOW": "1", "BENCH_IMPL": "baseline"}})),
        )
        .await
        .map_err(|e| FlowError::Call(e.to_string()))?;
        wait(&mut events, "StasisStart", timeout).await?;
        ari.call(
            Method::POST,
            &format!("/channels/{channel}/answer"),
            &[],
            None,
        )
        .await
        .map_err(|e| FlowError::Call(e.to_string()))?;
        ari.call(
            Method::POST,
            &format!("/channels/{channel}/play/{playback}"),
            &[("media", MEDIA)],
            None,
        )
        .await
        .map_err(|e| FlowError::Call(e.to_string()))?;
        wait(&mut events, "PlaybackFinished", timeout).await?;
        ari.call(Method::DELETE, &format!("/channels/{channel}"), &[], None)
            .await
            .map_err(|e| FlowError::Call(e.to_string()))?;
        wait(&mut events, "StasisEnd", timeout).await?;
        Ok(started.elapsed())
    }
    .await;
    ari.unsubscribe(&[&channel, &playback]);
    if result.is_err() {
        let _ = ari
            .call(Method::DELETE, &format!("/channels/{channel}"), &[], None)
            .await;
    }
    result
}

/// The next event of type `wanted`.
async fn wait(
    events: &mut mpsc::UnboundedReceiver<Value>,
    wanted: &'static str,
    timeout: Duration,
) -> Result<Value, FlowError> {
    expect(
        wanted,
        timeout,
        &mut receiver_stream(events),
        |e: &Value| kind(e) == wanted,
    )
    .await
}
