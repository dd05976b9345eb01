//! REST over NATS request/reply: an [`ari_sdk::carrier::Carrier`] that sends each call to one
//! server's proxy, so that an `ari_sdk::Client` works on any server of the fleet.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ari_sdk::TransportKind;
use ari_sdk::carrier::{self, Call, Carrier, Reply};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;

use crate::wire::{self, ProxyFailure, header};

/// Carries REST calls to server `server` over `P.rest.{server}`. The proxy passes status and
/// body through unchanged, so the client's typed results and error mapping are those of HTTP.
pub struct NatsCarrier {
    nats: async_nats::Client,
    server: String,
    subject: String,
    instance: String,
    timeout: Duration,
    /// Resources this instance created on the server (kept for re-claiming them).
    owned: Arc<Mutex<HashSet<String>>>,
}

impl NatsCarrier {
    pub(crate) fn new(
        nats: async_nats::Client,
        subjects: &wire::Subjects,
        server: &str,
        instance: &str,
        timeout: Duration,
        owned: Arc<Mutex<HashSet<String>>>,
    ) -> NatsCarrier {
        NatsCarrier {
            nats,
            server: server.to_owned(),
            subject: subjects.rest(server),
            instance: instance.to_owned(),
            timeout,
            owned,
        }
    }

    async fn exchange(&self, call: Call) -> ari_sdk::Result<Reply> {
        let mut headers = HeaderMap::new();
        headers.insert(header::METHOD, call.method());
        headers.insert(header::PATH, call.path());
        if !call.query_string().is_empty() {
            headers.insert(header::QUERY, call.query_string());
        }
        headers.insert(header::INSTANCE, self.instance.as_str());
        let body = match call.body() {
            Some(b) => {
                headers.insert(header::CONTENT_TYPE, "application/json");
                Bytes::copy_from_slice(b)
            }
            None => Bytes::new(),
        };
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(body)
            .timeout(Some(self.timeout));
        let reply = match self.nats.send_request(self.subject.clone(), request).await {
            Ok(reply) => reply,
            Err(e) => {
                return Err(match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => carrier::transport_error(
                        TransportKind::ConnectionRefused,
                        format!("no proxy serves server {} on NATS", self.server),
                    ),
                    async_nats::RequestErrorKind::TimedOut => carrier::timeout_error(self.timeout),
                    _ => carrier::transport_error(
                        TransportKind::ConnectionReset,
                        format!("NATS request to server {}: {e}", self.server),
                    ),
                });
            }
        };
        let get = |name: &str| {
            reply
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
        };
        if let Some(failure) = get(header::ERROR) {
            let message = format!(
                "proxy of server {}: {}",
                self.server,
                String::from_utf8_lossy(&reply.payload)
            );
            return Err(match ProxyFailure::parse(&failure) {
                ProxyFailure::Timeout => carrier::timeout_error(self.timeout),
                ProxyFailure::ConnectionRefused => {
                    carrier::transport_error(TransportKind::ConnectionRefused, message)
                }
                ProxyFailure::ConnectionReset => {
                    carrier::transport_error(TransportKind::ConnectionReset, message)
                }
                ProxyFailure::BadRequest | ProxyFailure::Other => {
                    carrier::transport_error(TransportKind::Other, message)
                }
            });
        }
        let Some(status) = get(header::STATUS).and_then(|s| s.parse::<u16>().ok()) else {
            return Err(carrier::transport_error(
                TransportKind::Other,
                format!(
                    "the reply from server {} has no {} header",
                    self.server,
                    header::STATUS
                ),
            ));
        };
        if (200..300).contains(&status) {
            self.note_created(&call, &reply.payload);
        }
        Ok(Reply {
            status,
            body: reply.payload,
            content_type: get(header::CONTENT_TYPE),
        })
    }

    /// Remembers what a successful call created, as the proxy records it for this instance.
    fn note_created(&self, call: &Call, body: &[u8]) {
        let mut keys = wire::created_by_request(call.method(), call.path(), call.query_string());
        if let Some(kind) = wire::created_kind(call.method(), call.path())
            && let Some(id) = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
        {
            keys.push(format!("{kind}:{id}"));
        }
        if !keys.is_empty() {
            let mut owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            owned.extend(keys);
        }
    }
}

impl Carrier for NatsCarrier {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn send(&self, call: Call) -> BoxFuture<'_, ari_sdk::Result<Reply>> {
        Box::pin(self.exchange(call))
    }
}
