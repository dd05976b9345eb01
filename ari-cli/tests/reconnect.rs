//! `ari events` survives a lost connection: the test puts a TCP relay between `ari` and the
//! real Asterisk 22.10.1, cuts every relayed connection, and sees the tail report the reconnect
//! on stderr and then show an event of a call placed after it.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A bound on each wait; not a timing assertion.
const WAIT: Duration = Duration::from_secs(30);

/// Relays connections to `upstream`; `cut` closes every one relayed so far.
struct Relay {
    port: u16,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let conns = open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut list = conns.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, open }
    }

    fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

#[test]
fn events_tail_reconnects() {
    let Some(s) = support::server(22, "events_tail_reconnects") else {
        return;
    };
    let url = url::Url::parse(&s.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(80));
    let relay = Relay::start(upstream);
    let relayed = format!("http://127.0.0.1:{}{}", relay.port, url.path());
    let app = support::unique_app("reconnect");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .env("ARI_URL", &relayed)
        .env("ARI_USER", &s.user)
        .env("ARI_PASSWORD", &s.password)
        .args([
            "events",
            "--app",
            &app,
            "--json",
            "--type",
            "StasisStart",
            "--count",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, notes) = mpsc::channel();
    let err = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = notes.recv_timeout(WAIT).expect("a note");
    assert!(
        first.starts_with("ari: listening for events of "),
        "{first}"
    );
    relay.cut();
    // Notes until the reconnect: possibly a line saying the connection was lost.
    loop {
        let note = notes
            .recv_timeout(WAIT)
            .expect("the tail says it reconnected");
        if note.starts_with("ari: reconnected after ") {
            assert!(note.contains("events meanwhile were lost"), "{note}");
            break;
        }
        assert!(note.starts_with("ari: "), "{note}");
    }
    // Registered again: a call into the app reaches the tail.
    let id = format!("{app}-c");
    let chan = s
        .ari()
        .args([
            "channels",
            "originate",
            "Local/wait@default",
            "--app",
            &app,
            "--channel-id",
            &id,
        ])
        .output()
        .unwrap();
    assert!(
        chan.status.success(),
        "{}",
        String::from_utf8_lossy(&chan.stderr)
    );
    let line = support::first_line(&mut child, WAIT);
    let _ = s.ari().args(["channels", "hangup", &id]).output();
    let line = line.expect("the StasisStart line");
    assert!(child.wait().unwrap().success());
    let ev: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["type"], "StasisStart");
    assert_eq!(ev["channel"]["id"], id.as_str());
}
