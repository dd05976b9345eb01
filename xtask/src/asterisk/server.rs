//! Starting, stopping and probing one release's Asterisk inside its chroot.

use super::chroot::{self, State};
use super::http;
use super::release::Release;
use super::sys::{self, Proc};
use anyhow::{Context, Result, bail};
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The ARI user that `ari.conf` defines.
pub const USER: &str = "asterisk";
/// The ARI user's password.
pub const PASSWORD: &str = "asterisk";

/// How long a start may take before it is an error.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The Asterisk daemons running in `release`'s chroot (remote consoles such as
/// `asterisk -rx …` excluded).
pub fn daemons(release: Release) -> Vec<Proc> {
    sys::procs_in_root(&chroot::dir(release), "asterisk")
        .into_iter()
        .filter(|p| {
            !p.cmdline
                .split(' ')
                .skip(1)
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(['r', 'R', 'x']))
        })
        .collect()
}

/// The version that the server on `port` reports at `GET /ari/asterisk/info`.
pub fn reported_version(port: u16) -> Result<String> {
    let r = http::get(port, "/ari/asterisk/info", USER, PASSWORD)?;
    if r.status != 200 {
        bail!("GET /ari/asterisk/info answered {}", r.status);
    }
    version_of(&r.body)
}

/// `system.version` of an `/ari/asterisk/info` body.
fn version_of(body: &str) -> Result<String> {
    let v: serde_json::Value =
        serde_json::from_str(body).context("/ari/asterisk/info answered bad JSON")?;
    Ok(v["system"]["version"]
        .as_str()
        .context("/ari/asterisk/info has no system.version")?
        .to_owned())
}

/// The files whose tails explain a failed start.
fn log_tails(dir: &Path) -> String {
    let logs = dir.join("var/log/asterisk");
    format!(
        "startup output ({}):\n{}\nlast lines of {}:\n{}",
        logs.join("startup.log").display(),
        sys::tail_file(&logs.join("startup.log"), 15),
        logs.join("messages.log").display(),
        sys::tail_file(&logs.join("messages.log"), 30)
    )
}

/// Fails with a clear message when something other than this release's Asterisk holds `port`.
fn check_port_free(release: Release, port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let who = Command::new("ss")
                .args(["-Hltnp", &format!("sport = :{port}")])
                .env("PATH", sys::PATH)
                .stderr(Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            bail!(
                "{release}: port {port} is already in use by another program{}; stop it, or \
                 pick another port with {}=PORT",
                if who.is_empty() {
                    String::new()
                } else {
                    format!(" ({who})")
                },
                release.port_env()
            )
        }
        Err(e) => Err(e).with_context(|| format!("checking that port {port} is free")),
    }
}

/// Starts `release`'s Asterisk (if it is not running) and waits until ARI answers; returns the
/// version it reports. The chroot must be finished and configured.
pub fn start(release: Release) -> Result<String> {
    let dir = chroot::dir(release);
    let port = release.port()?;
    if !matches!(chroot::state(release), State::Ready(_)) {
        bail!(
            "{release}: no finished chroot at {}; run `cargo xtask asterisk up --release {}`",
            dir.display(),
            release.major()
        );
    }
    if !daemons(release).is_empty() {
        return wait_ready(release, port, Instant::now());
    }
    let started = Instant::now();
    check_port_free(release, port)?;
    let proc_dir = dir.join("proc");
    if !sys::is_mount_point(&proc_dir) {
        sys::run(
            Command::new("mount")
                .arg("--bind")
                .arg("/proc")
                .arg(&proc_dir),
        )?;
    }
    // /var/run links to /run in the chroot, so create folders from inside it. The package
    // creates neither the run folder nor the one for ARI's stored recordings.
    sys::run(chroot::chroot_cmd(&dir, "mkdir").args([
        "-p",
        "/var/run/asterisk",
        "/var/spool/asterisk/recording",
    ]))?;
    let logs = dir.join("var/log/asterisk");
    fs::create_dir_all(&logs)?;
    let messages = logs.join("messages.log");
    if messages.exists() {
        fs::rename(&messages, logs.join("messages.log.1"))?;
    }
    let out = fs::File::create(logs.join("startup.log"))?;
    let mut cmd = chroot::chroot_cmd(&dir, "asterisk");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // Asterisk daemonizes: this returns once the daemon has forked off.
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `{}`", sys::show(&cmd)))?;
    if !status.success() {
        bail!(
            "{release}: `{}` failed ({status})\n{}",
            sys::show(&cmd),
            log_tails(&dir)
        );
    }
    wait_ready(release, port, started)
}

