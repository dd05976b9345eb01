//! `cargo xtask asterisk up|down|status|restart|cli`: real Asterisk servers for the
//! conformance suite, each in a Debian chroot on this machine.
//!
//! # Commands
//!
//! ```text
//! cargo xtask asterisk up      [--release 22|16|all] [--rebuild]  # build (once), configure, start
//! cargo xtask asterisk down    [--release 22|16|all]              # stop, unmount /proc
//! cargo xtask asterisk status  [--release 22|16|all]              # chroot, process, port, version
//! cargo xtask asterisk restart [--release 22|16|all]              # stop then start, same config
//! cargo xtask asterisk cli     [--release 22|16|all] CLI COMMAND… # `asterisk -rx` in the chroot
//! ```
//!
//! `--release` defaults to `all` and also takes `22.10.1`, `16.28.0`, `sid`, `bullseye` or a
//! comma-separated list. Every command but `status` needs root (debootstrap, chroot, mount).
//! Releases are handled in parallel; concurrent `cargo xtask asterisk` runs take turns through
//! the lock file `<cache>/lock`.
//!
//! # Servers
//!
//! | release | Debian suite | ARI base URL                  | port override |
//! |---------|--------------|-------------------------------|---------------|
//! | 22.10.1 | `sid`        | `http://127.0.0.1:8088/ari`   | `ARI_PORT_22` |
//! | 16.28.0 | `bullseye`   | `http://127.0.0.1:8089/ari`   | `ARI_PORT_16` |
//!
//! HTTPS (`https://127.0.0.1:8443/ari` on 22, `:8444` on 16; override `ARI_TLS_PORT_22` /
//! `ARI_TLS_PORT_16`) uses a test PKI that `up` makes once per chroot in
//! `<chroot>/etc/asterisk/keys/`: trust `ari-test-ca.pem`; the server certificate
//! (`ari-test-cert.pem`, key `ari-test-key.pem`) names `127.0.0.1` only, so `localhost` is a
//! host-name mismatch. A second ARI user, `reader` / `reader`, is read-only. On 22,
//! `websocket_client.conf` and `ari.conf` `type=outbound_websocket` make Asterisk dial test
//! listeners on 127.0.0.1 ports 8765-8768 (ARI) and 8770-8771 (chan_websocket media); the port
//! layout and credentials are in that template.
//!
//! Both listen on 127.0.0.1 only. The ARI user is `asterisk`, password `asterisk` (basic
//! auth, or `api_key=asterisk:asterisk`); events at `ws://127.0.0.1:PORT/ari/events?app=NAME`.
//! The HTTP server allows 500 sessions (`sessionlimit`). AMI is off.
//!
//! `/ari/asterisk/info` reports Debian's package version, not the bare release:
//! `22.10.1+dfsg+~cs6.17.60671434-1` and `16.28.0~dfsg-0+deb11u4`. Neither package builds
//! `res_ari_mailboxes` (nor `res_mwi_external`), so `/ari/mailboxes` answers 404 on both.
//! Only 22 has `chan_websocket` (`/media/…`), `res_websocket_client` and
//! `app_stasis_broadcast`.
//!
//! # Layout
//!
//! The chroots live outside the clone, in `$ARI_ASTERISK_CACHE` (default `/var/cache/ari-rs`):
//!
//! ```text
//! /var/cache/ari-rs/asterisk-sid/            chroot of 22.10.1 (about 650 MB)
//! /var/cache/ari-rs/asterisk-bullseye/       chroot of 16.28.0
//! /var/cache/ari-rs/asterisk-<suite>.build.log   debootstrap and apt-get output of the build
//! /var/cache/ari-rs/lock                     held while a command changes servers
//! <chroot>/.ari-rs-chroot                    written last: a chroot without it is rebuilt
//! <chroot>/etc/asterisk/                     config; `up` rewrites the files listed below
//! <chroot>/var/log/asterisk/messages.log     notices, warnings, errors (rotated to .1 at start)
//! <chroot>/var/log/asterisk/startup.log      what `asterisk` printed while daemonizing
//! <chroot>/var/spool/asterisk/recording/     ARI stored recordings
//! ```
//!
//! A chroot is made with `debootstrap --variant=minbase <suite>` from the Debian mirror of the
//! host's apt sources (or `$ARI_DEBIAN_MIRROR`), then `apt-get install asterisk
//! asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm` inside it (with
//! `-o Acquire::Check-Valid-Until=false`: the suites' Release files have expired on the
//! registry), and the package's files are chowned to root, as Asterisk runs as root in it.
//! A cold build takes a minute or two per release; later `up`s reuse it. `up --rebuild`
//! forces a new one; so does deleting the folder.
//!
//! `up` writes these files from the templates in `xtask/assets/asterisk/` every time:
//! `http.conf`, `ari.conf`, `modules.conf`, `extensions.conf`, `logger.conf`, `manager.conf`,
//! `musiconhold.conf`, `websocket_client.conf`, `chan_websocket.conf`. If the server is already running, `up` leaves it running when no file
//! changed and restarts it when one did (e.g. another `ARI_PORT_22`). `modules.conf` loads
//! every packaged module except hardware drivers, PJSIP/chan_sip, listeners on fixed ports
//! (IAX2, DUNDi, …) and the AEL/Lua dialplans.
//!
//! # Dialplan: context `default`
//!
//! Far ends for whole call flows on Local channels: originating
//! `Local/EXT@default` into app `APP` puts the `;1` half in Stasis app `APP` while the `;2`
//! half runs `EXT`. Originate `variables` reach the `;2` half too. The `;1` half enters
//! Stasis only once `EXT` answers: with `ring` it stays out (the app still gets its `Dial`
//! events, `dialstatus` `RINGING`, and `GET /channels/{id}` shows state `Ringing`), and with
//! `hangup…` the app gets `ChannelDestroyed` with that cause and no `StasisStart`. To hold an
//! unanswered channel in an app, originate `Local/stasis@default`: its `;2` half enters
//! Stasis while still ringing.
//!
//! | extension       | what the far end does                                                |
//! |-----------------|----------------------------------------------------------------------|
//! | `wait`          | Answer, then Wait(3600): a silent party that stays up                |
//! | `echo`          | Answer, then Echo(): audio and DTMF come back                        |
//! | `ring`          | Ringing, then Wait(3600) without answering                           |
//! | `answer-later`  | Ringing for 2 s, then Answer and Wait(3600)                          |
//! | `answer-hangup` | Answer, then hang up 1 s later (cause 16)                            |
//! | `hangup`        | Hangup(17) before answering: busy                                    |
//! | `hangup-<N>`    | Hangup(N) before answering, e.g. `hangup-34`, `hangup-21`            |
//! | `dtmf`          | Answer, Wait(1), SendDTMF(123), then Wait(3600)                      |
//! | `dtmf-<D>`      | the same with digits D, e.g. `dtmf-42*`                              |
//! | `hello`         | Answer, Playback(hello-world), hang up                               |
//! | `moh`           | Answer, MusicOnHold(default): a far end that makes sound             |
//! | `tone`          | Answer, Playtones(440), Wait(3600)                                   |
//! | `stasis`        | Stasis(`${ARI_APP}` or `test-app`, `${ARI_ARGS}` if set), then hangup |
//! | `stasis-<app>`  | Stasis(`<app>`), then hangup: the far end in a second app            |
//!
//! Sounds: the English GSM core prompts (`sound:hello-world`, `sound:tt-monkeys`, digits…).
//! Music on hold: class `default` plays the opsound files.
//!
//! # Restarting a server from a test
//!
//! A test that must see Asterisk go away and come back (reconnects) runs, as root, from
//! anywhere in the clone:
//!
//! ```text
//! cargo xtask asterisk restart --release 22
//! ```
//!
//! which stops the server (`core stop now`) and starts it again with the same config,
//! returning once ARI answers again (about 1 s). It works from inside `cargo test`: cargo
//! releases its build lock before it runs test binaries. The same steps without cargo, for a
//! test that must hold the server down for a while:
//!
//! ```text
//! chroot /var/cache/ari-rs/asterisk-sid asterisk -rx 'core stop now'   # stop
//! chroot /var/cache/ari-rs/asterisk-sid asterisk                       # start (daemonizes)
//! # then poll GET http://127.0.0.1:8088/ari/asterisk/info until it answers 200
//! ```
//!
//! (`/proc` stays bind-mounted in the chroot between those two; `down` unmounts it.)

