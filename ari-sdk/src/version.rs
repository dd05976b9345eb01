//! The connected server's Asterisk release, read from `system.version` of `GET /asterisk/info`.
//!
//! Asterisk reports its version in several shapes depending on how it was built: a plain release
//! (`22.10.1`, `13.38.3`), a distribution package version (`22.10.1+dfsg+~cs6.17.60671434-1`,
//! `16.28.0~dfsg-0+deb11u4`, with or without the package's epoch: `1:13.14.1~dfsg-2+deb9u4`), a
//! certified release (`certified/20.7-cert5`, `13.13-cert3`), a release candidate (`22.0.0-rc1`),
//! or a source-control build (`GIT-master-cb214713c0M`, `SVN-branch-12-r414137M`) whose release
//! cannot be known. [`ServerVersion::parse`] keeps the raw string and extracts a [`Release`] when
//! there is one. Every ARI release has a three-part number, 12.0.0 (ARI 1.0.0) to 23.4.1 (ARI
//! 11.0.0) at the time of writing.

use std::fmt;

use crate::meta::Release;

/// The version string a server reported, with the release it denotes when that can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    /// The string exactly as the server reported it.
    pub raw: String,
    /// The release, or `None` for builds from source control and other unrecognised strings.
    pub release: Option<Release>,
    /// Whether this is a certified release (`certified/20.7-cert5`, `13.13-cert3`).
    pub certified: bool,
    /// Whether this is a pre-release (`22.0.0-rc1`, `21.0.0-pre1`).
    pub prerelease: bool,
}

impl ServerVersion {
    /// Parses a `system.version` string. Never fails: an unrecognised string gives `release: None`.
    pub fn parse(raw: &str) -> ServerVersion {
        let trimmed = strip_epoch(raw.trim());
        // Certified releases are tagged `certified/MAJOR.MINOR-certN`; older ones drop the prefix.
        let (certified_prefix, rest) = match trimmed.strip_prefix("certified/") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let numeric_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (numeric, suffix) = rest.split_at(numeric_len);
        let release = parse_numeric(numeric);
        let suffix_lower = suffix.to_ascii_lowercase();
        let certified = certified_prefix || suffix_lower.starts_with("-cert");
        let prerelease = release.is_some()
            && ["-rc", "-pre", "-beta", "-alpha"]
                .iter()
                .any(|p| suffix_lower.starts_with(p));
        ServerVersion {
            raw: raw.to_owned(),
            release,
            certified,
            prerelease,
        }
    }
}

/// Drops a Debian package epoch (`1:` of `1:16.28.0~dfsg-0+deb11u4`), which a build may carry
/// over from its package version into the one Asterisk reports.
fn strip_epoch(s: &str) -> &str {
    match s.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => s,
    }
}

/// Parses `MAJOR.MINOR[.PATCH[.more]]`; a lone major number is too vague to gate on.
fn parse_numeric(s: &str) -> Option<Release> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse::<u16>().ok()?;
    let minor = parts.next()?.parse::<u16>().ok()?;
    let patch = match parts.next() {
        None => 0,
        Some(p) => p.parse::<u16>().ok()?,
    };
    // Ancient four-part versions (1.8.32.3) still name a release by their first three parts.
    if parts.any(|p| p.parse::<u16>().is_err()) {
        return None;
    }
    Some(Release::new(major, minor, patch))
}

