//! HTTP and the events WebSocket: authentication, routing by the release's table, parameters,
//! fault injection and the request log, in front of the handlers of [`crate::ops`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::json::J;
use crate::routes::{Found, Route, Table, ships};
use crate::state::{Frame, Shared};

/// One request as the mock received it, for tests' assertions.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path below the ARI root, e.g. `/channels/abc/answer`.
    pub path: String,
    /// The operation it matched (`channels.answer`), if any.
    pub operation: Option<String>,
    /// Query parameters, in order (`api_key` left out).
    pub query: Vec<(String, String)>,
    /// The JSON body, if one was sent.
    pub body: Option<serde_json::Value>,
    /// The status the mock answered.
    pub status: u16,
}

/// What a fault does to a matching request.
#[derive(Clone, Debug)]
pub(crate) enum FaultAction {
    Status(u16),
    Delay(Duration),
}

/// A fault to inject into the next `remaining` matching requests.
#[derive(Clone, Debug)]
pub(crate) struct Fault {
    pub(crate) operation: Option<String>,
    pub(crate) remaining: u32,
    pub(crate) action: FaultAction,
}

/// Credentials and switches shared by the connections.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) users: Vec<(String, String, bool)>,
    pub(crate) table: Table,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
}

/// The parameters of one call, as the handlers read them.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub(crate) path: BTreeMap<String, String>,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) body: Option<serde_json::Value>,
}

impl Args {
    /// A path, query or JSON body member value as text.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.path.get(name).or_else(|| self.query.get(name)) {
            return Some(v.clone());
        }
        match self.body.as_ref()?.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            serde_json::Value::Array(a) => Some(
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            v => Some(v.to_string()),
        }
    }

    /// A required value: `Err` is the 400 Asterisk answers without it.
    pub(crate) fn need(&self, name: &str, message: &str) -> Result<String, Reply> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Reply::error(400, message))
    }

    /// A comma-separated list.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An integer, read as Asterisk does (`atoi`: leading digits, else 0).
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        let v = self.get(name)?;
        let t = v.trim();
        let end = t
            .char_indices()
            .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+'))))
            .map_or(t.len(), |(i, _)| i);
        Some(t[..end].parse().unwrap_or(0))
    }

    /// A boolean, read as Asterisk does (`ast_true`).
    #[allow(dead_code)]
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        let v = self.get(name)?;
        Some(matches!(
            v.to_ascii_lowercase().as_str(),
            "yes" | "true" | "y" | "t" | "1" | "on"
        ))
    }

    /// The `variables` (or `fields`) object of the body: `{"variables": {...}}`.
    pub(crate) fn object(&self, name: &str) -> Vec<(String, String)> {
        let Some(v) = self.body.as_ref().and_then(|b| b.get(name)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push((
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    ));
                }
            }
            serde_json::Value::Array(a) => {
                for f in a {
                    if let (Some(k), Some(v)) = (
                        f.get("attribute").and_then(|x| x.as_str()),
                        f.get("value").and_then(|x| x.as_str()),
                    ) {
                        out.push((k.to_owned(), v.to_owned()));
                    }
                }
            }
            _ => {}
        }
        out
    }
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<String>,
    pub(crate) allow: Option<String>,
    pub(crate) www_auth: bool,
    pub(crate) html: bool,
}

impl Reply {
    pub(crate) fn json(status: u16, body: J) -> Reply {
        Reply {
            status,
            body: Some(body.text()),
            allow: None,
            www_auth: false,
            html: false,
        }
    }
    pub(crate) fn ok(body: J) -> Reply {
        Reply::json(200, body)
    }
    pub(crate) fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            allow: None,
            www_auth: false,
            html: false,
        }
    }
    pub(crate) fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, J::obj().with("message", message))
    }
    fn html(status: u16, title: &str) -> Reply {
        let text = format!(
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>{status} {title}</title>\r\n</head><body>\r\n<h1>{title}</h1>\r\n<p></p>\r\n<hr />\r\n</body></html>\r\n"
        );
        Reply {
            status,
            body: Some(text),
            allow: None,
            www_auth: false,
            html: true,
        }
    }
}

