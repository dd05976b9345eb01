//! The vendored corpus: loads whole, counts match an independent count, availability matches
//! `releases.tsv` for items checked by hand, and broken specs give precise errors.

use std::collections::BTreeSet;

use ari_spec::corpus::format_ranges;
use ari_spec::{Corpus, Item, RawRevision, Release, Revision};

fn corpus() -> &'static Corpus {
    static C: std::sync::OnceLock<Corpus> = std::sync::OnceLock::new();
    C.get_or_init(|| Corpus::vendored().expect("the vendored corpus loads"))
}

fn r(s: &str) -> Release {
    s.parse().unwrap()
}

#[test]
fn corpus_is_complete() {
    let c = corpus();
    assert_eq!(c.releases.len(), 367);
    assert_eq!(c.revisions.len(), 81);
    assert_eq!(c.releases.first().unwrap().release, r("12.0.0"));
    assert_eq!(c.releases.last().unwrap().release, r("23.4.1"));
    assert_eq!(c.majors(), [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    let before_16 = c.releases.iter().filter(|e| e.release.major < 16).count();
    assert_eq!(before_16, 142);
    // ARI's own version, from 1.0.0 in 12.0.0 to 11.0.0 in 23.
    let api = |rel: &str| c.revision_of(r(rel)).unwrap().listing.api_version.clone();
    assert_eq!(api("12.0.0"), "1.0.0");
    assert_eq!(api("23.4.1"), "11.0.0");
    // 13.0.0 ships the files of 12.7.0: a revision can span two lines.
    assert_eq!(
        c.releases
            .iter()
            .find(|e| e.release == r("13.0.0"))
            .unwrap()
            .revision,
        "12.7.0"
    );
}

#[test]
fn counts_match_independent_count() {
    let c = corpus();
    let text = include_str!("data/counts.tsv");
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let rev = c.revision_of(r(f[0])).unwrap();
        let ops: usize = rev
            .resources
            .iter()
            .map(|(_, d)| d.apis.iter().map(|a| a.operations.len()).sum::<usize>())
            .sum();
        let models = rev.models().count();
        let events = rev.event_names().len();
        assert_eq!(
            (ops.to_string(), models.to_string(), events.to_string()),
            (f[1].to_owned(), f[2].to_owned(), f[3].to_owned()),
            "release {}",
            f[0]
        );
        checked += 1;
    }
    assert_eq!(checked, 367);
    // The figures the issue names, as a guard on the independent script itself.
    assert!(text.contains("\n22.10.0\t109\t85\t45\n"));
    assert!(text.contains("\n16.27.0\t98\t70\t38\n"));
    // The oldest and the long-term release, counted by hand in the files.
    assert!(text.starts_with("release\toperations\tmodels\tevents\n12.0.0\t62\t48\t25\n"));
    assert!(text.contains("\n13.38.3\t94\t69\t37\n"));
}

#[test]
fn every_fixup_applies_somewhere() {
    let c = corpus();
    let applied: BTreeSet<&str> = c
        .fixups_applied
        .values()
        .flatten()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(applied.len(), ari_spec::fixups::FIXUPS.len());
    c.check_fixups().expect("no stale fix-up");
}

/// Checked by hand against releases.tsv and the revision folders.
#[test]
fn availability_checked_by_hand() {
    let idx = corpus().availability();
    // POST /events/claim: first in 20.20.0, 22.10.0 and 23.4.0 (its `since` wrongly says earlier).
    let claim = idx.ranges_of(&Item::operation("events", "claimChannel"));
    assert_eq!(format_ranges(&claim), "20.20.0+, 22.10.0+, 23.4.0+");
    // RESTResponse came with REST over WebSocket.
    let rest = idx.ranges_of(&Item::Event("RESTResponse".into()));
    assert_eq!(format_ranges(&rest), "20.14.0+, 21.9.0+, 22.4.0+, 23.0.0+");
    // externalMedia's transport_data parameter (checked with a script over releases.tsv).
    let td = idx.ranges_of(&Item::parameter(
        "channels",
        "externalMedia",
        "transport_data",
    ));
    assert_eq!(format_ranges(&td), "20.18.0+, 22.8.0+, 23.2.0+");
    // channels.move: from 13.26.0 in 13 (not in 14 or 15), from 16.3.0 in every later line
    // (checked with a script over releases.tsv).
    let mv = idx.ranges_of(&Item::operation("channels", "move"));
    assert_eq!(
        format_ranges(&mv),
        "13.26.0+, 16.3.0+, 17.0.0+, 18.0.0+, 19.0.0+, 20.0.0+, 21.0.0+, 22.0.0+, 23.0.0+"
    );
    // Operations every release ships read as one open range per line.
    let list = idx.ranges_of(&Item::operation("channels", "list"));
    assert_eq!(list.len(), 12);
    assert!(list.iter().all(|r| r.last.is_none()));
    // Something no release ships.
    assert!(
        idx.ranges_of(&Item::operation("channels", "nope"))
            .is_empty()
    );
}

/// The old lines overlap in time: 13 was the long-term line while 14 and 15 came and went, and
/// features were backported to 13 after 14.0.0 shipped without them. Each range checked by hand:
/// `grep -l` over `ari-spec/corpus/1[2-5]*/api-docs/`, then the revision's rows in releases.tsv.
#[test]
fn availability_of_the_overlapping_old_lines() {
    let idx = corpus().availability();
    let ranges = |item: Item| format_ranges(&idx.ranges_of(&item));
    let since_16 = "16.0.0+, 17.0.0+, 18.0.0+, 19.0.0+, 20.0.0+, 21.0.0+, 22.0.0+, 23.0.0+";
    // Video source switching: in 13.13.0 (folder 13.13.0, first of 13.13.0..13.24.1) but not in
    // 14.0.0..14.1.2 (folder 14.0.0); 14 gained it with 14.2.0.
    assert_eq!(
        ranges(Item::operation("bridges", "setVideoSource")),
        format!("13.13.0+, 14.2.0+, 15.0.0+, {since_16}")
    );
    assert_eq!(
        ranges(Item::field("Message", "asterisk_id")),
        format!("13.13.0+, 14.2.0+, 15.0.0+, {since_16}")
    );
    assert_eq!(
        ranges(Item::Event("BridgeVideoSourceChanged".into())),
        format!("13.13.0+, 14.2.0+, 15.0.0+, {since_16}")
    );
    // In 13.38 but in no 14.x or 15.x: channels.move from 13.26.0 (and 16.3.0), asterisk.ping
    // from 13.25.0 (and 16.2.0), rtpstatistics from 13.27.0 (and 16.4.0).
    assert_eq!(
        ranges(Item::operation("channels", "move")),
        "13.26.0+, 16.3.0+, 17.0.0+, 18.0.0+, 19.0.0+, 20.0.0+, 21.0.0+, 22.0.0+, 23.0.0+"
    );
    assert_eq!(
        ranges(Item::operation("asterisk", "ping")),
        "13.25.0+, 16.2.0+, 17.0.0+, 18.0.0+, 19.0.0+, 20.0.0+, 21.0.0+, 22.0.0+, 23.0.0+"
    );
    assert_eq!(
        ranges(Item::Event("ApplicationMoveFailed".into())),
        "13.26.0+, 16.3.0+, 17.0.0+, 18.0.0+, 19.0.0+, 20.0.0+, 21.0.0+, 22.0.0+, 23.0.0+"
    );
    assert_eq!(
        ranges(Item::operation("channels", "rtpstatistics")),
        "13.27.0+, 16.4.0+, 17.0.0+, 18.0.0+, 19.0.0+, 20.0.0+, 21.0.0+, 22.0.0+, 23.0.0+"
    );
    // In 14.0.0 but never in 13: channels.create and dial, PlaybackContinuing.
    assert_eq!(
        ranges(Item::operation("channels", "dial")),
        format!("14.0.0+, 15.0.0+, {since_16}")
    );
    assert_eq!(
        ranges(Item::Event("PlaybackContinuing".into())),
        format!("14.0.0+, 15.0.0+, {since_16}")
    );
    // Removed from 13 with 13.32.0 (the last release of folder 13.27.0 is 13.31.0), kept by 14
    // and 15 to their end, removed from 16 with 16.9.0 and from 17 with 17.3.0.
    assert_eq!(
        ranges(Item::Model("TextMessageVariable".into())),
        "12.5.0+, 13.0.0\u{2013}13.31.0, 14.0.0+, 15.0.0+, 16.0.0\u{2013}16.8.0, 17.0.0\u{2013}17.2.0"
    );
    // From the first release in every line.
    assert_eq!(
        ranges(Item::operation("channels", "snoopChannel")),
        format!("12.0.0+, 13.0.0+, 14.0.0+, 15.0.0+, {since_16}")
    );
    // The recording events that 12.0.0-12.6.0 declare with `extends` as well.
    assert_eq!(
        ranges(Item::Event("RecordingStarted".into())),
        format!("12.0.0+, 13.0.0+, 14.0.0+, 15.0.0+, {since_16}")
    );
    // LiveRecording.target_uri: from 12.2.0.
    assert_eq!(
        ranges(Item::field("LiveRecording", "target_uri")),
        format!("12.2.0+, 13.0.0+, 14.0.0+, 15.0.0+, {since_16}")
    );
}

/// 12.0.0-12.4.0 list `format` and `state` of LiveRecording twice; the fix-up keeps one of each,
/// with the second entry's `required` and the first's description and LIST of states.
#[test]
fn repeated_live_recording_properties_merged() {
    let c = corpus();
    for rev in ["12.0.0", "12.1.0", "12.2.0", "12.3.0", "12.4.0"] {
        assert!(
            c.fixups_applied[rev].contains(&("LiveRecording-repeated-properties", 2)),
            "{rev}: {:?}",
            c.fixups_applied[rev]
        );
        let (_, _, m) = c.revisions[rev]
            .models()
            .find(|(_, n, _)| *n == "LiveRecording")
            .unwrap();
        let names: Vec<&str> = m.properties.iter().map(|(n, _)| n.as_str()).collect();
        let once: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(names.len(), once.len(), "{rev}: {names:?}");
        let state = &m.properties.iter().find(|(n, _)| n == "state").unwrap().1;
        assert!(state.required, "{rev}");
        let values = state.allowable_values.as_ref().unwrap().values.as_ref();
        assert_eq!(values.unwrap().len(), 6, "{rev}");
    }
    assert!(
        c.fixups_applied["12.5.0"]
            .iter()
            .all(|(n, _)| *n != "LiveRecording-repeated-properties")
    );
}

#[test]
fn ranges_close_when_an_item_disappears() {
    let idx = corpus().availability();
    let set: BTreeSet<Release> = ["20.14.0", "20.14.1", "20.15.0", "21.0.0"]
        .iter()
        .map(|s| r(s))
        .collect();
    let ranges = idx.ranges(&set);
    assert_eq!(format_ranges(&ranges), "20.14.0\u{2013}20.15.0, 21.0.0");
}

fn raw(resources: &str, name: &str, decl: &str) -> RawRevision {
    let mut raw = RawRevision::default();
    raw.files
        .insert("resources.json".into(), resources.as_bytes().to_vec());
    raw.files
        .insert(format!("api-docs/{name}.json"), decl.as_bytes().to_vec());
    raw
}

const LISTING: &str = r#"{"apiVersion":"1","swaggerVersion":"1.1","basePath":"x","apis":[{"path":"/api-docs/things.{format}"}]}"#;

fn decl(ops: &str, models: &str) -> String {
    format!(
        r#"{{"apiVersion":"1","swaggerVersion":"1.1","basePath":"x","resourcePath":"/api-docs/things.{{format}}",
        "apis":[{{"path":"/things/{{thingId}}","operations":[{ops}]}}],"models":{{{models}}}}}"#
    )
}

