//! The resource kinds: one table of what the runtime needs per kind of resource (its model, its
//! ids, its REST path, its handle, the events that end it, how a resync finds it), from which the
//! handles, `ResourceRef`, the router's keys, the ending rules and the resync are all generated.
//!
//! [`KINDS`] holds only what the spec cannot tell: which paths are resources worth a handle, the
//! name of the kind, a phrase for the docs, and which events end a resource's life. Everything
//! else is read from the IR by [`resolve`]: the model (what `GET` on the path returns), the ids
//! (the path's parameters, matched to the model's fields), the handle's name (the model's), the
//! event field that carries the resource, whether any event carries it at all (then events are
//! routed by it), and the operations a resync uses (a list of the collection, else a lookup).
//! A row that the IR contradicts is an error, so that the table cannot go stale quietly.

use crate::GenError;
use crate::ir::{Api, Type};

/// How an event ends a resource's life in the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The resource is gone: every subscription to it ends.
    Gone,
    /// The channel left the application (`StasisEnd`); subscriptions that wait for the channel's
    /// end stay.
    LeftApp,
}

/// What the spec cannot tell about one kind of resource.
#[derive(Clone, Copy, Debug)]
pub struct KindSpec {
    /// The kind's Rust name: the variant of `ResourceRef`, `ResourceKey` and `ResourceKind`.
    pub kind: &'static str,
    /// The REST path of one resource. Its `{...}` parameters are the resource's ids, its first
    /// segment the resource file, and `GET` on it returns the resource's model.
    pub path: &'static str,
    /// The resource in words, with its article, for the docs.
    pub what: &'static str,
    /// The events that end a resource's life in the application. None: nothing ends it, and a
    /// resync never ends its subscriptions.
    pub ends: &'static [(&'static str, Ending)],
}

/// Every kind of resource, in the order the generated items list them.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "Channel",
        path: "/channels/{channelId}",
        what: "a channel",
        ends: &[
            ("StasisEnd", Ending::LeftApp),
            ("ChannelDestroyed", Ending::Gone),
        ],
    },
    KindSpec {
        kind: "Bridge",
        path: "/bridges/{bridgeId}",
        what: "a bridge",
        ends: &[("BridgeDestroyed", Ending::Gone)],
    },
    KindSpec {
        kind: "Playback",
        path: "/playbacks/{playbackId}",
        what: "a playback",
        ends: &[("PlaybackFinished", Ending::Gone)],
    },
    KindSpec {
        kind: "Recording",
        path: "/recordings/live/{recordingName}",
        what: "a live recording",
        ends: &[
            ("RecordingFinished", Ending::Gone),
            ("RecordingFailed", Ending::Gone),
        ],
    },
    KindSpec {
        kind: "StoredRecording",
        path: "/recordings/stored/{recordingName}",
        what: "a stored recording",
        ends: &[],
    },
    KindSpec {
        kind: "Endpoint",
        path: "/endpoints/{tech}/{resource}",
        what: "an endpoint",
        ends: &[],
    },
    KindSpec {
        kind: "DeviceState",
        path: "/deviceStates/{deviceName}",
        what: "a device state",
        ends: &[],
    },
    KindSpec {
        kind: "Mailbox",
        path: "/mailboxes/{mailboxName}",
        what: "a mailbox",
        ends: &[],
    },
    KindSpec {
        kind: "Application",
        path: "/applications/{applicationName}",
        what: "a Stasis application",
        ends: &[],
    },
    KindSpec {
        kind: "Sound",
        path: "/sounds/{soundId}",
        what: "a sound",
        ends: &[],
    },
];

/// A model field that identifies a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdField {
    /// The path parameter it fills, e.g. `channelId`.
    pub param: String,
    /// The model field's wire name, e.g. `id`.
    pub wire: String,
    /// The model field's Rust name.
    pub rust: String,
    /// Whether the model field is an `Option`.
    pub optional: bool,
    /// The model field's description.
    pub description: Option<String>,
}

/// An event that ends a resource's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndingEvent {
    /// The event's wire name, e.g. `ChannelDestroyed`.
    pub wire: String,
    /// The event's Rust name.
    pub rust: String,
    /// The event field that carries the resource: wire name, Rust name, whether optional.
    pub field: (String, String, bool),
    /// How it ends the resource.
    pub how: Ending,
}

/// How a resync after a reconnect tells whether a resource still exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resync {
    /// By listing the collection: the Rust name of the list operation.
    List(String),
    /// By looking each one up: the Rust name of the `GET` on the resource's path.
    Get(String),
    /// Never: no event ends the resource, so nothing waits for its end.
    Keep,
}

