//! One ARI call being assembled: the operation it calls and its parameter values.
//!
//! The generated builders fill a [`Request`] and hand it to [`Client::send_json`],
//! [`Client::send_unit`] or [`Client::send_binary`]. It is public so that code can also call
//! operations that the bindings do not know (an Asterisk module outside the spec), given an
//! [`OperationInfo`] that describes it.
//!
//! [`Client::send_json`]: crate::Client::send_json
//! [`Client::send_unit`]: crate::Client::send_unit
//! [`Client::send_binary`]: crate::Client::send_binary

use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, Result};
use crate::meta::OperationInfo;

/// An ARI call being assembled.
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) info: &'static OperationInfo,
    pub(crate) path_params: Vec<(&'static str, String)>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Map<String, Value>>,
    /// A parameter whose value is the whole body (ARI's `object` body parameters, such as the
    /// application event filter), instead of a member of it.
    pub(crate) whole_body: Option<(&'static str, Value)>,
}

impl Request {
    /// Starts a call of `info`.
    pub fn new(info: &'static OperationInfo) -> Request {
        Request {
            info,
            path_params: Vec::new(),
            query: Vec::new(),
            body: None,
            whole_body: None,
        }
    }

    /// The operation this request calls.
    pub fn operation(&self) -> &'static OperationInfo {
        self.info
    }

    /// Sets the `{name}` segment of the path. The value is percent-encoded as one segment, so a
    /// `/` inside it (a stored recording in a subdirectory) stays inside the segment.
    pub fn path_param(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.path_params.push((name, value.to_owned()));
        self
    }

    /// Adds a query parameter, already formatted (`true`/`false`, lists comma-joined).
    pub fn query(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.query.push((name, value.into()));
        self
    }

    /// Adds a body parameter; the body is a JSON object keyed by parameter name, as Asterisk
    /// reads it (`{"variables": {...}}`).
    pub fn body_param(&mut self, name: &'static str, value: Value) -> &mut Self {
        self.body
            .get_or_insert_with(Map::new)
            .insert(name.to_owned(), value);
        self
    }

    /// Sets a body parameter that Asterisk reads as the whole body rather than as a member of it:
    /// the `object` body parameters (`applications.filter` reads `{"allowed": [...]}` itself,
    /// not `{"filter": {...}}`), whereas `containers` ones are members (`{"variables": {...}}`).
    pub fn body_whole(&mut self, name: &'static str, value: Value) -> &mut Self {
        self.whole_body = Some((name, value));
        self
    }

    /// The URL this request goes to under the ARI base URL `base` ([`Client::base_url`]): the
    /// path with its parameters substituted and percent-encoded, then the query. What a dry run
    /// shows (`ari ... --dry-run`); credentials are never part of it.
    ///
    /// [`Client::base_url`]: crate::Client::base_url
    pub fn url_under(&self, base: &Url) -> Result<Url> {
        self.url(base)
    }

    /// The JSON body this request sends, if any.
    pub fn json_body(&self) -> Option<Value> {
        self.body_value()
    }

    /// The JSON body to send, if any.
    pub(crate) fn body_value(&self) -> Option<Value> {
        match (&self.whole_body, &self.body) {
            (Some((_, v)), _) => Some(v.clone()),
            (None, Some(map)) => Some(Value::Object(map.clone())),
            (None, None) => None,
        }
    }

    /// Names of the parameters this request sets, for release gating.
    pub(crate) fn present_params(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.path_params
            .iter()
            .map(|(n, _)| *n)
            .chain(self.query.iter().map(|(n, _)| *n))
            .chain(
                self.body
                    .iter()
                    .flat_map(|m| m.keys())
                    .filter_map(|k| self.info.param(k).map(|p| p.name)),
            )
            .chain(self.whole_body.iter().map(|(n, _)| *n))
    }

    /// The full URL: `base` joined with the path template, path parameters substituted and
    /// encoded, query appended.
    pub(crate) fn url(&self, base: &Url) -> Result<Url> {
        let mut url = base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::config("the base URL cannot take a path"))?;
            // The base is stored without a trailing slash; an empty last segment would make `//`.
            segments.pop_if_empty();
            for seg in self.info.path.split('/').filter(|s| !s.is_empty()) {
                match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => {
                        let value = self
                            .path_params
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| v.as_str())
                            .ok_or_else(|| {
                                Error::invalid_argument(self.info, name, "missing path parameter")
                            })?;
                        if value.is_empty() {
                            return Err(Error::invalid_argument(
                                self.info,
                                name,
                                "must not be empty",
                            ));
                        }
                        segments.push(value);
                    }
                    None => {
                        segments.push(seg);
                    }
                }
            }
        }
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &self.query {
                pairs.append_pair(name, value);
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Availability, ParamInfo, ParamLocation};

    const ALL: Availability = Availability { ranges: &[] };

    static PLAY: OperationInfo = OperationInfo {
        resource: "recordings",
        nickname: "getStored",
        method: "GET",
        path: "/recordings/stored/{recordingName}/file",
        summary: "",
        params: &[
            ParamInfo {
                name: "recordingName",
                location: ParamLocation::Path,
                required: true,
                availability: ALL,
            },
            ParamInfo {
                name: "variables",
                location: ParamLocation::Body,
                required: false,
                availability: ALL,
            },
        ],
        errors: &[],
        availability: ALL,
    };

    #[test]
    fn url_encodes_segments_and_query() {
        let base = Url::parse("http://127.0.0.1:8088/ari").unwrap();
        let mut r = Request::new(&PLAY);
        r.path_param("recordingName", "dir/my file?#%")
            .query("media", "sound:hello,sound:world")
            .query("flag", "true");
        let url = r.url(&base).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8088/ari/recordings/stored/dir%2Fmy%20file%3F%23%25/file?media=sound%3Ahello%2Csound%3Aworld&flag=true"
        );
        let base_slash = Url::parse("http://h/ari/").unwrap();
        assert_eq!(
            r.url(&base_slash).unwrap().path(),
            "/ari/recordings/stored/dir%2Fmy%20file%3F%23%25/file"
        );
    }

    #[test]
    fn missing_or_empty_path_param_is_invalid_argument() {
        let base = Url::parse("http://h/ari").unwrap();
        let r = Request::new(&PLAY);
        let e = r.url(&base).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(e.invalid_param(), Some("recordingName"));
        let mut r = Request::new(&PLAY);
        r.path_param("recordingName", "");
        assert_eq!(
            r.url(&base).unwrap_err().kind(),
            crate::ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn body_params_and_present_params() {
        let mut r = Request::new(&PLAY);
        r.path_param("recordingName", "x")
            .body_param("variables", serde_json::json!({"A": "1"}));
        assert_eq!(
            serde_json::to_string(r.body.as_ref().unwrap()).unwrap(),
            r#"{"variables":{"A":"1"}}"#
        );
        let names: Vec<_> = r.present_params().collect();
        assert_eq!(names, ["recordingName", "variables"]);
    }
}
