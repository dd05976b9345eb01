//! Process, mount and lock helpers for the harness (Linux only, no libc bindings).

use anyhow::{Context, Result, bail};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The `PATH` given to every command the harness runs, host or chroot.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Fails with a clear message unless the effective user is root.
pub fn require_root() -> Result<()> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    if euid != "0" {
        bail!(
            "cargo xtask asterisk must run as root (it runs debootstrap, chroot and mount); \
             this process runs as uid {euid}"
        );
    }
    Ok(())
}

/// Finds `name` in `$PATH` or the sbin folders that a non-login root shell may lack.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(PATH.split(':'))
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A command line as a person would type it, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$&;|*?".contains(c)) {
            s.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of the file at `path`, or a note that it cannot be read.
pub fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(b) => tail(&String::from_utf8_lossy(&b), n),
        Err(e) => format!("({} cannot be read: {e})", path.display()),
    }
}

/// Runs a short command; on failure the error shows the command line and its output's tail.
pub fn run(cmd: &mut Command) -> Result<String> {
    cmd.env("PATH", PATH).stdin(Stdio::null());
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", show(cmd)))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}\n{}",
            show(cmd),
            out.status,
            tail(&stdout, 20),
            tail(&String::from_utf8_lossy(&out.stderr), 20)
        );
    }
    Ok(stdout)
}

/// Runs a long command with its output appended to `log`; on failure the error shows the
/// command line and the log's tail.
pub fn run_logged(cmd: &mut Command, log: &Path) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    writeln!(file, "\n$ {}", show(cmd))?;
    let err = file.try_clone()?;
    cmd.env("PATH", PATH)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err);
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", show(cmd)))?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}); the last lines of {}:\n{}",
            show(cmd),
            log.display(),
            tail_file(log, 25)
        );
    }
    Ok(())
}

/// Runs a command with a time limit, killing it when the limit passes; returns whether it
/// exited successfully in time. Its output is discarded.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<bool> {
    cmd.env("PATH", PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", show(cmd)))?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(false);
        }
        sleep(Duration::from_millis(100));
    }
}

/// A process seen in `/proc`.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Its process id.
    pub pid: u32,
    /// Its command line, arguments joined by spaces.
    pub cmdline: String,
}

/// The processes named `comm` whose root directory is `root` (i.e. that run in that chroot).
pub fn procs_in_root(root: &Path, comm: &str) -> Vec<Proc> {
    let Ok(root) = root.canonicalize() else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let base = entry.path();
        if fs::read_link(base.join("root")).ok().as_deref() != Some(root.as_path()) {
            continue;
        }
        if fs::read_to_string(base.join("comm"))
            .unwrap_or_default()
            .trim()
            != comm
        {
            continue;
        }
        let cmdline = fs::read(base.join("cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .split('\0')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        out.push(Proc { pid, cmdline });
    }
    out.sort_by_key(|p| p.pid);
    out
}

/// Whether process `pid` still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `signal` (e.g. `TERM`, `KILL`) to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount(p)))
        .filter(|p| p.starts_with(&dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Whether `path` is itself a mount point.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    mounts_under(&path).contains(&path)
}

/// Decodes the octal escapes (`\040` for a space) of a path in `/proc/self/mountinfo`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything mounted at or below `dir` (lazily if a plain unmount fails).
pub fn unmount_all(dir: &Path) -> Result<()> {
    for m in mounts_under(dir) {
        let ok = Command::new("umount")
            .arg(&m)
            .env("PATH", PATH)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            run(Command::new("umount").arg("-l").arg(&m))?;
        }
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        bail!("still mounted after umount: {left:?}");
    }
    Ok(())
}

/// An exclusive lock held through a file that names its holder's pid; released on drop.
///
/// Two `cargo xtask asterisk` runs that change servers or chroots take turns; a lock whose
/// holder has died is taken over.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock at `path`, waiting (up to 30 minutes) while a live process holds it.
    pub fn acquire(path: &Path) -> Result<Lock> {
        let me = std::process::id();
        let deadline = Instant::now() + Duration::from_secs(1800);
        let mut told = false;
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    writeln!(f, "{me}")?;
                    return Ok(Lock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid != me && alive(pid) => {
                            if !told {
                                eprintln!(
                                    "waiting for another `cargo xtask asterisk` (pid {pid}, lock {})",
                                    path.display()
                                );
                                told = true;
                            }
                            if Instant::now() >= deadline {
                                bail!("{} is still held by pid {pid}", path.display());
                            }
                            sleep(Duration::from_millis(500));
                        }
                        // A holder that died, or a file being written right now: an empty
                        // file gets a moment before it is taken as stale.
                        None if fs::metadata(path)
                            .and_then(|m| m.modified())
                            .is_ok_and(|t| {
                                t.elapsed().unwrap_or_default() < Duration::from_secs(2)
                            }) =>
                        {
                            sleep(Duration::from_millis(200));
                        }
                        _ => {
                            let _ = fs::remove_file(path);
                        }
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("creating lock {}", path.display()));
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mount(r"/a\040b/proc"), "/a b/proc");
        assert_eq!(unescape_mount("/plain"), "/plain");
    }

    #[test]
    fn shows_quoted_args() {
        let mut c = Command::new("asterisk");
        c.args(["-rx", "core stop now"]);
        assert_eq!(show(&c), "asterisk -rx 'core stop now'");
    }
}
