//! Doc comments: spec text as doc attributes, and the releases line of an item's docs.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Api;
use crate::ranges_text;

/// Spec text as doc attributes. Lines are trimmed so that indentation never turns into a doctest,
/// and brackets and angle brackets are escaped so that rustdoc reads them as text.
pub(super) fn doc(text: &str) -> TokenStream {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            let escaped = l
                .replace('\\', "\\\\")
                .replace('[', "\\[")
                .replace(']', "\\]")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!(" {escaped}")
        })
        .collect();
    let lines = lines.iter().map(|l| l.trim_end().to_owned());
    quote! { #( #[doc = #lines] )* }
}

/// Text written by the generator itself, whose brackets are intra-doc links: not escaped.
pub(super) fn doc_linked(text: &str) -> TokenStream {
    let lines = text
        .lines()
        .map(|l| format!(" {}", l.trim()).trim_end().to_owned());
    quote! { #( #[doc = #lines] )* }
}

/// The releases line of an item's docs. The part of the availability that is every release of
/// the corpus from some release on (in version order) reads as one phrase ("every release
/// since 20.0.0") instead of a range per release line; the ranges before it are listed.
pub(crate) fn releases_doc(api: &Api, ranges: &[ari_spec::ReleaseRange]) -> String {
    if ranges.is_empty() {
        return "Releases: none of the known releases.".to_owned();
    }
    let covered = |r: &ari_spec::Release| {
        ranges
            .iter()
            .any(|g| g.first.major == r.major && *r >= g.first && g.last.is_none_or(|l| *r <= l))
    };
    // The first release from which every later one (in version order) ships the item.
    let mut since = None;
    for r in api.releases.iter().rev() {
        if !covered(r) {
            break;
        }
        since = Some(*r);
    }
    // Within the newest line alone, `23.4.0+` says it better than a phrase.
    let newest = api.releases.last().map(|r| r.major);
    let Some(since) = since.filter(|s| Some(s.major) != newest) else {
        return format!("Releases: {}.", ranges_text(ranges));
    };
    let before: Vec<ari_spec::ReleaseRange> =
        ranges.iter().filter(|g| g.first < since).cloned().collect();
    match before.is_empty() {
        true => format!("Releases: every release since {since}."),
        false => format!(
            "Releases: {}, and every release since {since}.",
            ranges_text(&before)
        ),
    }
}

/// The releases line of a part (a field, a parameter), or nothing when the part ships wherever
/// its parent (the model, the operation) does.
pub(super) fn part_releases_doc(
    api: &Api,
    ranges: &[ari_spec::ReleaseRange],
    parent: &[ari_spec::ReleaseRange],
) -> Option<String> {
    (ranges != parent).then(|| releases_doc(api, ranges))
}
