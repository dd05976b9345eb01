//! REST fault tests against an in-process fake server: error statuses with Asterisk's message and
//! the documented reason, 401, stalled responses, big bodies, decode errors, release gating.

mod support;

use std::time::Duration;

use ari_sdk::meta::{
    Availability, ErrorInfo, OperationInfo, ParamInfo, ParamLocation, Release, ReleaseRange,
};
use ari_sdk::{Client, ErrorKind, Request, TransportKind};
use support::{Reply, RestServer};

const ALL: Availability = Availability {
    ranges: &[
        ReleaseRange {
            first: Release::new(16, 0, 0),
            last: None,
        },
        ReleaseRange {
            first: Release::new(18, 0, 0),
            last: None,
        },
    ],
};
const FROM_18_2: Availability = Availability {
    ranges: &[ReleaseRange {
        first: Release::new(18, 2, 0),
        last: None,
    }],
};

static GET_CHANNEL: OperationInfo = OperationInfo {
    resource: "channels",
    nickname: "get",
    method: "GET",
    path: "/channels/{channelId}",
    summary: "Channel details.",
    params: &[ParamInfo {
        name: "channelId",
        location: ParamLocation::Path,
        required: true,
        availability: ALL,
    }],
    errors: &[ErrorInfo {
        code: 404,
        reason: "Channel not found",
    }],
    availability: ALL,
};

static ORIGINATE: OperationInfo = OperationInfo {
    resource: "channels",
    nickname: "originate",
    method: "POST",
    path: "/channels",
    summary: "Create a new channel (originate).",
    params: &[
        ParamInfo {
            name: "endpoint",
            location: ParamLocation::Query,
            required: true,
            availability: ALL,
        },
        ParamInfo {
            name: "formats",
            location: ParamLocation::Query,
            required: false,
            availability: FROM_18_2,
        },
        ParamInfo {
            name: "variables",
            location: ParamLocation::Body,
            required: false,
            availability: ALL,
        },
    ],
    errors: &[
        ErrorInfo {
            code: 400,
            reason: "Invalid parameters for originating a channel.",
        },
        ErrorInfo {
            code: 409,
            reason: "Channel with given unique ID already exists.",
        },
    ],
    availability: ALL,
};

static HANGUP: OperationInfo = OperationInfo {
    resource: "channels",
    nickname: "hangup",
    method: "DELETE",
    path: "/channels/{channelId}",
    summary: "Delete (i.e. hangup) a channel.",
    params: &[],
    errors: &[
        ErrorInfo {
            code: 404,
            reason: "Channel not found",
        },
        ErrorInfo {
            code: 422,
            reason: "Endpoint is not the same type as the channel",
        },
    ],
    availability: ALL,
};

static EXTERNAL_MEDIA: OperationInfo = OperationInfo {
    resource: "channels",
    nickname: "externalMedia",
    method: "POST",
    path: "/channels/externalMedia",
    summary: "Start an External Media session.",
    params: &[],
    errors: &[],
    availability: FROM_18_2,
};

static LIST: OperationInfo = OperationInfo {
    resource: "channels",
    nickname: "list",
    method: "GET",
    path: "/channels",
    summary: "List all active channels in Asterisk.",
    params: &[],
    errors: &[],
    availability: ALL,
};

fn client(server: &RestServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .credentials("ari-user", "ari-secret")
        .release_gating(false)
        .request_timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap()
}

fn get(id: &str) -> Request {
    let mut r = Request::new(&GET_CHANNEL);
    r.path_param("channelId", id);
    r
}

