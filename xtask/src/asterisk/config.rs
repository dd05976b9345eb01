//! The Asterisk configuration files that `up` writes into a chroot's `/etc/asterisk`.
//!
//! Templates live in `xtask/assets/asterisk/` and are compiled in; placeholders:
//! `@PORT@` (the ARI port), `@RELEASE@` (e.g. `Asterisk 22.10.1 (Debian sid)`), `@FILE@` (the
//! template's name) and `@RELEASE_NOLOAD@` (this release's extra `noload =>` lines).

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

/// One template with its placeholders filled in.
fn render(file: &str, template: &str, release: Release, port: u16, noload: &[String]) -> String {
    let noload: String = noload.iter().map(|m| format!("noload => {m}\n")).collect();
    template
        .replace("@PORT@", &port.to_string())
        .replace("@RELEASE@", &release.to_string())
        .replace("@FILE@", file)
        .replace("@RELEASE_NOLOAD@\n", &noload)
}

/// Writes every configuration file into `chroot`'s `/etc/asterisk`; returns whether any file
/// changed (a running server must then restart to use them).
pub fn write(chroot: &Path, release: Release, port: u16) -> Result<bool> {
    let etc = chroot.join("etc/asterisk");
    let noload = noloads(chroot, release);
    let mut changed = false;
    for (name, template) in FILES {
        let path = etc.join(name);
        let text = render(name, template, release, port, &noload);
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
        for r in Release::ALL {
            for (name, t) in FILES {
                let text = render(name, t, r, 1234, &[]);
                for p in ["@PORT@", "@RELEASE@", "@FILE@", "@RELEASE_NOLOAD@"] {
                    assert!(!text.contains(p), "{p} left in {name} for {r}");
                }
            }
        }
        let http = render("http.conf", FILES[0].1, Release::R16, 8089, &[]);
        assert!(http.contains("bindport = 8089"));
        let noload = noloads(Path::new("/nonexistent"), Release::R16);
        let modules = render("modules.conf", FILES[2].1, Release::R16, 8089, &noload);
        assert!(modules.contains("noload => chan_sip.so\n"));
    }
}
