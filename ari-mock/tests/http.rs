//! The mock's HTTP surface, against itself: routes from the release's table, credentials, bad
//! input. (The same cases against the real servers: tests/differential.rs.)

use ari_mock::Mock;

async fn get(mock: &Mock, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    raw(mock, "GET", path, auth, None).await
}

/// One HTTP/1.1 request over a plain TCP socket: nothing between the test and the wire.
async fn raw(
    mock: &Mock,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&str>,
) -> (u16, String) {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let mut req = format!("{method} /ari{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req.push_str(&format!("Authorization: Basic {b}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

const A: Option<(&str, &str)> = Some(("asterisk", "asterisk"));

#[tokio::test]
async fn routes_credentials_and_bad_input() {
    let mock = Mock::start().await.unwrap();
    assert_eq!(get(&mock, "/asterisk/info", None).await.0, 401);
    assert_eq!(
        get(&mock, "/asterisk/info", Some(("asterisk", "x")))
            .await
            .0,
        401
    );
    let (s, body) = get(&mock, "/asterisk/info?api_key=asterisk:asterisk", None).await;
    assert_eq!(s, 200);
    assert!(body.contains("\"version\":\"22.10.1\""), "{body}");
    assert_eq!(
        get(&mock, "/nope", A).await,
        (404, r#"{"message":"Resource not found"}"#.into())
    );
    assert_eq!(
        get(&mock, "/channels/none", A).await,
        (404, r#"{"message":"Channel not found"}"#.into())
    );
    assert_eq!(raw(&mock, "PUT", "/channels", A, None).await.0, 405);
    assert_eq!(
        raw(&mock, "POST", "/channels?app=x", A, None).await,
        (400, r#"{"message":"Endpoint must be specified"}"#.into())
    );
    assert_eq!(
        raw(
            &mock,
            "POST",
            "/channels?endpoint=Local/wait@default&app=x",
            A,
            Some("{bad")
        )
        .await,
        (400, r#"{"message":"Error parsing request body"}"#.into())
    );
    // An operation 22 lacks, present in 16.
    assert_eq!(get(&mock, "/events", A).await.0, 426);
    let old = Mock::builder().release("12.0.0").start().await.unwrap();
    assert_eq!(
        raw(&old, "POST", "/channels/x/dial", A, None).await.0,
        404,
        "dial is 12.2+"
    );
    assert_eq!(raw(&mock, "POST", "/channels/x/dial", A, None).await.0, 404);
    assert_eq!(
        raw(&mock, "POST", "/channels/x/dial", A, None).await.1,
        r#"{"message":"Channel not found"}"#
    );
    assert!(Mock::builder().release("22.99.0").start().await.is_err());
}