/// Waits until ARI of `release` answers `GET /ari/asterisk/info` and Asterisk is fully booted.
fn wait_ready(release: Release, port: u16, started: Instant) -> Result<String> {
    let dir = chroot::dir(release);
    let deadline = started + START_LIMIT;
    let version = loop {
        if daemons(release).is_empty() {
            bail!(
                "{release}: Asterisk exited while starting\n{}",
                log_tails(&dir)
            );
        }
        match http::get(port, "/ari/asterisk/info", USER, PASSWORD) {
            Ok(r) if r.status == 200 => break version_of(&r.body)?,
            Ok(r) if r.status == 401 => bail!(
                "{release}: ARI on port {port} refused {USER}/{PASSWORD} (401): is ari.conf in \
                 {} the one `up` writes?",
                dir.join("etc/asterisk").display()
            ),
            _ => {}
        }
        if Instant::now() >= deadline {
            bail!(
                "{release}: ARI did not answer GET http://127.0.0.1:{port}/ari/asterisk/info \
                 within {} s\n{}",
                START_LIMIT.as_secs(),
                log_tails(&dir)
            );
        }
        sleep(Duration::from_millis(200));
    };
    // ARI can answer before every module has loaded; the dialplan must be there too.
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(10));
    let booted = sys::run_with_timeout(
        chroot::chroot_cmd(&dir, "asterisk").args(["-rx", "core waitfullybooted"]),
        left,
    )?;
    if !booted {
        bail!(
            "{release}: ARI answers but `core waitfullybooted` did not return\n{}",
            log_tails(&dir)
        );
    }
    Ok(version)
}

/// Stops `release`'s Asterisk (`core stop now`, then signals if it lingers) and unmounts its
/// `/proc`; returns whether a server was running. Doing it twice is harmless.
pub fn stop(release: Release) -> Result<bool> {
    let dir = chroot::dir(release);
    if !dir.exists() {
        return Ok(false);
    }
    let was_running = !daemons(release).is_empty();
    let gone = |limit: Duration| {
        let deadline = Instant::now() + limit;
        loop {
            if sys::procs_in_root(&dir, "asterisk").is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(Duration::from_millis(100));
        }
    };
    if was_running {
        sys::run_with_timeout(
            chroot::chroot_cmd(&dir, "asterisk").args(["-rx", "core stop now"]),
            Duration::from_secs(15),
        )?;
    }
    if !gone(Duration::from_secs(20)) {
        for (sig, wait) in [("TERM", 5), ("KILL", 5)] {
            let left = sys::procs_in_root(&dir, "asterisk");
            eprintln!(
                "{release}: Asterisk did not stop; sending SIG{sig} to {:?}",
                left.iter().map(|p| p.pid).collect::<Vec<_>>()
            );
            for p in left {
                sys::signal(p.pid, sig);
            }
            if gone(Duration::from_secs(wait)) {
                break;
            }
        }
        let left = sys::procs_in_root(&dir, "asterisk");
        if !left.is_empty() {
            bail!("{release}: Asterisk processes survive SIGKILL: {left:?}");
        }
    }
    // A multi-threaded process whose main thread has exited no longer shows a root in /proc,
    // yet its other threads may still hold the listening socket for a moment: a restart right
    // away would find the port taken. Wait (bounded) until the port can be bound again.
    if was_running && let Ok(port) = release.port() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpListener::bind(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
            sleep(Duration::from_millis(100));
        }
    }
    sys::unmount_all(&dir)?;
    Ok(was_running)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version() {
        let body = r#"{"build":{},"system":{"version":"22.10.1","entity_id":"x"},"config":{}}"#;
        assert_eq!(version_of(body).unwrap(), "22.10.1");
        assert!(version_of("{}").is_err());
    }
}
