//! The Asterisk releases the harness runs, and how `--release` names them.

use std::fmt;

/// One Asterisk release that the harness can run, each from its own Debian suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Release {
    /// Asterisk 22.10.1, from Debian `sid`; ARI on port 8088 by default.
    R22,
    /// Asterisk 16.28.0, from Debian `bullseye`; ARI on port 8089 by default.
    R16,
}

impl Release {
    /// Every release, in the order `all` runs them.
    pub const ALL: [Release; 2] = [Release::R22, Release::R16];

    /// The major version: 22 or 16.
    pub fn major(self) -> u32 {
        match self {
            Release::R22 => 22,
            Release::R16 => 16,
        }
    }

    /// The full version that Debian's package of the suite ships.
    pub fn version(self) -> &'static str {
        match self {
            Release::R22 => "22.10.1",
            Release::R16 => "16.28.0",
        }
    }

    /// The Debian suite whose `asterisk` package is this release.
    pub fn suite(self) -> &'static str {
        match self {
            Release::R22 => "sid",
            Release::R16 => "bullseye",
        }
    }

    /// The environment variable that overrides the ARI port.
    pub fn port_env(self) -> &'static str {
        match self {
            Release::R22 => "ARI_PORT_22",
            Release::R16 => "ARI_PORT_16",
        }
    }

    /// The ARI (HTTP) port when the environment does not override it.
    pub fn default_port(self) -> u16 {
        match self {
            Release::R22 => 8088,
            Release::R16 => 8089,
        }
    }

    /// The ARI port: `$ARI_PORT_<major>` if set, else [`Release::default_port`].
    pub fn port(self) -> anyhow::Result<u16> {
        match std::env::var(self.port_env()) {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{}={v:?} is not a TCP port number", self.port_env())),
            _ => Ok(self.default_port()),
        }
    }

    /// The environment variable that overrides the HTTPS (TLS) port.
    pub fn tls_port_env(self) -> &'static str {
        match self {
            Release::R22 => "ARI_TLS_PORT_22",
            Release::R16 => "ARI_TLS_PORT_16",
        }
    }

    /// The HTTPS (TLS) port of Asterisk's HTTP server when the environment does not override it.
    pub fn default_tls_port(self) -> u16 {
        match self {
            Release::R22 => 8443,
            Release::R16 => 8444,
        }
    }

    /// The HTTPS port: `$ARI_TLS_PORT_<major>` if set, else [`Release::default_tls_port`].
    pub fn tls_port(self) -> anyhow::Result<u16> {
        match std::env::var(self.tls_port_env()) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
                anyhow::anyhow!("{}={v:?} is not a TCP port number", self.tls_port_env())
            }),
            _ => Ok(self.default_tls_port()),
        }
    }

    /// Whether this release has `res_websocket_client` (Asterisk dialling out: outbound ARI
    /// WebSockets, chan_websocket client connections); since 20.15 / 21.10 / 22.5. Template
    /// lines that start with `@OUTBOUND@` are written only for such releases.
    pub fn has_outbound_websockets(self) -> bool {
        match self {
            Release::R22 => true,
            Release::R16 => false,
        }
    }

    /// Modules that only this release has and that must not load (see `modules.conf`).
    pub fn extra_noload(self) -> &'static [&'static str] {
        match self {
            // chan_sip was removed in 21; on 16 it would bind UDP 5060.
            Release::R22 => &[],
            Release::R16 => &["chan_sip.so"],
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Asterisk {} (Debian {})", self.version(), self.suite())
    }
}

/// The releases picked by `--release`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection(pub Vec<Release>);

/// Parses `--release`: `all`, `22`, `16`, `22.10.1`, `16.28.0`, `22.10`, `16.28`, `sid`,
/// `bullseye`, or a comma-separated list of these.
pub fn parse_selection(s: &str) -> Result<Selection, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let picked: &[Release] = match part.to_ascii_lowercase().as_str() {
            "all" => &Release::ALL,
            "22" | "22.10" | "22.10.1" | "sid" => &[Release::R22],
            "16" | "16.28" | "16.28.0" | "bullseye" => &[Release::R16],
            other => {
                return Err(format!(
                    "unknown release {other:?}: expected all, 22 (22.10.1) or 16 (16.28.0)"
                ));
            }
        };
        for r in picked {
            if !out.contains(r) {
                out.push(*r);
            }
        }
    }
    if out.is_empty() {
        return Err("no release named: expected all, 22 or 16".into());
    }
    Ok(Selection(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(parse_selection("all").unwrap().0, Release::ALL);
        assert_eq!(parse_selection("22.10.1").unwrap().0, [Release::R22]);
        assert_eq!(parse_selection("16.28.0").unwrap().0, [Release::R16]);
        assert_eq!(parse_selection("bullseye").unwrap().0, [Release::R16]);
        assert_eq!(
            parse_selection("16,22,16").unwrap().0,
            [Release::R16, Release::R22]
        );
        assert!(parse_selection("20").is_err());
        assert!(parse_selection("").is_err());
    }
}
