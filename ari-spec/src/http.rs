//! Loading a revision from a live Asterisk server, which serves its own spec files.

use std::time::Duration;

use crate::load::{MAX_FILE_BYTES, Source, SpecError, check_relative};

/// A live server: `GET {base}/api-docs/resources.json`, then each listed file.
pub struct HttpSource {
    base: String,
    auth: Option<(String, String)>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of Debug output.
        f.debug_struct("HttpSource")
            .field("base", &self.base)
            .field("user", &self.auth.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl HttpSource {
    /// `base` is the ARI root, e.g. `http://127.0.0.1:8088/ari`.
    pub fn new(base: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            // A redirect could carry the credentials to another host: refuse them.
            .max_redirects(0)
            .build();
        HttpSource {
            base: base.trim_end_matches('/').to_owned(),
            auth: None,
            agent: config.into(),
        }
    }

    /// Sends basic-auth credentials with each request.
    pub fn with_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }
}

impl Source for HttpSource {
    fn describe(&self) -> String {
        self.base.clone()
    }

    fn fetch(&self, file: &str) -> Result<Vec<u8>, SpecError> {
        // Only `resources.json` and checked resource names reach here; checked again because
        // `Source` is public: no `..`, `?`, `#`, `%` or anything else that could change the URL.
        let name = file.strip_prefix("api-docs/").unwrap_or(file);
        check_relative(name).map_err(|p| SpecError::new(file, "", p))?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(SpecError::new(
                file,
                "",
                format!(
                    "`{}` holds characters that do not belong in a spec file name",
                    name.escape_debug()
                ),
            ));
        }
        let url = format!(
            "{}/api-docs/{}",
            self.base,
            file.trim_start_matches("api-docs/")
        );
        let mut req = self.agent.get(&url);
        if let Some((user, pass)) = &self.auth {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            req = req.header("Authorization", format!("Basic {token}"));
        }
        let fail = |problem: String| SpecError::new(url.clone(), "", problem);
        let mut resp = req
            .call()
            .map_err(|e| fail(format!("request failed: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fail(format!("server answered {status}")));
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_FILE_BYTES)
            .read_to_vec()
            .map_err(|e| fail(format!("reading the body failed: {e}")))
    }
}
