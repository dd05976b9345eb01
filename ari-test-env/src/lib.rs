//! The environment of the workspace's real-server tests, read in one place.
//!
//! The tests run against Asterisk 22.10.1 at `ARI_URL_22` and 16.28.0 at `ARI_URL_16` (ARI base
//! URLs such as `http://127.0.0.1:8088/ari`), as `ARI_USER` / `ARI_PASSWORD` (default
//! `asterisk` / `asterisk`). The rule for a server that is not configured:
//!
//! * without `ARI_REQUIRE_SERVERS`, a test of it prints a `SKIP` line and passes;
//! * with `ARI_REQUIRE_SERVERS=1` (anything but empty or `0`), an unset URL means the server of
//!   `cargo xtask asterisk up` ([`default_url`]), and a server that does not answer fails the test.
//!
//! [`Server`] never shows its password in `Debug`. [`unique_name`] makes the names (Stasis
//! applications, channel ids) that keep tests running at the same time, on shared servers, apart.
//!
//! [`restart_lock`] keeps the tests against Asterisk 22 and the ones that restart it apart, and
//! [`restart_asterisk`] restarts a local server.
//!
//! This crate has no dependency on ari-sdk, so that ari-sdk's own tests can use it.

use std::fmt;
use std::io::Write as _;

/// The release lines the tests run against, by major.
pub const MAJORS: [u16; 2] = [22, 16];

/// The URL of the server that `cargo xtask asterisk up` starts for `major`.
pub fn default_url(major: u16) -> Option<&'static str> {
    match major {
        22 => Some("http://127.0.0.1:8088/ari"),
        16 => Some("http://127.0.0.1:8089/ari"),
        _ => None,
    }
}

/// ARI credentials. `Debug` shows the user, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// ARI user.
    pub user: String,
    /// ARI password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One Asterisk server to test against. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Server {
    /// Major release line (22 or 16).
    pub major: u16,
    /// ARI base URL, e.g. `http://127.0.0.1:8088/ari`.
    pub url: String,
    /// ARI user.
    pub user: String,
    /// ARI password.
    pub password: String,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("major", &self.major)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Server {
    /// The server's credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            user: self.user.clone(),
            password: self.password.clone(),
        }
    }

    /// Whether this is the local server of `cargo xtask asterisk up` (which a test may restart).
    pub fn is_local_default(&self) -> bool {
        default_url(self.major) == Some(self.url.as_str())
    }
}

/// The test environment: a snapshot of the variables above.
#[derive(Clone)]
pub struct Env {
    require: bool,
    urls: Vec<(u16, String)>,
    credentials: Credentials,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("require", &self.require)
            .field("urls", &self.urls)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Env {
    /// The process's environment.
    pub fn from_process() -> Env {
        Env::from_lookup(|name| std::env::var(name).ok())
    }

    /// The environment that `get` gives (a variable's value, `None` when unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Env {
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        Env {
            require: set("ARI_REQUIRE_SERVERS").is_some_and(|v| v != "0"),
            urls: MAJORS
                .iter()
                .filter_map(|&m| set(&format!("ARI_URL_{m}")).map(|u| (m, u)))
                .collect(),
            credentials: Credentials {
                user: get("ARI_USER").unwrap_or_else(|| "asterisk".to_owned()),
                password: get("ARI_PASSWORD").unwrap_or_else(|| "asterisk".to_owned()),
            },
        }
    }

    /// Whether servers must answer (`ARI_REQUIRE_SERVERS`).
    pub fn require_servers(&self) -> bool {
        self.require
    }

    /// Whether `ARI_URL_<major>` is set (to something).
    pub fn configured(&self, major: u16) -> bool {
        self.urls.iter().any(|(m, _)| *m == major)
    }

    /// The URL of the server of `major`: `ARI_URL_<major>`, else the default server when servers
    /// are required, else `None`.
    ///
    /// Panics when servers are required and `major` has neither a URL nor a default server.
    pub fn url(&self, major: u16) -> Option<String> {
        if let Some((_, url)) = self.urls.iter().find(|(m, _)| *m == major) {
            return Some(url.clone());
        }
        if !self.require {
            return None;
        }
        match default_url(major) {
            Some(url) => Some(url.to_owned()),
            None => panic!("no default server for Asterisk {major}: set ARI_URL_{major}"),
        }
    }

    /// The credentials (`ARI_USER` / `ARI_PASSWORD`).
    pub fn credentials(&self) -> Credentials {
        self.credentials.clone()
    }

    /// The server of `major`, or `None` when it is not configured and not required.
    pub fn server(&self, major: u16) -> Option<Server> {
        let url = self.url(major)?;
        Some(Server {
            major,
            url,
            user: self.credentials.user.clone(),
            password: self.credentials.password.clone(),
        })
    }
}

/// Whether servers must answer (`ARI_REQUIRE_SERVERS`).
pub fn require_servers() -> bool {
    Env::from_process().require_servers()
}