fn error_of(ops: &str, models: &str) -> ari_spec::SpecError {
    Revision::parse(&raw(LISTING, "things", &decl(ops, models))).unwrap_err()
}

#[test]
fn broken_specs_name_file_path_and_problem() {
    let e = Revision::parse(&raw(LISTING, "things", "{\"apis\": [")).unwrap_err();
    assert_eq!(e.file, "api-docs/things.json");
    assert!(e.problem.starts_with("invalid JSON"), "{e}");

    let e = error_of(
        r#"{"httpMethod":"GET","nickname":"get","responseClass":"void","parameters":[
            {"name":"thingId","paramType":"path","dataType":"strnig"}]}"#,
        "",
    );
    assert_eq!(e.path, "apis[0].operations[0].parameters[0].dataType");
    assert_eq!(e.problem, "unknown data type `strnig`");
    assert_eq!(
        e.to_string(),
        "api-docs/things.json: at apis[0].operations[0].parameters[0].dataType: unknown data type `strnig`"
    );

    let e = error_of(
        r#"{"httpMethod":"GET","nickname":"get","responseClass":"List[Thing]"}"#,
        "",
    );
    assert_eq!(e.path, "apis[0].operations[0].responseClass");
    assert_eq!(e.problem, "reference to missing model `Thing`");

    let e = error_of(
        r#"{"httpMethod":"GET","nickname":"get","responseClass":"void"},
           {"httpMethod":"DELETE","nickname":"get","responseClass":"void"}"#,
        "",
    );
    assert_eq!(e.path, "apis[0].operations[1].nickname");
    assert_eq!(e.problem, "duplicate nickname `get` in one resource");

    let e = error_of(
        r#"{"httpMethod":"GET","nickname":"get","responseClass":"Thing"}"#,
        r#""Thing":{"id":"Thing","properties":{"x":{"type":"Other"}}}"#,
    );
    assert_eq!(e.path, "models.Thing.properties.x.type");
    assert_eq!(e.problem, "reference to missing model `Other`");

    let e = error_of(r#"{"httpMethod":"GET","responseClass":"void"}"#, "");
    assert_eq!(e.path, "apis[0].operations[0]");
    assert!(e.problem.contains("missing field `nickname`"), "{e}");

    let e = error_of(
        r#"{"httpMethod":"GET","nickname":"get","parameters":[
            {"name":"x","paramType":"query","dataType":"string","allowableValues":{"valueType":"SET"}}]}"#,
        "",
    );
    assert_eq!(
        e.path,
        "apis[0].operations[0].parameters[0].allowableValues.valueType"
    );

    // `extends` must agree with the parent's `subTypes` (the hierarchy is read from those).
    let models = r#""Thing":{"id":"Thing","subTypes":["Big"]},
        "Big":{"id":"Big","extends":"Thing"},"Small":{"id":"Small","extends":"Thing"}"#;
    let e = error_of(
        r#"{"httpMethod":"GET","nickname":"get","responseClass":"Thing"}"#,
        models,
    );
    assert_eq!(e.path, "models.Small.extends");
    assert_eq!(
        e.problem,
        "extends `Thing`, whose `subTypes` do not list `Small`"
    );

    let e = Revision::parse(&raw(LISTING, "other", "{}")).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.problem.as_str()),
        ("api-docs/things.json", "file is missing")
    );
}