#[tokio::test]
async fn error_statuses_carry_asterisk_message_and_documented_reason() {
    support::init_tracing();
    let server = RestServer::start(|req| match (req.method.as_str(), req.path()) {
        ("GET", "/ari/channels/missing") => {
            Reply::Json(404, r#"{"message":"Channel not found"}"#.into())
        }
        ("POST", "/ari/channels") => Reply::Json(
            409,
            r#"{"message":"Channel with given unique ID already exists"}"#.into(),
        ),
        ("DELETE", "/ari/channels/x") => Reply::Json(
            422,
            r#"{"message":"Invalid reason for hangup provided"}"#.into(),
        ),
        _ => Reply::Bytes(500, "text/html", b"<html>boom</html>".to_vec()),
    })
    .await;
    let c = client(&server);

    let e = c
        .send_json::<serde_json::Value>(get("missing"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.asterisk_message(), Some("Channel not found"));
    assert_eq!(e.documented_reason(), Some("Channel not found"));
    // The message names the server and the concrete path, not the template.
    let at = server.addr;
    assert_eq!(
        e.to_string(),
        format!(
            "channels.get (GET http://{at}/ari/channels/missing): 404 Not Found: Channel not found (Asterisk: \"Channel not found\")"
        )
    );
    assert_eq!(e.server(), Some(at.to_string().as_str()));
    assert_eq!(e.url_path(), Some("/ari/channels/missing"));

    let mut r = Request::new(&ORIGINATE);
    r.query("endpoint", "PJSIP/alice");
    let e = c.send_json::<serde_json::Value>(r).await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(
        e.documented_reason(),
        Some("Channel with given unique ID already exists.")
    );
    assert_eq!(
        e.asterisk_message(),
        Some("Channel with given unique ID already exists")
    );

    let mut r = Request::new(&HANGUP);
    r.path_param("channelId", "x");
    let e = c.send_unit(r).await.unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert_eq!(
        e.documented_reason(),
        Some("Endpoint is not the same type as the channel")
    );
    assert_eq!(
        e.asterisk_message(),
        Some("Invalid reason for hangup provided")
    );

    // An undocumented status with a non-JSON body: status and operation, no invented message.
    let e = c.send_unit(get("other")).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.asterisk_message(), None);
    assert_eq!(e.documented_reason(), None);
    assert!(e.is_transient());
    assert_eq!(
        e.to_string(),
        format!("channels.get (GET http://{at}/ari/channels/other): 500 Internal Server Error")
    );
}

#[tokio::test]
async fn unauthorized_is_its_own_kind_and_credentials_go_in_a_header() {
    let server = RestServer::start(|req| {
        if req.header("authorization") == Some("Basic YXJpLXVzZXI6YXJpLXNlY3JldA==") {
            Reply::Json(200, "[]".into())
        } else {
            Reply::Json(401, r#"{"error":"Authentication required"}"#.into())
        }
    })
    .await;
    let ok: Vec<serde_json::Value> = client(&server)
        .send_json(Request::new(&LIST))
        .await
        .unwrap();
    assert!(ok.is_empty());
    assert!(!server.requests()[0].target.contains("api_key"));

    let wrong = Client::builder()
        .base_url(server.base_url())
        .credentials("ari-user", "wrong")
        .release_gating(false)
        .build()
        .unwrap();
    let e = wrong.send_unit(Request::new(&LIST)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(e.status(), Some(401));
    assert!(!e.to_string().contains("wrong"));
}

// Paused time: the clock moves only when every task waits, so the timeout is measured on
// tokio's clock, not raced against the machine's.
#[tokio::test(start_paused = true)]
async fn stalled_response_times_out() {
    let server = RestServer::start(|_| Reply::Stall).await;
    let c = Client::builder()
        .base_url(server.base_url())
        .release_gating(false)
        .request_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let e = c.send_unit(get("slow")).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_transient());
    // The whole timeout, and not much more, on the paused clock.
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(400),
        "{took:?}"
    );
    assert!(
        e.to_string().starts_with(&format!(
            "channels.get (GET http://{}/ari/channels/slow): timed out",
            server.addr
        )),
        "{e}"
    );
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    // Bind then drop, so the port is free and nothing listens on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = Client::builder()
        .base_url(format!("http://{addr}/ari"))
        .release_gating(false)
        .build()
        .unwrap();
    let e = c.send_unit(get("x")).await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Transport(TransportKind::ConnectionRefused),
        "{e:?}"
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn ten_megabyte_response_decodes() {
    // About 10 MB of channel-like objects.
    let one = r#"{"id":"1700000000.123456","name":"PJSIP/alice-00000001","state":"Up","caller":{"name":"Alice","number":"100"},"dialplan":{"context":"default","exten":"100","priority":1}}"#;
    let count = 10 * 1024 * 1024 / one.len() + 1;
    let mut body = String::with_capacity(count * (one.len() + 1) + 2);
    body.push('[');
    for i in 0..count {
        if i > 0 {
            body.push(',');
        }
        body.push_str(one);
    }
    body.push(']');
    assert!(body.len() >= 10 * 1024 * 1024);
    let server = RestServer::start(move |_| Reply::Json(200, body.clone())).await;
    let c = client(&server);

    let all: Vec<serde_json::Value> = c.send_json(Request::new(&LIST)).await.unwrap();
    assert_eq!(all.len(), count);

    #[derive(serde::Deserialize)]
    struct Chan {
        id: String,
        state: String,
    }
    let typed: Vec<Chan> = c.send_json(Request::new(&LIST)).await.unwrap();
    assert_eq!(typed.len(), count);
    assert_eq!(typed[count - 1].id, "1700000000.123456");
    assert_eq!(typed[0].state, "Up");
}

#[tokio::test]
async fn decode_error_names_the_json_path_and_shows_an_excerpt() {
    let server = RestServer::start(|_| {
        Reply::Json(
            200,
            r#"[{"id":"a","state":"Up"},{"id":"b","state":7}]"#.into(),
        )
    })
    .await;
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Chan {
        id: String,
        state: String,
    }
    let e = client(&server)
        .send_json::<Vec<Chan>>(Request::new(&LIST))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.json_path(), Some("[1].state"));
    assert!(e.excerpt().unwrap().contains(r#""state":7"#), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "channels.list (GET http://{}/ari/channels): could not decode",
            server.addr
        )),
        "{e}"
    );
}