type Body = Full<Bytes>;

fn to_response(r: Reply) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body.clone().unwrap_or_default())));
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::SERVER,
        HeaderValue::from_static("Asterisk/ari-mock"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    if r.body.is_some() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if r.html {
                "text/html"
            } else {
                "application/json"
            }),
        );
    }
    if r.www_auth {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Asterisk REST Interface\""),
        );
    }
    if let Some(a) = r.allow
        && let Ok(v) = HeaderValue::from_str(&a)
    {
        h.insert(header::ALLOW, v);
    }
    resp
}

/// Serves connections from `listener` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, world: Shared, config: Arc<Config>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // No Nagle: a small frame held back until the peer's delayed ACK (40 ms of real time)
        // would let a test's paused clock run past it, as if the frame never came.
        let _ = stream.set_nodelay(true);
        let world = world.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let world = world.clone();
                let config = config.clone();
                async move { Ok::<_, Infallible>(handle(req, world, config).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else { return Vec::new() };
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Who is asking: `Some(read_only)` when the credentials are right.
fn authenticate(
    config: &Config,
    req: &Request<Incoming>,
    query: &[(String, String)],
) -> Option<bool> {
    let check = |user: &str, pass: &str| {
        config
            .users
            .iter()
            .find(|(u, p, _)| u == user && p == pass)
            .map(|(_, _, ro)| *ro)
    };
    if let Some(v) = req.headers().get(header::AUTHORIZATION)
        && let Ok(v) = v.to_str()
        && let Some(b64) = v.strip_prefix("Basic ")
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim())
        && let Ok(text) = String::from_utf8(raw)
        && let Some((u, p)) = text.split_once(':')
    {
        return check(u, p);
    }
    let key = query.iter().find(|(k, _)| k == "api_key")?;
    let (u, p) = key.1.split_once(':')?;
    check(u, p)
}

async fn handle(req: Request<Incoming>, world: Shared, config: Arc<Config>) -> Response<Body> {
    let method = req.method().as_str().to_owned();
    let full_path = req.uri().path().to_owned();
    let query = parse_query(req.uri().query());
    let Some(path) = full_path
        .strip_prefix("/ari")
        .filter(|p| p.is_empty() || p.starts_with('/'))
        .map(str::to_owned)
    else {
        return to_response(Reply::html(404, "Not Found"));
    };
    let logged_query: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "api_key")
        .cloned()
        .collect();
    let Some(read_only) = authenticate(&config, &req, &query) else {
        let mut r = Reply::error(401, "Authentication required");
        r.www_auth = true;
        return to_response(r);
    };
    let found = config.table.find(&method, &path);
    let (route, path_params) = match found {
        Found::NotFound => {
            log(&config, &method, &path, None, logged_query, None, 404);
            return to_response(Reply::error(404, "Resource not found"));
        }
        Found::WrongMethod(methods) => {
            let mut r = Reply::error(405, "Invalid method");
            let mut allow = vec!["OPTIONS"];
            for m in ["GET", "POST", "PUT", "DELETE"] {
                if methods.contains(&m) {
                    allow.push(m);
                }
            }
            r.allow = Some(allow.join(","));
            log(&config, &method, &path, None, logged_query, None, 405);
            return to_response(r);
        }
        Found::Route(r, p) => (r, p),
    };
    if route.websocket {
        return events_socket(req, &query, world, &config).await;
    }
    if read_only && method != "GET" {
        log(
            &config,
            &method,
            &path,
            Some(route.name()),
            logged_query,
            None,
            403,
        );
        return to_response(Reply::error(403, "Write access denied"));
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let raw = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut form = Vec::new();
    let body = if raw.is_empty() {
        None
    } else if is_form {
        form = parse_query(std::str::from_utf8(&raw).ok());
        None
    } else if is_json {
        match serde_json::from_slice::<serde_json::Value>(&raw) {
            Ok(v) => Some(v),
            Err(_) => {
                log(
                    &config,
                    &method,
                    &path,
                    Some(route.name()),
                    logged_query,
                    None,
                    400,
                );
                return to_response(Reply::error(400, "Error parsing request body"));
            }
        }
    } else {
        None
    };
    let name = route.name();
    // Faults first: they stand for a server that misbehaves before it looks at the request.
    let fault = take_fault(&config, &name);
    if let Some(FaultAction::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let reply = if let Some(FaultAction::Status(s)) = fault {
        Reply::error(s, "Injected fault")
    } else {
        let args = build_args(route, path_params, &query, form, body.clone(), &world);
        let mut w = world.lock().unwrap_or_else(|p| p.into_inner());
        crate::ops::dispatch(&mut w, route, &args)
    };
    log(
        &config,
        &method,
        &path,
        Some(name),
        logged_query,
        body,
        reply.status,
    );
    to_response(reply)
}

fn build_args(
    route: &Route,
    path_params: Vec<(&'static str, String)>,
    query: &[(String, String)],
    form: Vec<(String, String)>,
    body: Option<serde_json::Value>,
    world: &Shared,
) -> Args {
    let release = world.lock().unwrap_or_else(|p| p.into_inner()).release;
    // Only the parameters this release accepts reach the handlers: Asterisk ignores the others.
    let accepted = |name: &str| {
        route
            .params
            .iter()
            .any(|p| p.name == name && ships(p.availability, release))
    };
    let mut args = Args::default();
    for (k, v) in path_params {
        args.path.insert(k.to_owned(), v);
    }
    for (k, v) in query.iter().chain(form.iter()) {
        if accepted(k) && !args.query.contains_key(k) {
            args.query.insert(k.clone(), v.clone());
        }
    }
    args.body = body.map(|b| match b {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.into_iter().filter(|(k, _)| accepted(k)).collect())
        }
        other => other,
    });
    args
}

fn take_fault(config: &Config, op: &str) -> Option<FaultAction> {
    let mut faults = config.faults.lock().unwrap_or_else(|p| p.into_inner());
    let i = faults
        .iter()
        .position(|f| f.remaining > 0 && f.operation.as_deref().is_none_or(|o| o == op))?;
    faults[i].remaining -= 1;
    let action = faults[i].action.clone();
    if faults[i].remaining == 0 {
        faults.remove(i);
    }
    Some(action)
}

fn log(
    config: &Config,
    method: &str,
    path: &str,
    operation: Option<String>,
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
    status: u16,
) {
    config
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(LoggedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            operation,
            query,
            body,
            status,
        });
}

