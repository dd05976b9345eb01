//! This process's CPU time and peak memory (Linux).
//!
//! Read at the end of a load-tool child process, so that each implementation's figures are its
//! own. CPU comes from `getrusage(RUSAGE_SELF)` (microseconds, every thread the process ever
//! had); `/proc/self/stat` has the same in 10 ms ticks, too coarse for a child that spends a
//! fraction of a second of CPU, and is kept as a cross-check. Peak memory is `VmHWM` of
//! `/proc/self/status` (the same figure as `ru_maxrss`).

use anyhow::{Context, bail};

/// Clock ticks per second of `/proc/*/stat` times: Linux's `USER_HZ`, 100 on every mainstream
/// architecture (the kernel converts to it whatever its internal tick is).
const USER_HZ: f64 = 100.0;

/// CPU time and peak memory of this process so far.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// User CPU seconds, all threads.
    pub user_s: f64,
    /// System CPU seconds, all threads.
    pub sys_s: f64,
    /// Peak resident set size, KiB (`VmHWM`).
    pub peak_rss_kib: u64,
    /// User + system seconds from `/proc/self/stat` (10 ms ticks), for a cross-check.
    #[serde(default)]
    pub proc_stat_cpu_s: f64,
}

impl Usage {
    /// User plus system seconds.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
}

/// Reads this process's usage.
pub fn current() -> anyhow::Result<Usage> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let (user_ticks, sys_ticks) = parse_stat(&stat)?;
    let rusage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .context("getrusage")?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(Usage {
        user_s: seconds(rusage.user_time()),
        sys_s: seconds(rusage.system_time()),
        peak_rss_kib: parse_hwm(&status)?,
        proc_stat_cpu_s: (user_ticks + sys_ticks) as f64 / USER_HZ,
    })
}

/// This process's resident set now, KiB (`VmRSS`); 0 if unreadable.
pub fn rss_now_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// `utime` and `stime` (fields 14 and 15). The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(stat: &str) -> anyhow::Result<(u64, u64)> {
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .context("/proc/self/stat has no `)`")?;
    // After the name: field 3 (state) is index 0, so field 14 is index 11.
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.len() < 13 {
        bail!("/proc/self/stat is too short");
    }
    let utime = fields[11].parse().context("utime")?;
    let stime = fields[12].parse().context("stime")?;
    Ok((utime, stime))
}

/// `VmHWM:   12345 kB`.
fn parse_hwm(status: &str) -> anyhow::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .context("/proc/self/status has no VmHWM")?
        .parse()
        .context("VmHWM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "4242 (load (child) x) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 4 0";
        assert_eq!(parse_stat(line).unwrap(), (250, 31));
        assert!(parse_stat("1 (x) S 1").is_err());
    }

    #[test]
    fn hwm_is_read_in_kib() {
        let status = "Name:\tload\nVmPeak:\t  9000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_hwm(status).unwrap(), 12345);
        assert!(parse_hwm("Name: x\n").is_err());
    }

    #[test]
    fn this_process_is_readable() {
        // Burn a little CPU so that both clocks have something to show.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let u = current().unwrap();
        assert!(u.peak_rss_kib > 0);
        assert!(rss_now_kib() > 0);
        assert!(u.cpu_s() > 0.0);
        assert!((u.cpu_s() - u.proc_stat_cpu_s).abs() < 0.5, "{u:?}");
    }
}
