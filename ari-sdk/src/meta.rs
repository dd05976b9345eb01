//! Static descriptions of the API, emitted by the generator and read by the runtime.
//!
//! Every generated operation carries an [`OperationInfo`]: its wire name, HTTP method and path, its
//! parameters, the error reasons the spec documents, and the Asterisk releases that ship it. The
//! runtime uses them to build requests, to explain errors, and to refuse a call that the connected
//! server's release does not ship.

use std::fmt;

/// An Asterisk release number, such as 22.10.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    /// Major line (12 to 23 in the bindings: 12, 13, ..., 22, 23).
    pub major: u16,
    /// Minor release within the line.
    pub minor: u16,
    /// Patch release.
    pub patch: u16,
}

impl Release {
    /// Makes a release number.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Release {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// An inclusive run of releases within one major line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseRange {
    /// First release of the run.
    pub first: Release,
    /// Last release of the run; `None` when the newest known release of the line still ships
    /// the item, so later releases of the same line are presumed to ship it too.
    pub last: Option<Release>,
}

impl ReleaseRange {
    /// Whether `release` falls in this run.
    pub fn contains(&self, release: Release) -> bool {
        release.major == self.first.major
            && release >= self.first
            && self.last.is_none_or(|last| release <= last)
    }
}

impl fmt::Display for ReleaseRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last {
            None => write!(f, "{}+", self.first),
            Some(last) if last == self.first => write!(f, "{}", self.first),
            Some(last) => write!(f, "{}\u{2013}{}", self.first, last),
        }
    }
}

/// The releases that ship an operation, parameter, model field or event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Availability {
    /// Runs of releases, ordered, at most a few per major line.
    pub ranges: &'static [ReleaseRange],
}

/// Whether a given release ships an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// The release ships it.
    Yes,
    /// The release belongs to a known major line and does not ship it.
    No,
    /// The release's major line is not in the corpus the bindings were generated from.
    Unknown,
}

