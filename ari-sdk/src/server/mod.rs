//! Connections that Asterisk opens towards the application (feature `server`).
//!
//! Since 20.15 / 21.10 / 22.5 Asterisk's `res_websocket_client` can dial *out*: ARI's outbound
//! WebSockets (`ari.conf` `type=outbound_websocket`) and chan_websocket's `connection_type=client`
//! media connections both open a WebSocket from Asterisk to a server that the application runs.
//! That is how an application behind NAT or in a cloud reaches an Asterisk it cannot dial into.
//! Releases before those (16.x, 18.x, and 20.x/21.x/22.x before the versions above) never connect.
//!
//! # Design
//!
//! This module holds the part that every such use shares, and nothing ARI-specific:
//!
//! - [`Listener`] accepts TCP (and, with the `rustls` feature, TLS) connections, performs the
//!   HTTP upgrade with tokio-tungstenite, and hands over each accepted WebSocket as an
//!   [`Incoming`] with the request that opened it ([`RequestInfo`]: path, query, headers, peer).
//! - **Who connects is checked.** Asterisk authenticates with HTTP basic authentication
//!   (`websocket_client.conf` `username` / `password`, sent as `Authorization: Basic ...` in the
//!   upgrade request, see `res/res_http_websocket.c`, `websocket_client_handshake`). The listener
//!   compares them in constant time and refuses anything else with `401` before the upgrade. A
//!   listener without credentials must be asked for explicitly
//!   ([`ListenerBuilder::allow_anonymous`]).
//! - **Bounded.** At most [`ListenerBuilder::max_connections`] connections exist at once,
//!   handshakes included; one more is refused (`503` on plain TCP, a closed socket on TLS) rather
//!   than queued, so a flood costs neither memory nor file descriptors beyond the bound. A
//!   handshake that does not complete within [`ListenerBuilder::handshake_timeout`] is dropped.
//! - **Graceful shutdown.** [`Listener::shutdown`] stops accepting at once and tells every live
//!   connection through its [`ConnectionGuard`]; [`Listener::wait_idle`] waits until the last
//!   one has been dropped.
//!
//! Users of the layer (the ARI outbound connection and chan_websocket media) take the
//! [`Incoming`] apart and run their protocol on the socket; the guard travels with the socket
//! so that the connection counts until it is dropped.

mod ari;
mod listener;

pub use ari::{
    AriListener, AriListenerBuilder, OUTBOUND_WEBSOCKETS, OutboundConnection, check_release,
    check_server,
};
pub use listener::{
    ConnectionGuard, Incoming, Listener, ListenerBuilder, ListenerStats, RequestInfo, ServerStream,
    ShutdownHandle,
};