mod chroot;
mod config;
mod http;
mod release;
mod server;
mod sys;
mod tls;

pub use release::Release;
use release::{Selection, parse_selection};

use anyhow::{Result, bail};
use std::time::Instant;

/// Arguments of `cargo xtask asterisk`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// What to do with the servers.
#[derive(clap::Subcommand)]
enum Action {
    /// Build the chroots if needed, write the config, start the servers, wait for ARI.
    Up {
        #[command(flatten)]
        target: Target,
        /// Delete and rebuild the chroots first.
        #[arg(long)]
        rebuild: bool,
    },
    /// Stop the servers and unmount their /proc (harmless when already down).
    Down {
        #[command(flatten)]
        target: Target,
    },
    /// Show each release's chroot, process, port and the version ARI reports.
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Stop then start the servers with their current config; waits for ARI.
    Restart {
        #[command(flatten)]
        target: Target,
    },
    /// Run an Asterisk CLI command (`asterisk -rx`) in each server, e.g. `core show channels`.
    Cli {
        #[command(flatten)]
        target: Target,
        /// The CLI command, words joined by spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

/// The `--release` option.
#[derive(clap::Args)]
struct Target {
    /// Which release: 22 (22.10.1), 16 (16.28.0) or all.
    #[arg(long, short, default_value = "all", value_parser = parse_selection)]
    release: Selection,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Up { target, rebuild } => up(&target.release.0, rebuild),
        Action::Down { target } => down(&target.release.0),
        Action::Status { target } => {
            status(&target.release.0);
            Ok(())
        }
        Action::Restart { target } => restart(&target.release.0),
        Action::Cli { target, command } => cli(&target.release.0, &command.join(" ")),
    }
}

/// Takes the lock that serializes commands that change chroots or servers.
fn lock() -> Result<sys::Lock> {
    sys::require_root()?;
    let root = chroot::cache_root();
    std::fs::create_dir_all(&root)?;
    sys::Lock::acquire(&root.join("lock"))
}

/// Runs `job` for every release at once; fails if any failed, naming each failure.
fn each<T: Send>(
    releases: &[Release],
    job: impl Fn(Release) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let job = &job;
    let results: Vec<(Release, Result<T>)> = std::thread::scope(|s| {
        let handles: Vec<_> = releases
            .iter()
            .map(|&r| (r, s.spawn(move || job(r))))
            .collect();
        handles
            .into_iter()
            .map(|(r, h)| {
                let res = h
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("{r}: the worker panicked")));
                (r, res)
            })
            .collect()
    });
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (r, res) in results {
        match res {
            Ok(v) => ok.push(v),
            Err(e) => {
                let e = format!("{e:#}");
                let named = e.starts_with(&r.to_string());
                errors.push(if named { e } else { format!("{r}: {e}") });
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n\n"));
    }
    Ok(ok)
}

/// `up`: builds missing chroots, writes the config and starts (or keeps) each server.
pub fn up(releases: &[Release], rebuild: bool) -> Result<()> {
    let _lock = lock()?;
    let mut ports: Vec<(u16, Release)> = Vec::new();
    for &r in releases {
        let port = r.port()?;
        if let Some((_, other)) = ports.iter().find(|(p, _)| *p == port) {
            bail!("{r} and {other} would both use port {port}: set ARI_PORT_22 / ARI_PORT_16");
        }
        ports.push((port, r));
    }
    // apt-get on the host once, before the releases build in parallel.
    if releases
        .iter()
        .any(|&r| rebuild || !matches!(chroot::state(r), chroot::State::Ready(_)))
    {
        chroot::ensure_debootstrap()?;
    }
    // The fleet's tests (ari-fleet) start nats-server processes of their own.
    chroot::ensure_host_tool("nats-server", "nats-server")?;
    each(releases, |r| {
        let started = Instant::now();
        let port = r.port()?;
        let dir = chroot::dir(r);
        if rebuild {
            server::stop(r)?;
        }
        chroot::ensure(r, rebuild)?;
        let changed = config::write(&dir, r, port)?;
        let running = !server::daemons(r).is_empty();
        let what = match (running, changed) {
            (true, false) => "already running, left as is",
            (true, true) => {
                println!("{r}: config changed: restarting");
                server::stop(r)?;
                "restarted"
            }
            (false, _) => "started",
        };
        let version = server::start(r)?;
        println!(
            "{r}: {what}; ARI http://127.0.0.1:{port}/ari ({}/{}) reports {version} ({:.1} s)",
            server::USER,
            server::PASSWORD,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })?;
    Ok(())
}

/// `down`: stops each server and unmounts its `/proc`.
pub fn down(releases: &[Release]) -> Result<()> {
    let _lock = lock()?;
    each(releases, |r| {
        let started = Instant::now();
        let was = server::stop(r)?;
        println!(
            "{r}: {} ({:.1} s)",
            if was { "stopped" } else { "was not running" },
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })?;
    Ok(())
}

/// `restart`: stops then starts each server without touching its config.
pub fn restart(releases: &[Release]) -> Result<()> {
    let _lock = lock()?;
    each(releases, |r| {
        let started = Instant::now();
        server::stop(r)?;
        let version = server::start(r)?;
        println!(
            "{r}: restarted; ARI http://127.0.0.1:{}/ari reports {version} ({:.1} s)",
            r.port()?,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })?;
    Ok(())
}

/// `status`: prints what each release has (no root needed, nothing changes).
fn status(releases: &[Release]) {
    for &r in releases {
        let dir = chroot::dir(r);
        let chroot = match chroot::state(r) {
            chroot::State::Missing => "missing (run `cargo xtask asterisk up`)".to_owned(),
            chroot::State::Incomplete => "half-made (the next `up` rebuilds it)".to_owned(),
            chroot::State::Ready(v) => format!("ready, package asterisk {v}"),
        };
        let port = r
            .port()
            .map_or_else(|e| format!("({e})"), |p| p.to_string());
        let daemons = server::daemons(r);
        let server = if daemons.is_empty() {
            // Without root, other users' processes cannot be told apart: ask ARI instead.
            match r.port().and_then(server::reported_version) {
                Ok(v) if sys::require_root().is_err() => {
                    format!("running (ARI reports {v}; run as root to see the pid)")
                }
                _ => "stopped".to_owned(),
            }
        } else {
            let pids: Vec<String> = daemons.iter().map(|p| p.pid.to_string()).collect();
            let reported = match r.port().and_then(server::reported_version) {
                Ok(v) => format!("ARI reports {v}"),
                Err(e) => format!("ARI does not answer: {e:#}"),
            };
            format!("running (pid {}); {reported}", pids.join(", "))
        };
        println!("{r}");
        println!("  chroot: {} ({chroot})", dir.display());
        println!(
            "  ARI:    http://127.0.0.1:{port}/ari  user {} password {}",
            server::USER,
            server::PASSWORD
        );
        println!("  server: {server}");
    }
}

/// `cli`: runs one Asterisk CLI command in each running server, printing its output.
fn cli(releases: &[Release], command: &str) -> Result<()> {
    sys::require_root()?;
    for &r in releases {
        if releases.len() > 1 {
            println!("== {r}");
        }
        if server::daemons(r).is_empty() {
            bail!(
                "{r} is not running: `cargo xtask asterisk up --release {}`",
                r.major()
            );
        }
        let mut cmd = chroot::chroot_cmd(&chroot::dir(r), "asterisk");
        cmd.args(["-rx", command]);
        let status = cmd.status()?;
        if !status.success() {
            bail!("`{}` failed ({status})", sys::show(&cmd));
        }
    }
    Ok(())
}