#[tokio::test]
async fn parameters_travel_encoded_in_path_query_and_json_body() {
    let server = RestServer::start(|_| Reply::Json(200, r#"{"id":"x"}"#.into())).await;
    let c = client(&server);
    let mut r = Request::new(&ORIGINATE);
    r.query("endpoint", "PJSIP/alice bob")
        .body_param("variables", serde_json::json!({"CALLERID(name)": "Zoë"}));
    let _: serde_json::Value = c.send_json(r).await.unwrap();
    let _: serde_json::Value = c.send_json(get("a/b c")).await.unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/ari/channels?endpoint=PJSIP%2Falice+bob");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"variables": {"CALLERID(name)": "Zoë"}})
    );
    assert_eq!(seen[1].target, "/ari/channels/a%2Fb%20c");
    assert!(
        seen[1]
            .header("user-agent")
            .unwrap()
            .starts_with("ari-sdk/")
    );
}

#[tokio::test]
async fn release_is_learned_once_and_gates_before_sending() {
    let server = RestServer::start(|req| match req.path() {
        "/ari/asterisk/info" => Reply::Json(
            200,
            r#"{"system":{"version":"16.28.0~dfsg-0+deb11u4","entity_id":"x"}}"#.into(),
        ),
        _ => Reply::Json(200, "[]".into()),
    })
    .await;
    let c = Client::builder()
        .base_url(server.base_url())
        .known_majors(vec![16, 18, 20])
        .build()
        .unwrap();
    assert_eq!(c.known_release(), None);

    // Supported: sent, after one look at /asterisk/info.
    let _: serde_json::Value = c.send_json(Request::new(&LIST)).await.unwrap();
    assert_eq!(c.known_release(), Some(Release::new(16, 28, 0)));

    // Unsupported operation: refused without reaching the server.
    let e = c
        .send_unit(Request::new(&EXTERNAL_MEDIA))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(
        e.to_string(),
        format!(
            "channels.externalMedia (POST http://{}/ari/channels/externalMedia): not supported by Asterisk 16.28.0; shipped in 18.2.0+",
            server.addr
        )
    );
    assert_eq!(server.count("/ari/channels/externalMedia"), 0);

    // Unsupported parameter: refused too; the same call without it goes through.
    let mut r = Request::new(&ORIGINATE);
    r.query("endpoint", "PJSIP/a").query("formats", "ulaw");
    let e = c.send_unit(r).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("parameter `formats`"), "{e}");
    let mut r = Request::new(&ORIGINATE);
    r.query("endpoint", "PJSIP/a");
    c.send_unit(r).await.unwrap();

    assert_eq!(server.count("/ari/asterisk/info"), 1);
    assert_eq!(server.count("/ari/channels"), 2);
    assert_eq!(
        server.requests()[0].target,
        "/ari/asterisk/info?only=system"
    );
}