/// One kind, resolved against the IR.
#[derive(Clone, Debug)]
pub struct Kind {
    /// The row of [`KINDS`].
    pub spec: KindSpec,
    /// The resource file that has the path's operations, e.g. `channels`.
    pub resource: String,
    /// The model's wire name, e.g. `LiveRecording`.
    pub model: String,
    /// The model's Rust name.
    pub model_rust: String,
    /// The handle type's name, e.g. `LiveRecordingHandle`.
    pub handle: String,
    /// The ids, in path order.
    pub ids: Vec<IdField>,
    /// Whether some event carries the model: events are then routed by this kind.
    pub routed: bool,
    /// The events that end it, in table order.
    pub ends: Vec<EndingEvent>,
    /// How a resync finds it.
    pub resync: Resync,
}

/// The `{...}` parameters of a path, in order.
pub fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// The resource file a path belongs to: its first segment.
fn resource_of(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

/// The path parameters of the handles on a resource file: their accessors share the handle's
/// namespace with the resource's operations.
pub fn handle_ids(resource: &str) -> impl Iterator<Item = &'static str> + '_ {
    KINDS
        .iter()
        .filter(move |k| resource_of(k.path) == resource)
        .flat_map(|k| path_params(k.path))
}

/// The model field a path parameter names: the field of that name; else `id` for a `...Id` and
/// `name` for a `...Name` parameter; else the one field whose name the parameter abbreviates
/// (`tech`, `technology`).
fn id_field_for<'a>(fields: &'a [crate::ir::Field], param: &str) -> Option<&'a crate::ir::Field> {
    let named = |w: &str| fields.iter().find(|f| f.wire == w);
    if let Some(f) = named(param) {
        return Some(f);
    }
    if param.ends_with("Id")
        && let Some(f) = named("id")
    {
        return Some(f);
    }
    if param.ends_with("Name")
        && let Some(f) = named("name")
    {
        return Some(f);
    }
    let mut prefixed = fields.iter().filter(|f| f.wire.starts_with(param));
    match (prefixed.next(), prefixed.next()) {
        (Some(f), None) => Some(f),
        _ => None,
    }
}

