//! The Debian chroots that hold each release: made once, kept outside the clone, reused.

use super::release::Release;
use super::sys;
use anyhow::{Context, Result, bail};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Bumped whenever [`provision`] changes, so existing chroots are provisioned again.
const RECIPE: u32 = 1;

/// What `apt-get install` puts into every chroot.
const PACKAGES: &[&str] = &[
    "asterisk",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
];

/// Written last into a finished chroot: its absence marks a half-made one.
const MARKER: &str = ".ari-rs-chroot";

/// sid's and bullseye's Release files have expired in the registry's snapshot.
const APT_NO_EXPIRY: &str = "Acquire::Check-Valid-Until=false";

/// The folder that holds the chroots: `$ARI_ASTERISK_CACHE`, else `/var/cache/ari-rs`.
pub fn cache_root() -> PathBuf {
    match std::env::var_os("ARI_ASTERISK_CACHE") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("/var/cache/ari-rs"),
    }
}

/// The chroot of `release`, e.g. `/var/cache/ari-rs/asterisk-sid`.
pub fn dir(release: Release) -> PathBuf {
    cache_root().join(format!("asterisk-{}", release.suite()))
}

/// Where a chroot is built before it is renamed to [`dir`].
fn partial_dir(release: Release) -> PathBuf {
    cache_root().join(format!("asterisk-{}.partial", release.suite()))
}

/// The log of the commands that built `release`'s chroot.
pub fn build_log(release: Release) -> PathBuf {
    cache_root().join(format!("asterisk-{}.build.log", release.suite()))
}

/// How far a release's chroot is.
#[derive(Debug)]
pub enum State {
    /// No chroot.
    Missing,
    /// A chroot without the marker of a finished one, or from an older recipe.
    Incomplete,
    /// A finished chroot, with the Debian version of its `asterisk` package.
    Ready(String),
}

/// The state of `release`'s chroot.
pub fn state(release: Release) -> State {
    let dir = dir(release);
    if !dir.is_dir() {
        return State::Missing;
    }
    let marker = fs::read_to_string(dir.join(MARKER)).unwrap_or_default();
    let field = |k: &str| {
        marker
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_owned)
    };
    match field("recipe") {
        Some(r) if r == RECIPE.to_string() => State::Ready(field("asterisk").unwrap_or_default()),
        _ => State::Incomplete,
    }
}