#[tokio::test]
async fn unknown_versions_and_failed_lookups_do_not_gate() {
    let server = RestServer::start(|req| match req.path() {
        "/ari/asterisk/info" => Reply::Json(
            200,
            r#"{"system":{"version":"GIT-master-cb214713c0M"}}"#.into(),
        ),
        _ => Reply::Json(200, "{}".into()),
    })
    .await;
    let c = Client::builder()
        .base_url(server.base_url())
        .known_majors(vec![16, 18])
        .build()
        .unwrap();
    let v = c.connect().await.unwrap().unwrap();
    assert_eq!(v.release, None);
    c.send_unit(Request::new(&EXTERNAL_MEDIA)).await.unwrap();

    // A server that refuses /asterisk/info (e.g. a proxy) is not gated and not asked again.
    let server = RestServer::start(|req| match req.path() {
        "/ari/asterisk/info" => Reply::Json(403, r#"{"message":"nope"}"#.into()),
        _ => Reply::Json(200, "{}".into()),
    })
    .await;
    let c = Client::builder()
        .base_url(server.base_url())
        .known_majors(vec![16, 18])
        .build()
        .unwrap();
    c.send_unit(Request::new(&EXTERNAL_MEDIA)).await.unwrap();
    c.send_unit(Request::new(&EXTERNAL_MEDIA)).await.unwrap();
    assert_eq!(server.count("/ari/asterisk/info"), 1);
    assert_eq!(server.count("/ari/channels/externalMedia"), 2);
}

#[tokio::test]
async fn binary_responses_come_back_raw() {
    let wav: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let expected = wav.clone();
    let server = RestServer::start(move |_| Reply::Bytes(200, "audio/wav", wav.clone())).await;
    let bytes = client(&server).send_binary(get("rec")).await.unwrap();
    assert_eq!(&bytes[..], &expected[..]);
}

/// A server that answers like Asterisk for every path: ARI's JSON under `/ari/`, ARI's own
/// "Resource not found" for `/ari/ari/...`, and the HTTP server's HTML 404 page elsewhere.
async fn asterisk_like() -> RestServer {
    RestServer::start(|req| {
        let path = req.path();
        if path.starts_with("/ari/ari/") {
            Reply::Json(404, r#"{"message":"Resource not found"}"#.into())
        } else if path == "/ari/asterisk/info" {
            Reply::Json(200, r#"{"system":{"version":"22.10.1"}}"#.into())
        } else if path.starts_with("/ari/") {
            Reply::Json(404, r#"{"message":"Channel not found"}"#.into())
        } else {
            Reply::Bytes(
                404,
                "text/html",
                b"<html><head><title>404 Not Found</title></head></html>".to_vec(),
            )
        }
    })
    .await
}

/// ARI's "Resource not found" is ambiguous: a base that is not the root, or a server without
/// that resource (its module not loaded). Once the base has answered `/asterisk/info` (the
/// version learned for gating) it is the root, so the answer is an ordinary 404.
#[tokio::test]
async fn resource_not_found_at_a_known_root_is_an_ordinary_404() {
    let server = RestServer::start(|req| {
        if req.path() == "/ari/asterisk/info" {
            Reply::Json(200, r#"{"system":{"version":"16.28.0"}}"#.into())
        } else {
            Reply::Json(404, r#"{"message":"Resource not found"}"#.into())
        }
    })
    .await;
    let client = |gating: bool| {
        Client::builder()
            .base_url(server.base_url())
            .credentials("ari-user", "ari-secret")
            .release_gating(gating)
            .build()
            .unwrap()
    };
    let e = client(true).send_unit(get("1761.42")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http, "{e}");
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("Resource not found"), "{e}");
    // Without gating nothing has shown the base to be the root: the answer stays ambiguous.
    let e = client(false).send_unit(get("1761.42")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}");
}

#[tokio::test]
async fn a_base_url_that_is_not_an_ari_root_says_so() {
    let server = asterisk_like().await;
    let at = server.addr;
    let with = |base: String| {
        Client::builder()
            .base_url(base)
            .credentials("ari-user", "ari-secret")
            .release_gating(false)
            .build()
            .unwrap()
    };

    // Without `/ari` (credentials in the URL too: they never show).
    let e = with(format!("http://ari-user:ari-secret@{at}"))
        .send_unit(get("1761.42"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}");
    assert_eq!(e.status(), Some(404));
    assert!(!e.is_transient());
    let text = e.to_string();
    assert_eq!(
        text,
        format!(
            "channels.get (GET http://{at}/channels/1761.42): 404 Not Found: the server answered with text/html, not with ARI's JSON: the base URL http://{at} is not an ARI root (Asterisk serves ARI under /ari, e.g. http://host:8088/ari)"
        )
    );
    assert!(!text.contains("secret") && !format!("{e:?}").contains("secret"));

    // `/ari` twice: ARI itself says there is nothing there.
    let e = with(format!("http://{at}/ari/ari"))
        .send_unit(get("1761.42"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}");
    assert_eq!(e.url_path(), Some("/ari/ari/channels/1761.42"));
    assert!(
        e.to_string().contains(&format!(
            "the base URL http://{at}/ari/ari is not the ARI root (is /ari there twice?)"
        )),
        "{e}"
    );
    // `connect()` (which asks `/asterisk/info`) tells the same.
    let e = with(format!("http://{at}/ari/ari"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}");
    assert_eq!(e.url_path(), Some("/ari/ari/asterisk/info"));

    // The right root: an ordinary 404 of ARI, with the concrete path.
    let e = with(server.base_url())
        .send_unit(get("1761.42"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http, "{e}");
    assert_eq!(e.url_path(), Some("/ari/channels/1761.42"));

    // Some other web server that answers every path with a page.
    let web = RestServer::start(|_| {
        Reply::Bytes(
            200,
            "text/html; charset=utf-8",
            b"<html>welcome</html>".to_vec(),
        )
    })
    .await;
    let e = with(web.base_url())
        .send_json::<serde_json::Value>(Request::new(&LIST))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}");
    assert_eq!(e.status(), Some(200));
    assert!(e.to_string().contains("text/html; charset=utf-8"), "{e}");
}

/// The base URL of Asterisk `major` from `ARI_URL_<major>`, or `None` (after a `SKIP` line).
fn real_base(major: u16, test: &str) -> Option<String> {
    ari_test_env::server_or_skip(major, test).map(|s| s.url.trim_end_matches('/').to_owned())
}

fn real_client(base: &str) -> Client {
    let ari_test_env::Credentials { user, password } = ari_test_env::credentials();
    Client::builder()
        .base_url(base)
        .credentials(user, password)
        .release_gating(false)
        .build()
        .unwrap()
}

#[tokio::test]
async fn real_servers_name_the_server_and_path_and_spot_a_wrong_base_url() {
    for major in [22, 16] {
        let Some(base) = real_base(major, "real_servers_name_the_server_and_path") else {
            continue;
        };
        let url = url::Url::parse(&base).unwrap();
        let server = format!(
            "{}:{}",
            url.host_str().unwrap(),
            url.port_or_known_default().unwrap()
        );
        let root = base.strip_suffix("/ari").expect("ARI_URL ends in /ari");

        let e = real_client(&base)
            .send_unit(get("1761.42"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Http, "{major}: {e}");
        assert_eq!(e.server(), Some(server.as_str()), "{major}");
        assert_eq!(e.url_path(), Some("/ari/channels/1761.42"), "{major}");
        assert_eq!(
            e.to_string(),
            format!(
                "channels.get (GET http://{server}/ari/channels/1761.42): 404 Not Found: Channel not found (Asterisk: \"Channel not found\")"
            ),
            "{major}"
        );
        let password = ari_test_env::credentials().password;
        assert!(!format!("{e} {e:?}").contains(&format!(":{password}")));

        // Without /ari: Asterisk's HTTP server answers with its HTML 404 page.
        let e = real_client(root)
            .send_unit(get("1761.42"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{major}: {e}");
        assert!(
            e.to_string()
                .contains(&format!("the base URL http://{server} is not an ARI root")),
            "{major}: {e}"
        );
        // /ari twice: ARI's own "Resource not found".
        let e = real_client(&format!("{base}/ari"))
            .send_unit(get("1761.42"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{major}: {e}");
        assert_eq!(e.url_path(), Some("/ari/ari/channels/1761.42"));

        // The events WebSocket alike: the first attempt fails with the same kind, not retried.
        for wrong in [root.to_owned(), format!("{base}/ari")] {
            let e = real_client(&wrong)
                .event_stream()
                .app("runtime-not-ari")
                .connect()
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{major} {wrong}: {e}");
            assert!(
                e.to_string().starts_with(&format!(
                    "events.eventWebsocket (GET ws://{server}{}/events): 404 Not Found",
                    url::Url::parse(&wrong)
                        .unwrap()
                        .path()
                        .trim_end_matches('/')
                )),
                "{major}: {e}"
            );
        }
    }
}

/// A keep-alive HTTP/1.1 server that holds every answer until `gate` requests are on the wire
/// at once, then answers each at once: it counts connections and calls in flight.
struct CountingServer {
    addr: std::net::SocketAddr,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn counting_server(gate: usize) -> CountingServer {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (open_tx, open_rx) = tokio::sync::watch::channel(false);
    let (conns, max) = (connections.clone(), max_in_flight.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            conns.fetch_add(1, Ordering::SeqCst);
            let (in_flight, max, open_tx) = (in_flight.clone(), max.clone(), open_tx.clone());
            let mut open_rx = open_rx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request head (the calls here have no body).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    if now >= gate {
                        open_tx.send_replace(true);
                    }
                    if open_rx.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]";
                    if sock.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    CountingServer {
        addr,
        connections,
        max_in_flight,
    }
}

async fn forty_calls_at_once(limit: Option<usize>, gate: usize) -> (usize, usize) {
    use std::sync::atomic::Ordering;
    let server = counting_server(gate).await;
    let c = Client::builder()
        .base_url(format!("http://{}/ari", server.addr))
        .release_gating(false)
        .max_connections(limit)
        .build()
        .unwrap();
    let calls = (0..40).map(|_| c.send_json::<Vec<serde_json::Value>>(Request::new(&LIST)));
    for result in futures::future::join_all(calls).await {
        assert_eq!(
            result.expect("every call is answered"),
            Vec::<serde_json::Value>::new()
        );
    }
    (
        server.connections.load(Ordering::SeqCst),
        server.max_in_flight.load(Ordering::SeqCst),
    )
}

#[tokio::test]
async fn max_connections_bounds_the_calls_on_the_wire_and_the_connections() {
    // Forty calls at once through four connections: four on the wire (the server answers
    // nothing until four are), the rest wait their turn, every one is answered.
    let (connections, in_flight) = forty_calls_at_once(Some(4), 4).await;
    assert_eq!(in_flight, 4);
    assert!(connections <= 4, "{connections} connections");
    // Without a limit the same burst puts (at least) eight on the wire at once: the server
    // answers nothing until eight are.
    let (connections, in_flight) = forty_calls_at_once(None, 8).await;
    assert!(
        in_flight >= 8 && connections >= 8,
        "{in_flight} {connections}"
    );
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_connection_counts_against_the_request_timeout() {
    let server = RestServer::start(|_| Reply::Stall).await;
    let c = Client::builder()
        .base_url(server.base_url())
        .release_gating(false)
        .max_connections(Some(1))
        .request_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    // The first call takes the one connection and stalls; the second waits for it and times
    // out after the same 300 ms, saying what it waited for.
    let (first, second) = tokio::join!(c.send_unit(get("a")), async {
        tokio::task::yield_now().await;
        c.send_unit(get("b")).await
    });
    let first = first.unwrap_err();
    let second = second.unwrap_err();
    assert_eq!(first.kind(), ErrorKind::Timeout, "{first}");
    assert_eq!(second.kind(), ErrorKind::Timeout, "{second}");
    assert!(second.is_transient());
    assert!(second.to_string().contains("max_connections"), "{second}");
    assert!(!first.to_string().contains("max_connections"), "{first}");
    assert_eq!(
        server.count("/ari/channels/b"),
        0,
        "the second call never left"
    );
}

#[test]
fn max_connections_of_zero_is_refused() {
    let e = Client::builder()
        .max_connections(Some(0))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("max_connections"), "{e}");
}
