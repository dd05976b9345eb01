//! The Asterisk configuration files that `up` writes into a chroot's `/etc/asterisk`.
//!
//! Templates live in `xtask/assets/asterisk/` and are compiled in; placeholders:
//! `@PORT@` (the ARI port), `@TLS_PORT@` (the HTTPS port), `@RELEASE@` (e.g. `Asterisk 22.10.1
//! (Debian sid)`), `@FILE@` (the template's name) and `@RELEASE_NOLOAD@` (this release's extra
//! `noload =>` lines). A line that starts with `@OUTBOUND@` is written (without the marker) only
//! for releases that have outbound WebSockets (`res_websocket_client`, 22 here); 16.28 would
//! only log errors for such entries.

use super::release::Release;
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

/// Each written file: its name in `/etc/asterisk` and its template.
const FILES: &[(&str, &str)] = &[
    ("http.conf", include_str!("../../assets/asterisk/http.conf")),
    ("ari.conf", include_str!("../../assets/asterisk/ari.conf")),
    (
        "modules.conf",
        include_str!("../../assets/asterisk/modules.conf"),
    ),
    (
        "extensions.conf",
        include_str!("../../assets/asterisk/extensions.conf"),
    ),
    (
        "logger.conf",
        include_str!("../../assets/asterisk/logger.conf"),
    ),
    (
        "manager.conf",
        include_str!("../../assets/asterisk/manager.conf"),
    ),
    (
        "musiconhold.conf",
        include_str!("../../assets/asterisk/musiconhold.conf"),
    ),
    (
        "websocket_client.conf",
        include_str!("../../assets/asterisk/websocket_client.conf"),
    ),
    (
        "chan_websocket.conf",
        include_str!("../../assets/asterisk/chan_websocket.conf"),
    ),
];

/// Module name prefixes never loaded: PJSIP and what builds on it (they would only fail to
/// load, one error line each, without `res_pjsip.so`), HEP capture, STIR/SHAKEN.
const NOLOAD_PREFIXES: &[&str] = &[
    "res_pjsip",
    "chan_pjsip",
    "func_pjsip",
    "res_hep",
    "res_stir_shaken",
];

/// Where the package puts modules: Debian 12+ uses the multiarch folder, 11 does not.
const MODULE_DIRS: &[&str] = &[
    "usr/lib/x86_64-linux-gnu/asterisk/modules",
    "usr/lib/aarch64-linux-gnu/asterisk/modules",
    "usr/lib/asterisk/modules",
];

/// The modules that `modules.conf` must not load beyond the template's own list: the
/// release's extras, plus every installed module whose name starts with a
/// [`NOLOAD_PREFIXES`] entry.
fn noloads(chroot: &Path, release: Release) -> Vec<String> {
    let mut out: Vec<String> = release
        .extra_noload()
        .iter()
        .map(|m| (*m).to_owned())
        .collect();
    for dir in MODULE_DIRS {
        let Ok(rd) = fs::read_dir(chroot.join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".so") && NOLOAD_PREFIXES.iter().any(|p| name.starts_with(p)) {
                out.push(name);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The ports a template refers to.
#[derive(Clone, Copy, Debug)]
struct Ports {
    ari: u16,
    tls: u16,
}

/// One template with its placeholders filled in.
fn render(file: &str, template: &str, release: Release, ports: Ports, noload: &[String]) -> String {
    let noload: String = noload.iter().map(|m| format!("noload => {m}\n")).collect();
    let mut kept = String::with_capacity(template.len());
    for line in template.split_inclusive('\n') {
        match line.strip_prefix("@OUTBOUND@") {
            Some(rest) if release.has_outbound_websockets() => kept.push_str(rest),
            Some(_) => {}
            None => kept.push_str(line),
        }
    }
    kept.replace("@PORT@", &ports.ari.to_string())
        .replace("@TLS_PORT@", &ports.tls.to_string())
        .replace("@RELEASE@", &release.to_string())
        .replace("@FILE@", file)
        .replace("@RELEASE_NOLOAD@\n", &noload)
}

/// Writes every configuration file into `chroot`'s `/etc/asterisk`, and the test PKI into
/// its `keys/` folder when missing ([`super::tls`]); returns whether anything changed (a
/// running server must then restart to use it).
pub fn write(chroot: &Path, release: Release, port: u16) -> Result<bool> {
    let etc = chroot.join("etc/asterisk");
    let noload = noloads(chroot, release);
    let ports = Ports {
        ari: port,
        tls: release.tls_port()?,
    };
    let mut changed = super::tls::ensure(chroot)?;
    for (name, template) in FILES {
        let path = etc.join(name);
        let text = render(name, template, release, ports, &noload);
        if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_all_filled() {
        let ports = Ports {
            ari: 1234,
            tls: 4321,
        };
        for r in Release::ALL {
            for (name, t) in FILES {
                let text = render(name, t, r, ports, &[]);
                for p in [
                    "@PORT@",
                    "@TLS_PORT@",
                    "@RELEASE@",
                    "@FILE@",
                    "@RELEASE_NOLOAD@",
                    "@OUTBOUND@",
                ] {
                    assert!(!text.contains(p), "{p} left in {name} for {r}");
                }
            }
        }
        let p16 = Ports {
            ari: 8089,
            tls: 8444,
        };
        let http = render("http.conf", FILES[0].1, Release::R16, p16, &[]);
        assert!(http.contains("bindport = 8089"));
        assert!(http.contains("tlsbindaddr = 127.0.0.1:8444"));
        let noload = noloads(Path::new("/nonexistent"), Release::R16);
        let modules = render("modules.conf", FILES[2].1, Release::R16, p16, &noload);
        assert!(modules.contains("noload => chan_sip.so\n"));
        // Outbound WebSockets only where the release has them.
        let ari = |r| render("ari.conf", FILES[1].1, r, ports, &[]);
        assert!(ari(Release::R22).contains("type = outbound_websocket"));
        assert!(!ari(Release::R16).contains("outbound_websocket"));
        assert!(ari(Release::R16).contains("read_only = yes"));
    }
}