/// A command run inside `dir` with a clean environment.
pub fn chroot_cmd(dir: &Path, program: &str) -> Command {
    let mut c = Command::new("chroot");
    c.arg(dir)
        .arg(program)
        .env_clear()
        .env("PATH", sys::PATH)
        .env("LANG", "C.UTF-8")
        .env("HOME", "/root")
        .env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// Makes sure `release`'s chroot is finished, building it if it is missing or half-made
/// (or always, with `rebuild`). The server must not be running.
pub fn ensure(release: Release, rebuild: bool) -> Result<()> {
    let dir = dir(release);
    if rebuild && dir.exists() {
        println!("{release}: removing {} (--rebuild)", dir.display());
        remove_tree(&dir)?;
    }
    match state(release) {
        State::Ready(_) => return Ok(()),
        State::Incomplete if dir.join(MARKER).exists() => {
            // Finished by an older recipe: provision again in place, no debootstrap.
            println!(
                "{release}: updating {} to the current recipe",
                dir.display()
            );
            let log = build_log(release);
            provision(&dir, release, &log)?;
            return Ok(());
        }
        State::Incomplete => {
            println!("{release}: {} is half-made; rebuilding it", dir.display());
            remove_tree(&dir)?;
        }
        State::Missing => {}
    }

    let started = Instant::now();
    let root = cache_root();
    fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let partial = partial_dir(release);
    if partial.exists() {
        remove_tree(&partial)?;
    }
    let log = build_log(release);
    let _ = fs::remove_file(&log);
    let debootstrap = ensure_debootstrap()?;
    let mirror = debian_mirror();
    println!(
        "{release}: creating chroot {} with debootstrap from {mirror} (a minute or two; log: {})",
        dir.display(),
        log.display()
    );
    sys::run_logged(
        Command::new(debootstrap)
            .arg("--variant=minbase")
            .arg(release.suite())
            .arg(&partial)
            .arg(&mirror),
        &log,
    )
    .with_context(|| format!("creating the {} chroot failed", release.suite()))?;
    provision(&partial, release, &log)?;
    sys::unmount_all(&partial)?;
    fs::rename(&partial, &dir)
        .with_context(|| format!("renaming {} to {}", partial.display(), dir.display()))?;
    println!(
        "{release}: chroot ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Installs Asterisk into a bootstrapped chroot, makes it runnable as root, then writes the
/// marker.
fn provision(dir: &Path, release: Release, log: &Path) -> Result<()> {
    // Name resolution for apt inside the chroot.
    let resolv = dir.join("etc/resolv.conf");
    if Path::new("/etc/resolv.conf").exists() {
        let _ = fs::remove_file(&resolv);
        fs::copy("/etc/resolv.conf", &resolv)
            .context("copying /etc/resolv.conf into the chroot")?;
    }
    // Package scripts must not try to start services.
    let policy = dir.join("usr/sbin/policy-rc.d");
    fs::write(&policy, "#!/bin/sh\nexit 101\n")?;
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))?;

    println!("{release}: installing {} in the chroot", PACKAGES.join(" "));
    sys::run_logged(
        chroot_cmd(dir, "apt-get").args(["-o", APT_NO_EXPIRY, "update"]),
        log,
    )?;
    sys::run_logged(
        chroot_cmd(dir, "apt-get")
            .args([
                "-o",
                APT_NO_EXPIRY,
                "install",
                "-y",
                "--no-install-recommends",
            ])
            .args(PACKAGES),
        log,
    )?;
    sys::run_logged(chroot_cmd(dir, "apt-get").arg("clean"), log)?;

    // The package's files belong to the chroot's `asterisk` user; Asterisk runs as root here
    // and cannot read them otherwise.
    let mut chown = Command::new("chown");
    chown.arg("-R").arg("root:root");
    for sub in [
        "etc/asterisk",
        "var/lib/asterisk",
        "var/spool/asterisk",
        "var/log/asterisk",
        "usr/share/asterisk",
    ] {
        if dir.join(sub).exists() {
            chown.arg(dir.join(sub));
        }
    }
    sys::run(&mut chown)?;

    let version =
        sys::run(chroot_cmd(dir, "dpkg-query").args(["-W", "-f", "${Version}", "asterisk"]))?;
    let version = version.trim();
    if !version.contains(release.version()) {
        eprintln!(
            "warning: Debian {} now ships asterisk {version}, not {}",
            release.suite(),
            release.version()
        );
    }
    fs::write(
        dir.join(MARKER),
        format!(
            "recipe={RECIPE}\nsuite={}\nasterisk={version}\n",
            release.suite()
        ),
    )?;
    Ok(())
}

/// Removes a chroot (or half-made one) after unmounting whatever is mounted inside it.
fn remove_tree(path: &Path) -> Result<()> {
    let root = cache_root();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if path.parent() != Some(root.as_path()) || !name.starts_with("asterisk-") {
        bail!(
            "refusing to remove {}: not a chroot of this harness",
            path.display()
        );
    }
    sys::unmount_all(path)
        .with_context(|| format!("cannot remove {}: a mount inside stays", path.display()))?;
    fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}

/// The path of `debootstrap`, installing it with apt-get if it is missing.
pub fn ensure_debootstrap() -> Result<PathBuf> {
    ensure_host_tool("debootstrap", "debootstrap")
}

/// The path of host program `tool`, installing Debian package `package` with apt-get if it is
/// missing (`nats-server` for the fleet's tests, say).
pub fn ensure_host_tool(tool: &str, package: &str) -> Result<PathBuf> {
    if let Some(p) = sys::which(tool) {
        return Ok(p);
    }
    println!("{tool} is missing: installing {package} with apt-get");
    let install = || {
        sys::run(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", package]),
        )
    };
    if install().is_err() {
        // A machine whose package lists were never fetched: fetch them, then try again.
        let retry = sys::run(Command::new("apt-get").arg("update")).and_then(|_| install());
        if let Err(e) = retry {
            bail!(
                "{tool} is not installed and `apt-get install -y {package}` failed; \
                 install it by hand.\n{e:#}"
            );
        }
    }
    sys::which(tool)
        .with_context(|| format!("{package} was installed but {tool} is not on the PATH"))
}

/// The Debian mirror for debootstrap: `$ARI_DEBIAN_MIRROR`, else the first `…/debian` URI in
/// the host's apt sources, else `http://deb.debian.org/debian`.
pub fn debian_mirror() -> String {
    let from_env = std::env::var("ARI_DEBIAN_MIRROR").unwrap_or_default();
    if !from_env.trim().is_empty() {
        return from_env.trim().trim_end_matches('/').to_owned();
    }
    let mut texts = Vec::new();
    if let Ok(t) = fs::read_to_string("/etc/apt/sources.list") {
        texts.push((false, t));
    }
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "list" && ext != "sources" {
                continue;
            }
            if let Ok(t) = fs::read_to_string(&p) {
                texts.push((ext == "sources", t));
            }
        }
    }
    texts
        .iter()
        .flat_map(|(deb822, t)| {
            if *deb822 {
                uris_deb822(t)
            } else {
                uris_one_line(t)
            }
        })
        .map(|u| u.trim_end_matches('/').to_owned())
        .find(|u| u.ends_with("/debian"))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// The URIs of `deb` lines in a one-line-style sources file.
fn uris_one_line(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut w = words.next();
        if w.is_some_and(|x| x.starts_with('[')) {
            // Skip options up to the closing bracket.
            while let Some(x) = w {
                w = words.next();
                if x.ends_with(']') {
                    break;
                }
            }
        }
        if let Some(u) = w {
            out.push(u.to_owned());
        }
    }
    out
}

/// The URIs of enabled `deb` stanzas in a deb822-style `.sources` file.
fn uris_deb822(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        if field("Enabled").eq_ignore_ascii_case("no")
            || !field("Types").split_whitespace().any(|t| t == "deb")
        {
            continue;
        }
        out.extend(field("URIs").split_whitespace().map(str::to_owned));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        let deb822 = "Types: deb\n# comment: x\nURIs: http://m.example/debian\nSuites: bookworm\n\n\
                      Types: deb\nURIs: http://m.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            uris_deb822(deb822),
            [
                "http://m.example/debian",
                "http://m.example/debian-security"
            ]
        );
        let list = "# x\ndeb [arch=amd64 signed-by=/k] http://a.example/debian/ bookworm main\n\
                    deb-src http://b.example/debian bookworm main\n";
        assert_eq!(uris_one_line(list), ["http://a.example/debian/"]);
    }
}