impl Availability {
    /// Whether `release` ships the item, given the major lines the bindings know about.
    pub fn support(&self, release: Release, known_majors: &[u16]) -> Support {
        if self.ranges.iter().any(|r| r.contains(release)) {
            Support::Yes
        } else if known_majors.contains(&release.major) {
            Support::No
        } else {
            Support::Unknown
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Where a parameter travels in the HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamLocation {
    /// A `{name}` segment of the path.
    Path,
    /// A query-string parameter.
    Query,
    /// The JSON request body (ARI's `containers` and `object` parameters).
    Body,
}

/// A parameter of an operation.
#[derive(Clone, Copy, Debug)]
pub struct ParamInfo {
    /// Name on the wire.
    pub name: &'static str,
    /// Where it travels.
    pub location: ParamLocation,
    /// Whether every release that has it requires it.
    pub required: bool,
    /// Releases that accept it.
    pub availability: Availability,
}

/// An error status that the spec documents for an operation.
#[derive(Clone, Copy, Debug)]
pub struct ErrorInfo {
    /// HTTP status code.
    pub code: u16,
    /// The spec's reason, e.g. "Channel not found".
    pub reason: &'static str,
}

/// Everything the runtime needs to know about one operation.
#[derive(Clone, Copy, Debug)]
pub struct OperationInfo {
    /// Resource file the operation belongs to, e.g. `channels`.
    pub resource: &'static str,
    /// Swagger nickname, e.g. `originate`.
    pub nickname: &'static str,
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template relative to the ARI base URL, e.g. `/channels/{channelId}/play`.
    pub path: &'static str,
    /// One-line summary from the spec.
    pub summary: &'static str,
    /// Parameters, in spec order.
    pub params: &'static [ParamInfo],
    /// Documented error statuses.
    pub errors: &'static [ErrorInfo],
    /// Releases that ship the operation.
    pub availability: Availability,
}

impl OperationInfo {
    /// The documented reason for an error status, if the spec gives one.
    pub fn error_reason(&self, code: u16) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|e| e.code == code)
            .map(|e| e.reason)
    }

    /// The parameter with this wire name.
    pub fn param(&self, name: &str) -> Option<&'static ParamInfo> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// The resources that events concern, generated from the generator's one table of resource
/// kinds: what events are routed by.
pub use crate::generated::resources::{ResourceKind, ResourceRef};

#[cfg(test)]
mod tests {
    use super::*;

    const R: &[ReleaseRange] = &[
        ReleaseRange {
            first: Release::new(20, 14, 0),
            last: Some(Release::new(20, 20, 1)),
        },
        ReleaseRange {
            first: Release::new(22, 4, 0),
            last: None,
        },
    ];

    #[test]
    fn support_and_display() {
        let a = Availability { ranges: R };
        let known = [16, 18, 20, 21, 22, 23];
        assert_eq!(a.support(Release::new(20, 14, 0), &known), Support::Yes);
        assert_eq!(a.support(Release::new(20, 21, 0), &known), Support::No);
        assert_eq!(a.support(Release::new(22, 3, 9), &known), Support::No);
        assert_eq!(a.support(Release::new(22, 99, 0), &known), Support::Yes);
        assert_eq!(a.support(Release::new(21, 0, 0), &known), Support::No);
        assert_eq!(a.support(Release::new(24, 0, 0), &known), Support::Unknown);
        assert_eq!(a.to_string(), "20.14.0\u{2013}20.20.1, 22.4.0+");
    }

    /// The generated tables against the corpus, for lines that overlap in time: 13 kept gaining
    /// features after 14.0.0 shipped without them (ranges checked by hand against releases.tsv,
    /// see ari-spec's `availability_of_the_overlapping_old_lines`).
    #[test]
    fn gating_across_the_old_lines() {
        use crate::generated::ops::{asterisk, bridges, channels};
        use crate::releases::{KNOWN_MAJORS, RELEASES};
        let r = Release::new;
        assert_eq!(
            KNOWN_MAJORS,
            [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
        );
        assert_eq!(RELEASES.len(), 367);
        assert_eq!(RELEASES[0], r(12, 0, 0));
        assert_eq!(RELEASES[366], r(23, 4, 1));
        let at = |info: &OperationInfo, rel: Release| info.availability.support(rel, KNOWN_MAJORS);
        // channels.move: 13.26.0+ and 16.3.0+; never in 14 or 15.
        assert_eq!(at(&channels::MOVE, r(13, 38, 3)), Support::Yes);
        assert_eq!(at(&channels::MOVE, r(13, 25, 0)), Support::No);
        assert_eq!(at(&channels::MOVE, r(14, 7, 8)), Support::No);
        assert_eq!(at(&channels::MOVE, r(15, 7, 4)), Support::No);
        assert_eq!(at(&channels::MOVE, r(16, 2, 0)), Support::No);
        assert_eq!(at(&channels::MOVE, r(16, 3, 0)), Support::Yes);
        // setVideoSource: 13.13.0+, 14.2.0+, 15.0.0+.
        assert_eq!(at(&bridges::SET_VIDEO_SOURCE, r(13, 13, 0)), Support::Yes);
        assert_eq!(at(&bridges::SET_VIDEO_SOURCE, r(13, 12, 2)), Support::No);
        assert_eq!(at(&bridges::SET_VIDEO_SOURCE, r(14, 1, 2)), Support::No);
        assert_eq!(at(&bridges::SET_VIDEO_SOURCE, r(14, 2, 0)), Support::Yes);
        assert_eq!(at(&bridges::SET_VIDEO_SOURCE, r(15, 0, 0)), Support::Yes);
        // channels.dial: 14.0.0+, never in 13.
        assert_eq!(at(&channels::DIAL, r(13, 38, 3)), Support::No);
        assert_eq!(at(&channels::DIAL, r(14, 0, 0)), Support::Yes);
        // asterisk.ping: 13.25.0+, 16.2.0+.
        assert_eq!(at(&asterisk::PING, r(13, 25, 0)), Support::Yes);
        assert_eq!(at(&asterisk::PING, r(15, 7, 4)), Support::No);
        // Every line from the first release with ARI; nothing known before it or after 23.
        assert_eq!(at(&channels::LIST, r(12, 0, 0)), Support::Yes);
        assert_eq!(at(&channels::LIST, r(11, 25, 3)), Support::Unknown);
        assert_eq!(at(&channels::LIST, r(24, 0, 0)), Support::Unknown);
        // A field of a model older than the field: Channel.language only from 13.2.0.
        let (_, _, language) = crate::releases::FIELDS
            .iter()
            .find(|(m, f, _)| *m == "Channel" && *f == "language")
            .unwrap();
        assert_eq!(language.support(r(13, 1, 1), KNOWN_MAJORS), Support::No);
        assert_eq!(language.support(r(13, 2, 0), KNOWN_MAJORS), Support::Yes);
        assert_eq!(language.support(r(12, 8, 2), KNOWN_MAJORS), Support::No);
    }
}