/// Parses a `system.version` string to the release it denotes, if any.
pub fn parse_release(raw: &str) -> Option<Release> {
    ServerVersion::parse(raw).release
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.release {
            Some(r) if self.raw.trim() == r.to_string() => write!(f, "{r}"),
            Some(r) => write!(f, "{r} ({})", self.raw.trim()),
            None => write!(f, "unknown release ({})", self.raw.trim()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ServerVersion {
        ServerVersion::parse(s)
    }

    #[test]
    fn plain_release() {
        let v = p("22.10.1");
        assert_eq!(v.release, Some(Release::new(22, 10, 1)));
        assert!(!v.certified && !v.prerelease);
        assert_eq!(v.to_string(), "22.10.1");
    }

    #[test]
    fn debian_package_versions() {
        assert_eq!(
            p("22.10.1+dfsg+~cs6.17.60671434-1").release,
            Some(Release::new(22, 10, 1))
        );
        let v = p("16.28.0~dfsg-0+deb11u4");
        assert_eq!(v.release, Some(Release::new(16, 28, 0)));
        assert!(!v.certified && !v.prerelease);
        assert_eq!(v.to_string(), "16.28.0 (16.28.0~dfsg-0+deb11u4)");
    }

    #[test]
    fn the_old_lines() {
        for (raw, want) in [
            ("12.0.0", Release::new(12, 0, 0)),
            ("12.8.2", Release::new(12, 8, 2)),
            ("13.38.3", Release::new(13, 38, 3)),
            ("14.7.8", Release::new(14, 7, 8)),
            ("15.7.4", Release::new(15, 7, 4)),
        ] {
            let v = p(raw);
            assert_eq!(v.release, Some(want), "{raw}");
            assert!(!v.certified && !v.prerelease, "{raw}");
            assert_eq!(v.to_string(), raw);
        }
        assert_eq!(p("13.38.0-rc1").release, Some(Release::new(13, 38, 0)));
        assert!(p("13.38.0-rc1").prerelease);
        assert_eq!(p("SVN-branch-13-r430000M").release, None);
        assert_eq!(p("GIT-13-6f2ccde").release, None);
    }

    #[test]
    fn package_epochs() {
        let v = p("1:13.14.1~dfsg-2+deb9u4");
        assert_eq!(v.release, Some(Release::new(13, 14, 1)));
        assert!(!v.certified && !v.prerelease);
        assert_eq!(v.to_string(), "13.14.1 (1:13.14.1~dfsg-2+deb9u4)");
        assert_eq!(
            p("1:16.28.0~dfsg-0+deb11u4").release,
            Some(Release::new(16, 28, 0))
        );
        assert_eq!(
            p("1:13.18.3~dfsg-1ubuntu4").release,
            Some(Release::new(13, 18, 3))
        );
        // Only a numeric epoch before the release is dropped.
        assert_eq!(p(":13.1.0").release, None);
        assert_eq!(p("x:13.1.0").release, None);
        assert!(p("1:certified/13.21-cert6").certified);
    }

    #[test]
    fn certified_releases() {
        let v = p("certified/20.7-cert5");
        assert_eq!(v.release, Some(Release::new(20, 7, 0)));
        assert!(v.certified);
        let v = p("13.13-cert3");
        assert_eq!(v.release, Some(Release::new(13, 13, 0)));
        assert!(v.certified);
        let v = p("certified/13.21-cert6");
        assert_eq!(v.release, Some(Release::new(13, 21, 0)));
        assert!(v.certified && !v.prerelease);
        let v = p("certified/18.9-cert11");
        assert_eq!(v.release, Some(Release::new(18, 9, 0)));
    }

    #[test]
    fn source_control_builds_are_unknown() {
        let v = p("GIT-master-cb214713c0M");
        assert_eq!(v.release, None);
        assert!(!v.certified && !v.prerelease);
        assert_eq!(v.to_string(), "unknown release (GIT-master-cb214713c0M)");
        assert_eq!(p("SVN-branch-12-r414137M").release, None);
        assert_eq!(p("SVN-trunk-r400000").release, None);
    }

    #[test]
    fn prereleases() {
        let v = p("22.0.0-rc1");
        assert_eq!(v.release, Some(Release::new(22, 0, 0)));
        assert!(v.prerelease);
        assert!(p("21.0.0-pre1").prerelease);
        assert!(p("20.0.0-rc2").prerelease);
    }

    #[test]
    fn odd_shapes() {
        assert_eq!(p(" 20.5.2\n").release, Some(Release::new(20, 5, 2)));
        assert_eq!(p("20.7").release, Some(Release::new(20, 7, 0)));
        assert_eq!(p("1.8.32.3").release, Some(Release::new(1, 8, 32)));
        assert_eq!(p("22").release, None);
        assert_eq!(p("").release, None);
        assert_eq!(p("22.x.1").release, None);
        assert_eq!(p("99999.1.1").release, None);
        assert_eq!(p("22..1").release, None);
        assert_eq!(parse_release("18.20.0"), Some(Release::new(18, 20, 0)));
    }
}
