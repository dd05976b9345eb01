//! The readiness and status checks' HTTP client: one GET to 127.0.0.1 with basic auth.

use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;

/// A response: status code and body.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// `GET http://127.0.0.1:<port><path>` with basic auth `user:password`. Any HTTP status is a
/// response; only transport failures are errors.
pub fn get(port: u16, path: &str, user: &str, password: &str) -> Result<Response> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut resp = agent
        .get(&url)
        .header("Authorization", format!("Basic {auth}"))
        .header("Accept", "application/json")
        .call()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the answer of GET {url}"))?;
    Ok(Response { status, body })
}
