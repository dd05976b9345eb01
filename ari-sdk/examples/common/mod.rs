//! Shared by the examples (not an example itself): connection settings from the command line or
//! the environment, a clear exit status, and the one-call mode that originates a call into the
//! example's own Stasis application.
//!
//! Every example accepts `--url`, `--user` and `--password` (or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD`; defaults `http://127.0.0.1:8088/ari`, `asterisk`, `asterisk`).

// Each example uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ari_sdk::routing::{Call, Router};
use ari_sdk::{BridgeHandle, ChannelHandle, Client};
use futures::StreamExt;

/// The command line: the connection settings, the example's own options, positional arguments.
#[derive(Debug)]
pub struct Cli {
    /// ARI base URL.
    pub url: String,
    /// ARI user.
    pub user: String,
    /// ARI password.
    pub password: String,
    values: HashMap<String, String>,
    /// Arguments that are not options.
    pub positional: Vec<String>,
}

impl Cli {
    /// Parses the process arguments. `options` are the example's own options that take a value
    /// (`--name value` or `--name=value`); `usage` is printed for `--help`, after which the
    /// process exits.
    pub fn parse(usage: &str, options: &[&str]) -> anyhow::Result<Cli> {
        Cli::parse_from(std::env::args().skip(1), usage, options)
    }

    /// Parses `args` (without the program name).
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        usage: &str,
        options: &[&str],
    ) -> anyhow::Result<Cli> {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        let mut cli = Cli {
            url: env("ARI_URL", ari_sdk::DEFAULT_BASE_URL),
            user: env("ARI_USER", "asterisk"),
            password: env("ARI_PASSWORD", "asterisk"),
            values: HashMap::new(),
            positional: Vec::new(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                println!("{usage}\n\nConnection: --url URL --user USER --password PASSWORD");
                println!(
                    "  (or ARI_URL, ARI_USER, ARI_PASSWORD; default {}, asterisk/asterisk)",
                    ari_sdk::DEFAULT_BASE_URL
                );
                std::process::exit(0);
            }
            let Some(option) = arg.strip_prefix("--") else {
                cli.positional.push(arg);
                continue;
            };
            let (name, inline) = match option.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (option.to_owned(), None),
            };
            if !["url", "user", "password"].contains(&name.as_str())
                && !options.contains(&name.as_str())
            {
                bail!("unknown option --{name}\n\n{usage}");
            }
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .with_context(|| format!("--{name} needs a value"))?,
            };
            match name.as_str() {
                "url" => cli.url = value,
                "user" => cli.user = value,
                "password" => cli.password = value,
                _ => {
                    cli.values.insert(name, value);
                }
            }
        }
        Ok(cli)
    }

    /// The value of one of the example's options.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// An option given in seconds (fractions allowed), or `default`.
    pub fn seconds(&self, name: &str, default: Duration) -> anyhow::Result<Duration> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .with_context(|| format!("--{name}: {v:?} is not a number of seconds")),
        }
    }

    /// Builds the client and checks that the server answers and accepts the credentials.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let client = Client::new(&self.url, &self.user, &self.password)
            .with_context(|| format!("bad connection settings for {}", self.url))?;
        let version = client
            .connect()
            .await
            .with_context(|| format!("cannot reach ARI at {}", self.url))?;
        match version {
            Some(v) => println!("connected to Asterisk {v} at {}", client.base_url()),
            None => println!("connected to {}", client.base_url()),
        }
        Ok(client)
    }
}

/// Shows the SDK's own log lines (warnings, reconnects) on stderr; the examples' output is
/// on stdout.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
}

/// The process exit status for an example's result; prints the error and its causes.
pub fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A unique Stasis application name, so that runs do not take each other's calls.
pub fn unique_app(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Connects the events WebSocket for `app` (the application is registered when this returns,
/// so calls into it are not missed) and starts routing its events.
pub async fn router(client: &Client, app: &str) -> anyhow::Result<Router> {
    let events = client
        .event_stream()
        .app(app)
        .connect()
        .await
        .with_context(|| format!("cannot connect the events of application {app}"))?;
    // The per-resource streams carry everything these examples need; the stream of every item
    // is dropped rather than left to queue.
    let (router, _all) = Router::new(client, events)?;
    Ok(router)
}

/// The one-call mode of the examples: originates `endpoint` into `app` (subscribed before the
/// request), hands the call to `handle`, and returns its result. On failure, or when the call is
/// not done within `timeout`, the caller is hung up; the router is closed either way.
pub async fn place_call<R, F, Fut>(
    client: &Client,
    app: &str,
    endpoint: &str,
    timeout: Duration,
    handle: F,
) -> anyhow::Result<R>
where
    F: FnOnce(Call) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<R>>,
{
    let router = router(client, app).await?;
    // Subscribed before the originate; its id is known for the cleanup below.
    let caller = router.new_channel();
    let caller_id = caller.handle.id().to_owned();
    println!("originating {endpoint} into application {app} as channel {caller_id}");
    let request = caller.handle.originate_with_id(endpoint).app(app);
    let outcome = tokio::time::timeout(timeout, async {
        // The library sends the originate and waits for the channel's StasisStart.
        let call = router
            .place_call(caller, request)
            .await
            .with_context(|| format!("originate {endpoint} into {app}"))?;
        handle(call).await
    })
    .await;
    let result = outcome.unwrap_or_else(|_| {
        Err(anyhow::anyhow!(
            "the call did not end within {} s",
            timeout.as_secs_f64()
        ))
    });
    if result.is_err() {
        hang_up_quietly(client, &caller_id).await;
    }
    router.close();
    result
}

/// Hangs up a channel, accepting that it may be gone already
/// ([`ChannelHandle::hangup_if_present`]). Used on cleanup paths.
pub async fn hang_up_quietly(client: &Client, channel_id: &str) {
    match ChannelHandle::new(client.clone(), channel_id)
        .hangup_if_present()
        .await
    {
        Ok(true) => println!("hung up channel {channel_id}"),
        Ok(false) => {}
        Err(e) => eprintln!("warning: cannot hang up channel {channel_id}: {e}"),
    }
}

/// Destroys a bridge, accepting that it may be gone already
/// ([`BridgeHandle::destroy_if_present`]). Used on cleanup paths.
pub async fn destroy_bridge_quietly(client: &Client, bridge_id: &str) {
    match BridgeHandle::new(client.clone(), bridge_id)
        .destroy_if_present()
        .await
    {
        Ok(true) => println!("destroyed bridge {bridge_id}"),
        Ok(false) => {}
        Err(e) => eprintln!("warning: cannot destroy bridge {bridge_id}: {e}"),
    }
}

/// Drains a resource's event stream until it ends (the resource left the application), for at
/// most `limit`. Returns whether it ended in time.
pub async fn wait_until_gone(
    events: &mut ari_sdk::routing::ResourceEvents,
    limit: Duration,
) -> bool {
    tokio::time::timeout(limit, async { while events.next().await.is_some() {} })
        .await
        .is_ok()
}