async fn events_socket(
    mut req: Request<Incoming>,
    query: &[(String, String)],
    world: Shared,
    config: &Config,
) -> Response<Body> {
    let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return to_response(Reply::html(426, "Upgrade Required"));
    };
    if !upgrade {
        return to_response(Reply::html(426, "Upgrade Required"));
    }
    let apps: Vec<String> = get("app")
        .unwrap_or_default()
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if apps.is_empty() {
        return to_response(Reply::html(400, "Bad Request"));
    }
    let subscribe_all = get("subscribeAll").is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "yes" | "true" | "y" | "t" | "1" | "on"
        )
    });
    log(
        config,
        "GET",
        "/events",
        Some("events.eventWebsocket".into()),
        query
            .iter()
            .filter(|(k, _)| k != "api_key")
            .cloned()
            .collect(),
        None,
        101,
    );
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (tx, mut rx) = mpsc::unbounded_channel::<Frame>();
    // Registered before the 101 goes out: a call into the app right after the handshake is
    // not missed, as with Asterisk.
    let conn = world
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .connect_apps(&apps, subscribe_all, &tx);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            world
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .disconnect(conn);
            return;
        };
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        let (mut sink, mut stream) = ws.split();
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(Frame::Text(t)) => {
                        if sink.send(Message::text(t)).await.is_err() {
                            break;
                        }
                    }
                    Some(Frame::Close) | None => {
                        let _ = sink.close().await;
                        break;
                    }
                },
                msg = stream.next() => match msg {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    // tungstenite queues the pong; flushing sends it now, not with the next
                    // event (a client's idle timer may run out before that).
                    Some(Ok(Message::Ping(p))) => {
                        if sink.send(Message::Pong(p)).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
        world
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .disconnect(conn);
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}