/// The credentials of the process's environment.
pub fn credentials() -> Credentials {
    Env::from_process().credentials()
}

/// The server of `major` from the process's environment, or `None` when it is not configured and
/// not required (no `SKIP` line: see [`server_or_skip`]).
pub fn server(major: u16) -> Option<Server> {
    Env::from_process().server(major)
}

/// The server of `major`, or `None` after a `SKIP` line naming `test` when it is not
/// configured and not required.
pub fn server_or_skip(major: u16, test: &str) -> Option<Server> {
    let server = server(major);
    if server.is_none() {
        skip(
            test,
            &format!(
                "Asterisk {major}: ARI_URL_{major} is not set (set it, or ARI_REQUIRE_SERVERS=1 for the default servers)"
            ),
        );
    }
    server
}

/// Prints the `SKIP` line of `test` straight to stderr, past the test harness's capture, so that
/// a skip is seen.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP {test} on {why}");
}

/// A name no other test (of this run or of another process on the same servers) uses: `tag`, a
/// dash and a UUID. Names of one tag all have the same length, so that none is a prefix of
/// another (Asterisk 22 refuses a channel id that is a prefix of a live one).
pub fn unique_name(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

/// The lock that keeps scenarios against Asterisk 22 and the test that restarts it apart:
/// scenarios take it shared, the restart test exclusive. A file in the system's temp folder, so
/// that it also works across concurrent `cargo test` runs.
pub fn restart_lock(exclusive: bool) -> std::fs::File {
    let path = std::env::temp_dir().join("ari-rs-asterisk-22.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let locked = if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    };
    locked.unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    file
}

/// Runs `cargo xtask asterisk ARGS…` from the workspace root; its output on failure.
/// The workspace's root, found from the running test's package (cargo sets
/// `CARGO_MANIFEST_DIR` for test processes) rather than from where this crate was compiled: a
/// build reused from another checkout of the workspace keeps the other checkout's path.
fn workspace_root() -> std::path::PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| start.join(".."))
}

fn xtask_asterisk(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = workspace_root();
    let out = std::process::Command::new(cargo)
        .arg("xtask")
        .arg("asterisk")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("running cargo xtask asterisk {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo xtask asterisk {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Restarts the local server of `release` (`22`) with `cargo xtask asterisk restart` (needs
/// root; returns once ARI answers again, the old server's port having been released). Hold
/// [`restart_lock`] exclusively meanwhile.
pub fn restart_asterisk(release: &str) -> Result<(), String> {
    xtask_asterisk(&["restart", "--release", release])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_lookup(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn unconfigured_servers_are_skipped_unless_required() {
        let none = env(&[]);
        assert!(!none.require_servers());
        assert_eq!(none.server(22), None);
        assert_eq!(none.server(16), None);
        // Empty and `0` do not require.
        assert!(!env(&[("ARI_REQUIRE_SERVERS", "0")]).require_servers());
        assert!(!env(&[("ARI_REQUIRE_SERVERS", "")]).require_servers());
        assert_eq!(env(&[("ARI_URL_22", "")]).server(22), None);

        let required = env(&[("ARI_REQUIRE_SERVERS", "1")]);
        let s = required.server(22).unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8088/ari");
        assert!(s.is_local_default());
        assert_eq!(
            required.server(16).unwrap().url,
            "http://127.0.0.1:8089/ari"
        );
        assert_eq!(
            (s.user.as_str(), s.password.as_str()),
            ("asterisk", "asterisk")
        );
    }

    #[test]
    fn configured_servers_and_credentials_are_read() {
        let e = env(&[
            ("ARI_URL_16", "http://pbx:8088/ari"),
            ("ARI_USER", "u"),
            ("ARI_PASSWORD", "p"),
        ]);
        assert!(e.configured(16) && !e.configured(22));
        let s = e.server(16).unwrap();
        assert_eq!(
            (
                s.major,
                s.url.as_str(),
                s.user.as_str(),
                s.password.as_str()
            ),
            (16, "http://pbx:8088/ari", "u", "p")
        );
        assert!(!s.is_local_default());
        assert_eq!(e.server(22), None);
    }

    #[test]
    #[should_panic(expected = "set ARI_URL_18")]
    fn a_required_server_without_a_default_is_a_clear_failure() {
        env(&[("ARI_REQUIRE_SERVERS", "1")]).server(18);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let e = env(&[
            ("ARI_URL_22", "http://127.0.0.1:8088/ari"),
            ("ARI_PASSWORD", "s3cret-9d1f"),
        ]);
        let s = e.server(22).unwrap();
        for text in [
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{e:?}"),
            format!("{:?}", s.credentials()),
        ] {
            assert!(!text.contains("s3cret-9d1f"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn unique_names_differ_and_share_a_length() {
        let (a, b) = (unique_name("t"), unique_name("t"));
        assert_ne!(a, b);
        assert_eq!(a.len(), b.len());
        assert!(a.starts_with("t-"));
        assert!(!a.starts_with(&b) && !b.starts_with(&a));
    }
}