/// The kinds of [`KINDS`] whose path the API has, resolved. A row whose path the API lacks is
/// left out (a fixture spec, an old corpus); a row the API contradicts is an error.
pub fn resolve(api: &Api) -> Result<Vec<Kind>, GenError> {
    let mut out = Vec::new();
    for spec in KINDS {
        let err = |what: String| GenError::Spec(format!("resource kind `{}`: {what}", spec.kind));
        let Some((res, get)) = api.resources.values().find_map(|r| {
            r.operations
                .iter()
                .find(|o| o.method == "GET" && o.path == spec.path)
                .map(|o| (r, o))
        }) else {
            continue;
        };
        if res.wire != resource_of(spec.path) {
            return Err(err(format!(
                "`GET {}` is in resource file `{}`, not `{}`",
                spec.path,
                res.wire,
                resource_of(spec.path)
            )));
        }
        let Some(Type::Model(model_rust)) = &get.response else {
            return Err(err(format!("`GET {}` does not return a model", spec.path)));
        };
        let model = api
            .lookup
            .model_by_rust
            .get(model_rust)
            .and_then(|w| api.models.get(w))
            .ok_or_else(|| err(format!("model `{model_rust}` is not a model")))?;
        let ids = path_params(spec.path)
            .map(|param| {
                let f = id_field_for(&model.fields, param).ok_or_else(|| {
                    err(format!(
                        "no field of `{}` matches path parameter `{param}`",
                        model.wire
                    ))
                })?;
                Ok(IdField {
                    param: param.to_owned(),
                    wire: f.wire.clone(),
                    rust: f.rust.clone(),
                    optional: f.optional,
                    description: f.description.clone(),
                })
            })
            .collect::<Result<Vec<_>, GenError>>()?;
        let carries = |f: &crate::ir::Field| f.ty == Type::Model(model_rust.clone());
        let routed = api.events.values().any(|e| e.fields.iter().any(carries));
        let ends = spec
            .ends
            .iter()
            .map(|(name, how)| {
                let event = api
                    .events
                    .get(*name)
                    .ok_or_else(|| err(format!("ending event `{name}` is not an event")))?;
                let mut fields = event.fields.iter().filter(|f| carries(f));
                let (Some(f), None) = (fields.next(), fields.next()) else {
                    return Err(err(format!(
                        "ending event `{name}` does not carry exactly one `{}`",
                        model.wire
                    )));
                };
                Ok(EndingEvent {
                    wire: event.wire.clone(),
                    rust: event.rust.clone(),
                    field: (f.wire.clone(), f.rust.clone(), f.optional),
                    how: *how,
                })
            })
            .collect::<Result<Vec<_>, GenError>>()?;
        if !ends.is_empty() && !routed {
            return Err(err(
                "it has ending events but no event carries it".to_owned()
            ));
        }
        // The collection: the path without its trailing parameters.
        let mut collection = spec.path;
        while let Some((head, last)) = collection.rsplit_once('/') {
            if !last.starts_with('{') {
                break;
            }
            collection = head;
        }
        let list = res.operations.iter().find(|o| {
            o.method == "GET"
                && o.path == collection
                && o.response == Some(Type::List(Box::new(Type::Model(model_rust.clone()))))
        });
        let resync = match (ends.is_empty(), list) {
            (true, _) => Resync::Keep,
            (false, Some(list)) => Resync::List(list.rust.clone()),
            (false, None) => Resync::Get(get.rust.clone()),
        };
        out.push(Kind {
            spec: *spec,
            resource: res.wire.clone(),
            model: model.wire.clone(),
            model_rust: model_rust.clone(),
            handle: format!("{model_rust}Handle"),
            ids,
            routed,
            ends,
            resync,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table resolved against the vendored corpus: what the IR gives each kind.
    #[test]
    fn the_vendored_corpus_resolves_every_kind() {
        let corpus = ari_spec::Corpus::load(ari_spec::Corpus::vendored_dir()).unwrap();
        let api = crate::ir::build(&corpus).unwrap();
        let row = |kind: &str| api.kinds.iter().find(|k| k.spec.kind == kind).unwrap();
        assert_eq!(api.kinds.len(), KINDS.len(), "every row has its path");
        let ids = |kind: &str| -> Vec<(&str, &str)> {
            row(kind)
                .ids
                .iter()
                .map(|i| (i.param.as_str(), i.wire.as_str()))
                .collect()
        };
        assert_eq!(ids("Channel"), [("channelId", "id")]);
        assert_eq!(ids("Recording"), [("recordingName", "name")]);
        assert_eq!(
            ids("Endpoint"),
            [("tech", "technology"), ("resource", "resource")]
        );
        assert_eq!(ids("DeviceState"), [("deviceName", "name")]);
        assert_eq!(row("Recording").model, "LiveRecording");
        assert_eq!(row("Recording").handle, "LiveRecordingHandle");
        assert_eq!(row("Recording").resource, "recordings");
        let routed: Vec<&str> = api
            .kinds
            .iter()
            .filter(|k| k.routed)
            .map(|k| k.spec.kind)
            .collect();
        assert_eq!(
            routed,
            [
                "Channel",
                "Bridge",
                "Playback",
                "Recording",
                "Endpoint",
                "DeviceState"
            ]
        );
        assert_eq!(row("Channel").resync, Resync::List("list".to_owned()));
        assert_eq!(row("Bridge").resync, Resync::List("list".to_owned()));
        assert_eq!(row("Playback").resync, Resync::Get("get".to_owned()));
        assert_eq!(row("Recording").resync, Resync::Get("get_live".to_owned()));
        assert_eq!(row("Endpoint").resync, Resync::Keep);
        let ends: Vec<(&str, &str, Ending)> = row("Channel")
            .ends
            .iter()
            .map(|e| (e.wire.as_str(), e.field.0.as_str(), e.how))
            .collect();
        assert_eq!(
            ends,
            [
                ("StasisEnd", "channel", Ending::LeftApp),
                ("ChannelDestroyed", "channel", Ending::Gone)
            ]
        );
    }

    #[test]
    fn path_parameters_name_model_fields() {
        let field = |wire: &str| crate::ir::Field {
            wire: wire.to_owned(),
            rust: wire.to_owned(),
            ty: Type::String,
            optional: false,
            description: None,
            range: None,
            availability: Vec::new(),
            boxed: false,
        };
        let fields = [
            field("id"),
            field("name"),
            field("technology"),
            field("tone"),
        ];
        let of = |p: &str| id_field_for(&fields, p).map(|f| f.wire.as_str());
        assert_eq!(of("channelId"), Some("id"));
        assert_eq!(of("deviceName"), Some("name"));
        assert_eq!(of("tech"), Some("technology"));
        assert_eq!(of("name"), Some("name"));
        // Two fields start with `t`: no guess.
        assert_eq!(of("t"), None);
        assert_eq!(of("other"), None);
        assert_eq!(
            path_params("/endpoints/{tech}/{resource}").collect::<Vec<_>>(),
            ["tech", "resource"]
        );
        assert_eq!(
            handle_ids("recordings").collect::<Vec<_>>(),
            ["recordingName", "recordingName"]
        );
    }
}
