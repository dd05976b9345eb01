//! Where the server is and who we are: flags, the environment, and the config file's named
//! servers, merged in that order of precedence.
//!
//! For each setting: a flag on the command line wins; then the server named with `--server`
//! (or `ARI_SERVER`); then the environment (`ARI_URL`, `ARI_USER`, `ARI_PASSWORD`); then the
//! config file's `default` server; then `http://127.0.0.1:8088/ari` with no credentials.
//!
//! The config file is TOML, at `--config`, `ARI_CONFIG`, or `$XDG_CONFIG_HOME/ari/config.toml`
//! (`~/.config/ari/config.toml`):
//!
//! ```toml
//! default = "local"
//! [servers.local]
//! url = "http://127.0.0.1:8088/ari"
//! user = "asterisk"
//! password = "asterisk"
//! ```
//!
//! The password is never printed: not in help (the environment's value is hidden), not in
//! errors (the SDK keeps it out of every message), not in `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::exit::Failure;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The server used when none is named.
    pub default: Option<String>,
    /// Named servers.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerEntry>,
}

/// One named server of the config file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// ARI base URL.
    pub url: Option<String>,
    /// ARI user.
    pub user: Option<String>,
    /// ARI password.
    pub password: Option<String>,
}

impl fmt::Debug for ServerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEntry")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// The settings a client is made from.
pub struct Settings {
    /// ARI base URL.
    pub url: String,
    /// ARI user (empty: none).
    pub user: String,
    /// ARI password (empty: none).
    pub password: String,
    /// Where each of url, user and password came from (`--url`, `ARI_URL`, `server pbx1`,
    /// `default`), for `ari config`.
    pub sources: [String; 3],
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// The default config file's path.
fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("ari").join("config.toml"))
}

/// Reads the config file: the one named (which must exist), else the default one if present.
fn read_config(named: Option<&str>) -> Result<ConfigFile, Failure> {
    let (path, must_exist) = match named {
        Some(p) => (PathBuf::from(p), true),
        None => match default_config_path() {
            Some(p) => (p, false),
            None => return Ok(ConfigFile::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok(ConfigFile::default());
        }
        Err(e) => {
            return Err(Failure::usage(format!(
                "config file {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map_err(|e| {
        // toml's message spans lines (it quotes the source); the first line says what is wrong.
        let msg = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_owned();
        Failure::usage(format!("config file {}: {msg}", path.display()))
    })
}

/// The settings for this run, from the global flags (`m`) and what they do not set.
pub fn settings(m: &ArgMatches) -> Result<Settings, Failure> {
    let config = read_config(m.get_one::<String>("config").map(String::as_str))?;
    let named = m.get_one::<String>("server").cloned();
    let server = match &named {
        Some(name) => Some(config.servers.get(name).ok_or_else(|| {
            let known: Vec<&str> = config.servers.keys().map(String::as_str).collect();
            Failure::usage(if known.is_empty() {
                format!("no server `{name}`: the config file names no servers")
            } else {
                format!(
                    "no server `{name}` in the config file (it has: {})",
                    known.join(", ")
                )
            })
        })?),
        None => None,
    };
    let default = match (&named, &config.default) {
        (None, Some(d)) => Some(config.servers.get(d).ok_or_else(|| {
            Failure::usage(format!(
                "the config file's default server `{d}` is not among its servers"
            ))
        })?),
        _ => None,
    };
    let server_name = named.clone().unwrap_or_default();
    let default_name = config.default.clone().unwrap_or_default();
    let pick = |id: &str,
                env: &str,
                of: fn(&ServerEntry) -> Option<&String>|
     -> (Option<String>, String) {
        let value = m.get_one::<String>(id).cloned();
        let source = m.value_source(id);
        if source == Some(ValueSource::CommandLine) {
            return (value, format!("--{id}"));
        }
        if let Some(v) = server.and_then(of) {
            return (Some(v.clone()), format!("config server {server_name}"));
        }
        if source == Some(ValueSource::EnvVariable) {
            return (value, env.to_owned());
        }
        match default.and_then(of) {
            Some(v) => (
                Some(v.clone()),
                format!("config default server {default_name}"),
            ),
            None => (None, "not set".to_owned()),
        }
    };
    let (url, url_from) = pick("url", "ARI_URL", |s| s.url.as_ref());
    let (user, user_from) = pick("user", "ARI_USER", |s| s.user.as_ref());
    let (password, password_from) = pick("password", "ARI_PASSWORD", |s| s.password.as_ref());
    let url_from = if url.is_none() {
        "built-in default".to_owned()
    } else {
        url_from
    };
    Ok(Settings {
        url: url.unwrap_or_else(|| ari_sdk::DEFAULT_BASE_URL.to_owned()),
        user: user.unwrap_or_default(),
        password: password.unwrap_or_default(),
        sources: [url_from, user_from, password_from],
    })
}

/// `ari config`: the settings this run would use and where each comes from; the password only
/// as set or not.
pub fn show(m: &ArgMatches) -> Result<(), Failure> {
    let s = settings(m)?;
    let from = |source: &str| {
        if source == "not set" {
            String::new()
        } else {
            format!(" ({source})")
        }
    };
    let text = format!(
        "url: {}{}\nuser: {}{}\npassword: {}{}\n",
        s.url,
        from(&s.sources[0]),
        if s.user.is_empty() {
            "not set"
        } else {
            &s.user
        },
        from(&s.sources[1]),
        if s.password.is_empty() {
            "not set"
        } else {
            "set, not shown"
        },
        from(&s.sources[2]),
    );
    crate::output::write_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        text.as_bytes(),
    ))
}

/// A client for these settings, gating calls by the server's release (learned on first call).
pub fn client(s: &Settings) -> Result<ari_sdk::Client, Failure> {
    let mut b = ari_sdk::Client::builder().base_url(s.url.clone());
    if !s.user.is_empty() || !s.password.is_empty() {
        b = b.credentials(s.user.clone(), s.password.clone());
    }
    b.build().map_err(Failure::from)
}
