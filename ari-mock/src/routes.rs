//! The route table's types and how a request finds its operation.
//!
//! The table itself ([`crate::generated::routes::ROUTES`]) is generated from the spec corpus by
//! `cargo xtask codegen`; this module only matches against it, for one simulated release.

/// A release: (major, minor, patch).
pub type Release = (u16, u16, u16);

/// A run of releases that ship an item; `last: None` reaches the newest release of its line.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    /// First release of the run.
    pub first: Release,
    /// Last release of the run, or `None` for "to the newest of its major line".
    pub last: Option<Release>,
}

/// Whether `release` is in one of `ranges`.
pub fn ships(ranges: &[Range], release: Release) -> bool {
    ranges.iter().any(|r| {
        release >= r.first
            && match r.last {
                Some(l) => release <= l,
                None => release.0 == r.first.0,
            }
    })
}

/// Where a parameter travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A path segment.
    Path,
    /// The query string (or a form body).
    Query,
    /// A member of the JSON body.
    Body,
}

/// The type of one value of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    String,
    /// An integer.
    Int,
    /// A number.
    Double,
    /// `true` / `false`.
    Bool,
    /// One of [`Param::values`].
    Enum,
    /// A JSON object.
    Object,
    /// Binary data.
    Binary,
}

/// One parameter of an operation.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Wire name.
    pub name: &'static str,
    /// Where it travels.
    pub location: Location,
    /// Type of one value.
    pub kind: Kind,
    /// Several values, comma-joined.
    pub multiple: bool,
    /// Required in every revision that has the operation.
    pub required: bool,
    /// Allowed values, for [`Kind::Enum`].
    pub values: &'static [&'static str],
    /// Releases that accept it.
    pub availability: &'static [Range],
}

/// One operation.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Resource file, e.g. `channels`.
    pub resource: &'static str,
    /// Operation nickname, e.g. `originate`.
    pub nickname: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template, e.g. `/channels/{channelId}/answer`.
    pub path: &'static str,
    /// Parameters.
    pub params: &'static [Param],
    /// Releases that ship it.
    pub availability: &'static [Range],
    /// The events WebSocket upgrade.
    pub websocket: bool,
}

impl Route {
    /// `resource.nickname`, as the SDK's request log and the coverage report name it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.resource, self.nickname)
    }

    /// Matches `path` (without the `/ari` prefix, already split on `/`) against the template;
    /// returns the path parameters, percent-decoded.
    fn matches(&self, segments: &[String]) -> Option<Vec<(&'static str, String)>> {
        let template: Vec<&'static str> = self.path.trim_start_matches('/').split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut out = Vec::new();
        for (t, s) in template.iter().zip(segments) {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                out.push((name, s.clone()));
            } else if t != s {
                return None;
            }
        }
        Some(out)
    }
}

/// What routing a request gave.
#[derive(Debug)]
pub enum Found {
    /// The operation and its path parameters.
    Route(&'static Route, Vec<(&'static str, String)>),
    /// The path exists, not with this method: the methods it has (for `Allow`).
    WrongMethod(Vec<&'static str>),
    /// No operation of this release has the path.
    NotFound,
}

/// The operations one release ships.
#[derive(Debug)]
pub struct Table {
    routes: Vec<&'static Route>,
}

impl Table {
    /// The table of `release` (which the corpus must know).
    pub fn for_release(release: Release) -> Table {
        Table {
            routes: crate::generated::routes::ROUTES
                .iter()
                .filter(|r| ships(r.availability, release))
                .collect(),
        }
    }

    /// Every operation of the release.
    pub fn routes(&self) -> &[&'static Route] {
        &self.routes
    }

    /// Finds the operation for `method` and `path` (below `/ari`).
    pub fn find(&self, method: &str, path: &str) -> Found {
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let mut methods = Vec::new();
        // A literal segment beats a parameter (`/channels/create` is not `/channels/{channelId}`).
        let mut best: Option<(&'static Route, Vec<(&'static str, String)>)> = None;
        for r in &self.routes {
            if let Some(params) = r.matches(&segments) {
                if r.method == method {
                    let better = best.as_ref().is_none_or(|(_, p)| params.len() < p.len());
                    if better {
                        best = Some((r, params));
                    }
                } else if !methods.contains(&r.method) {
                    methods.push(r.method);
                }
            }
        }
        match best {
            Some((r, p)) => Found::Route(r, p),
            None if methods.is_empty() => Found::NotFound,
            None => Found::WrongMethod(methods),
        }
    }
}
