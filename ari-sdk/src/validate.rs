//! Argument values that Asterisk accepts but mishandles, refused before sending.
//!
//! Both checks come from what the real servers do, not from the spec, which allows them:
//! an empty required parameter (an empty `media` list makes Asterisk 22 answer 500 after
//! creating nothing), and a media URI whose scheme Asterisk does not know (the playback is
//! created, never starts and never finishes, so an app waiting for `PlaybackFinished` waits
//! forever).

use crate::error::{Error, Result};
use crate::meta::ParamLocation;
use crate::request::Request;

/// The media URI schemes Asterisk's playback understands (`res/res_stasis_playback.c`, the same
/// six in every release from 12.0.0 to 23.4.1).
pub const MEDIA_SCHEMES: &[&str] = &[
    "sound:",
    "recording:",
    "number:",
    "digits:",
    "characters:",
    "tone:",
];

/// Refuses a request whose values Asterisk would mishandle; see the module docs.
pub(crate) fn check(req: &Request) -> Result<()> {
    let info = req.info;
    for (name, value) in &req.query {
        let Some(param) = info.param(name) else {
            continue;
        };
        if param.required && param.location == ParamLocation::Query && value.is_empty() {
            return Err(Error::invalid_argument(
                info,
                name,
                "required, but empty (give at least one value)",
            ));
        }
        if *name == "media" {
            for uri in value.split(',') {
                if !MEDIA_SCHEMES.iter().any(|s| uri.starts_with(s)) {
                    return Err(Error::invalid_argument(
                        info,
                        name,
                        format!(
                            "media URI {uri:?} has no scheme Asterisk plays (one of {}); \
                             Asterisk would start a playback that never finishes",
                            MEDIA_SCHEMES.join(" ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ErrorKind;

    /// A client that cannot reach anything: only a refusal before sending gives
    /// `InvalidArgument`.
    fn offline() -> crate::Client {
        crate::Client::builder()
            .base_url("http://127.0.0.1:9/ari")
            .release_gating(false)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn empty_media_list_is_refused_before_sending() {
        let e = offline()
            .channels()
            .play("c1", Vec::<String>::new())
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert_eq!(e.invalid_param(), Some("media"));
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[tokio::test]
    async fn unknown_media_scheme_is_refused_before_sending() {
        let e = offline()
            .bridges()
            .play("b1", ["sound:hello-world", "file:/tmp/x.wav"])
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("\"file:/tmp/x.wav\""), "{e}");
    }

    #[tokio::test]
    async fn known_schemes_pass_the_check() {
        let e = offline()
            .channels()
            .play(
                "c1",
                [
                    "sound:a",
                    "recording:b",
                    "number:1",
                    "digits:2",
                    "characters:c",
                    "tone:ring",
                ],
            )
            .send()
            .await
            .unwrap_err();
        // Checked, then sent: nothing listens on port 9.
        assert!(matches!(e.kind(), ErrorKind::Transport(_)), "{e}");
    }
}