#[test]
fn garbage_never_panics() {
    // Truncations and byte flips of a real file must give errors, never panics.
    let real =
        std::fs::read(Corpus::vendored_dir().join("22.10.0/api-docs/channels.json")).unwrap();
    let listing = std::fs::read(Corpus::vendored_dir().join("22.10.0/resources.json")).unwrap();
    let mut seed = 0x2545_f491_u64;
    for i in 0..300 {
        let mut bytes = real.clone();
        if i % 2 == 0 {
            bytes.truncate((i * 997) % real.len());
        } else {
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize) % bytes.len();
                bytes[at] = b"{}[]\":,x0 "[(seed >> 32) as usize % 10];
            }
        }
        let mut raw = RawRevision::default();
        raw.files.insert("resources.json".into(), listing.clone());
        for name in [
            "asterisk",
            "endpoints",
            "bridges",
            "recordings",
            "sounds",
            "playbacks",
            "deviceStates",
            "mailboxes",
            "events",
            "applications",
        ] {
            let f = format!("22.10.0/api-docs/{name}.json");
            raw.files.insert(
                format!("api-docs/{name}.json"),
                std::fs::read(Corpus::vendored_dir().join(f)).unwrap(),
            );
        }
        raw.files.insert("api-docs/channels.json".into(), bytes);
        let _ = Revision::parse(&raw);
    }
}
