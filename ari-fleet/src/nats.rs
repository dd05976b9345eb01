//! Connecting to NATS the same way on both sides: quick reconnects, and the connection's
//! events (lost, back) handed to whoever must react to them.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::{FleetError, Result};

/// Connects to the NATS server at `url` (`nats://127.0.0.1:4222`, or `127.0.0.1:4222`;
/// credentials in it, `nats://user:password@host:4222` or `nats://token@host:4222`, are
/// NATS's own URL form and are never shown: errors name the URL without them). The client
/// reconnects by itself, forever, at most a second apart; the receiver gets the connection's
/// events (`Connected` again after a `Disconnected` means it is back).
pub(crate) async fn connect(
    url: &str,
    name: &str,
) -> Result<(
    async_nats::Client,
    mpsc::UnboundedReceiver<async_nats::Event>,
)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut options = async_nats::ConnectOptions::new();
    // async-nats reads no credentials from the URL itself: a user and password, or a token
    // alone, go into the options (percent-decoded, as URLs carry them).
    if let Ok(addr) = url.parse::<async_nats::ServerAddr>()
        && let Some(user) = addr.username()
    {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        options = match addr.password() {
            Some(pass) => options.user_and_password(decode(user), decode(pass)),
            None => options.token(decode(user)),
        };
    }
    let client = options
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).min(1000))
        })
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(url)
        .await
        .map_err(|e| {
            let shown = redacted(url);
            // The client's own error text may quote the address it was given.
            let text = e.to_string().replace(url, &shown);
            FleetError::nats(&format!("connect to {shown}"), text)
        })?;
    Ok((client, rx))
}

/// `url` with any user, password or token replaced by `***`, for errors, logs and `Debug`.
pub(crate) fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    // The authority ends at the first '/', '?' or '#'; credentials end at its last '@'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let host = &authority[at + 1..];
    match scheme {
        Some(scheme) => format!("{scheme}://***@{host}{tail}"),
        None => format!("***@{host}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn credentials_are_hidden() {
        assert_eq!(redacted("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redacted("nats://u:s3cr3t@h:4222"), "nats://***@h:4222");
        assert_eq!(redacted("nats://tok@h"), "nats://***@h");
        assert_eq!(redacted("u:p@h:4222"), "***@h:4222");
        assert_eq!(
            redacted("nats://u:p%40x@h:4222/x?y#z"),
            "nats://***@h:4222/x?y#z"
        );
        assert_eq!(redacted("nats://a@b@h"), "nats://***@h");
    }
}
