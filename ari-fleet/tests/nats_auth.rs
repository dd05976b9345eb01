//! NATS with credentials: a nats-server that requires a user and password lets a fleet in with
//! them in the URL (NATS's own `nats://user:password@host` form), refuses a wrong password
//! with an error that names the server but not the password, and never shows the credentials
//! in `Debug`.

mod common;

use std::time::Duration;

use ari_fleet::Fleet;
use common::Nats;

#[tokio::test]
async fn credentials_in_the_url_are_used_and_never_shown() {
    let Some(nats) = Nats::start_with(
        "credentials_in_the_url_are_used_and_never_shown",
        &["--user", "fleet", "--pass", "s3cr3t-pw"],
    ) else {
        return;
    };
    let good = format!("nats://fleet:s3cr3t-pw@127.0.0.1:{}", nats.port);
    let builder = Fleet::builder(&good);
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains("s3cr3t-pw") && shown.contains("***@127.0.0.1"),
        "{shown}"
    );
    tokio::time::timeout(Duration::from_secs(20), builder.connect())
        .await
        .expect("connect in time")
        .expect("the right credentials are accepted");

    let wrong = format!("nats://fleet:wrong-pw@127.0.0.1:{}", nats.port);
    let err = tokio::time::timeout(Duration::from_secs(20), Fleet::builder(&wrong).connect())
        .await
        .expect("an answer in time")
        .expect_err("a wrong password is refused");
    let text = err.to_string();
    assert!(!text.contains("wrong-pw"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", nats.port)), "{text}");
}
