//! Loading one spec revision from a folder, a live server, or bytes in memory, and checking it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::swagger::{ApiDeclaration, DataType, ResourceListing};

/// A problem in a spec: which file, where in it, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{problem}", if path.is_empty() { String::new() } else { format!("at {path}: ") })]
pub struct SpecError {
    /// The file (relative to the revision root, or a URL).
    pub file: String,
    /// The JSON path inside the file, e.g. `apis[3].operations[0].parameters[1].dataType`;
    /// empty when the problem concerns the file as a whole.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl SpecError {
    /// Makes an error.
    pub fn new(
        file: impl Into<String>,
        path: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        SpecError {
            file: file.into(),
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// Where the files of a revision come from.
pub trait Source {
    /// A name for messages: the folder or the URL.
    fn describe(&self) -> String;
    /// Fetches one file by its path relative to the revision root: `resources.json` or
    /// `api-docs/channels.json`.
    fn fetch(&self, file: &str) -> Result<Vec<u8>, SpecError>;
}

/// A folder holding `resources.json` and `api-docs/`: a corpus revision, an Asterisk source tree's
/// `rest-api/` folder, or the root of an Asterisk source tree.
#[derive(Clone, Debug)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Uses `dir`, or `dir/rest-api` when `dir` is an Asterisk source tree.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        let nested = dir.join("rest-api");
        let root = if !dir.join("resources.json").exists() && nested.join("resources.json").exists()
        {
            nested
        } else {
            dir.to_path_buf()
        };
        DirSource { root }
    }

    /// The folder that holds `resources.json`.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Source for DirSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn fetch(&self, file: &str) -> Result<Vec<u8>, SpecError> {
        let path = self.root.join(file);
        std::fs::read(&path)
            .map_err(|e| SpecError::new(path.display().to_string(), "", e.to_string()))
    }
}

/// The raw bytes of every file of one revision, keyed by path relative to the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawRevision {
    /// `resources.json` and `api-docs/<name>.json` files.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl RawRevision {
    /// Fetches `resources.json`, then every declaration file it lists.
    pub fn fetch(source: &dyn Source) -> Result<RawRevision, SpecError> {
        let mut files = BTreeMap::new();
        let listing_bytes = source.fetch("resources.json")?;
        let listing: ResourceListing = parse_json("resources.json", &listing_bytes)?;
        for (i, entry) in listing.apis.iter().enumerate() {
            let name = entry.resource_name().ok_or_else(|| {
                SpecError::new(
                    "resources.json",
                    format!("apis[{i}].path"),
                    format!("`{}` names no declaration file", entry.path),
                )
            })?;
            let file = format!("api-docs/{name}.json");
            let bytes = source.fetch(&file)?;
            files.insert(file, bytes);
        }
        files.insert("resources.json".to_owned(), listing_bytes);
        Ok(RawRevision { files })
    }

    /// Writes the files under `dir`, byte for byte.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (file, bytes) in &self.files {
            let path = dir.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
        }
        Ok(())
    }
}

/// One revision of the spec, parsed and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    /// `resources.json`.
    pub listing: ResourceListing,
    /// Declaration files by resource name (`channels`, `events`, ...), in listing order.
    pub resources: Vec<(String, ApiDeclaration)>,
}

impl Revision {
    /// Fetches and parses a revision.
    pub fn load(source: &dyn Source) -> Result<Revision, SpecError> {
        Revision::parse(&RawRevision::fetch(source)?)
    }

    /// Loads a revision from a folder.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Revision, SpecError> {
        Revision::load(&DirSource::new(dir))
    }

    /// Parses and checks the raw files.
    pub fn parse(raw: &RawRevision) -> Result<Revision, SpecError> {
        Revision::parse_with(raw, |_| {})
    }

    /// Parses the raw files, lets `fix` correct known upstream mistakes (the named fix-ups, see
    /// [`crate::fixups::parse_fixed`]), then checks: some mistakes (a property listed twice) would
    /// fail the check.
    pub fn parse_with(
        raw: &RawRevision,
        fix: impl FnOnce(&mut Revision),
    ) -> Result<Revision, SpecError> {
        let listing_bytes = raw
            .files
            .get("resources.json")
            .ok_or_else(|| SpecError::new("resources.json", "", "file is missing"))?;
        let listing: ResourceListing = parse_json("resources.json", listing_bytes)?;
        let mut resources = Vec::new();
        for entry in &listing.apis {
            let Some(name) = entry.resource_name() else {
                continue; // RawRevision::fetch reported it already when it came from a source
            };
            let file = format!("api-docs/{name}.json");
            let bytes = raw
                .files
                .get(&file)
                .ok_or_else(|| SpecError::new(file.clone(), "", "file is missing"))?;
            let decl: ApiDeclaration = parse_json(&file, bytes)?;
            resources.push((name.to_owned(), decl));
        }
        let mut rev = Revision { listing, resources };
        fix(&mut rev);
        rev.check()?;
        Ok(rev)
    }

    /// The declaration of one resource.
    pub fn resource(&self, name: &str) -> Option<&ApiDeclaration> {
        self.resources
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
    }

    /// Every model of every file, with the file it lives in.
    pub fn models(&self) -> impl Iterator<Item = (&str, &str, &crate::swagger::Model)> {
        self.resources.iter().flat_map(|(res, decl)| {
            decl.models
                .iter()
                .map(move |(name, m)| (res.as_str(), name.as_str(), m))
        })
    }

    /// Names of the event models: the subtypes of `Event`, transitively.
    pub fn event_names(&self) -> Vec<String> {
        let subtypes: BTreeMap<&str, &Vec<String>> = self
            .models()
            .map(|(_, name, m)| (name, &m.sub_types))
            .collect();
        let mut out = Vec::new();
        let mut stack = vec!["Event".to_owned()];
        while let Some(m) = stack.pop() {
            if let Some(subs) = subtypes.get(m.as_str()) {
                for s in subs.iter().rev() {
                    out.push(s.clone());
                    stack.push(s.clone());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Checks what serde cannot: data types, model references, unique nicknames and model names,
    /// parameter placement, LIST/RANGE shapes.
    fn check(&self) -> Result<(), SpecError> {
        let mut model_files: BTreeMap<&str, &str> = BTreeMap::new();
        for (res, decl) in &self.resources {
            let file = format!("api-docs/{res}.json");
            for (name, model) in &decl.models {
                if let Some(other) = model_files.insert(name, res) {
                    return Err(SpecError::new(
                        file,
                        format!("models.{name}"),
                        format!("model `{name}` is also defined in api-docs/{other}.json"),
                    ));
                }
                if model.id != *name {
                    return Err(SpecError::new(
                        file,
                        format!("models.{name}.id"),
                        format!("id `{}` differs from the model's key `{name}`", model.id),
                    ));
                }
            }
        }
        let known = |t: &DataType| t.model_name().is_none_or(|m| model_files.contains_key(m));
        let listed_subtypes: BTreeSet<(&str, &str)> = self
            .models()
            .flat_map(|(_, n, m)| m.sub_types.iter().map(move |s| (n, s.as_str())))
            .collect();
        for (res, decl) in &self.resources {
            let file = format!("api-docs/{res}.json");
            let mut nicknames = BTreeSet::new();
            for (ai, api) in decl.apis.iter().enumerate() {
                for (oi, op) in api.operations.iter().enumerate() {
                    let at = format!("apis[{ai}].operations[{oi}]");
                    if !nicknames.insert(op.nickname.as_str()) {
                        return Err(SpecError::new(
                            file,
                            format!("{at}.nickname"),
                            format!("duplicate nickname `{}` in one resource", op.nickname),
                        ));
                    }
                    if !matches!(op.http_method.as_str(), "GET" | "POST" | "PUT" | "DELETE") {
                        return Err(SpecError::new(
                            file,
                            format!("{at}.httpMethod"),
                            format!("unsupported HTTP method `{}`", op.http_method),
                        ));
                    }
                    let rt = DataType::parse(&op.response_class)
                        .map_err(|p| SpecError::new(&file, format!("{at}.responseClass"), p))?;
                    if !known(&rt) {
                        return Err(missing_model(&file, format!("{at}.responseClass"), &rt));
                    }
                    let mut seen = BTreeSet::new();
                    for (pi, p) in op.parameters.iter().enumerate() {
                        let pat = format!("{at}.parameters[{pi}]");
                        if !seen.insert(p.name.as_str()) {
                            return Err(SpecError::new(
                                file,
                                format!("{pat}.name"),
                                format!("duplicate parameter `{}`", p.name),
                            ));
                        }
                        let t = DataType::parse(&p.data_type)
                            .map_err(|e| SpecError::new(&file, format!("{pat}.dataType"), e))?;
                        if !known(&t) {
                            return Err(missing_model(&file, format!("{pat}.dataType"), &t));
                        }
                        match p.param_type.as_str() {
                            "path" => {
                                if !api.path.contains(&format!("{{{}}}", p.name)) {
                                    return Err(SpecError::new(
                                        file,
                                        format!("{pat}.name"),
                                        format!(
                                            "path parameter `{}` does not occur in `{}`",
                                            p.name, api.path
                                        ),
                                    ));
                                }
                            }
                            "query" | "body" => {}
                            other => {
                                return Err(SpecError::new(
                                    file,
                                    format!("{pat}.paramType"),
                                    format!("unsupported paramType `{other}`"),
                                ));
                            }
                        }
                        if let Some(av) = &p.allowable_values {
                            check_allowable(&file, &format!("{pat}.allowableValues"), av)?;
                        }
                    }
                }
            }
            for (name, model) in &decl.models {
                check_extends(&file, name, model, &listed_subtypes)?;
                let mut props = BTreeSet::new();
                for (prop, p) in &model.properties {
                    if !props.insert(prop.as_str()) {
                        return Err(SpecError::new(
                            file,
                            format!("models.{name}.properties.{prop}"),
                            format!("property `{prop}` is listed twice"),
                        ));
                    }
                    let pat = format!("models.{name}.properties.{prop}.type");
                    let t = DataType::parse(&p.data_type)
                        .map_err(|e| SpecError::new(&file, &pat, e))?;
                    if !known(&t) {
                        return Err(missing_model(&file, pat, &t));
                    }
                    if let Some(av) = &p.allowable_values {
                        let at = format!("models.{name}.properties.{prop}.allowableValues");
                        check_allowable(&file, &at, av)?;
                    }
                }
                for (i, sub) in model.sub_types.iter().enumerate() {
                    if !model_files.contains_key(sub.as_str()) {
                        return Err(SpecError::new(
                            file,
                            format!("models.{name}.subTypes[{i}]"),
                            format!("reference to missing model `{sub}`"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The rule for `extends`, which 12.0.0–12.6.0 put on three recording events besides listing them
/// in `Event`'s `subTypes`: the hierarchy is read from `subTypes` alone, and `extends` must agree
/// with it (name a model that lists this one as a subtype), so that ignoring it loses nothing.
fn check_extends(
    file: &str,
    name: &str,
    model: &crate::swagger::Model,
    listed_subtypes: &BTreeSet<(&str, &str)>,
) -> Result<(), SpecError> {
    let Some(parent) = model.extra.get("extends") else {
        return Ok(());
    };
    let at = format!("models.{name}.extends");
    let Some(parent) = parent.as_str() else {
        return Err(SpecError::new(file, at, "`extends` is not a model name"));
    };
    if listed_subtypes.contains(&(parent, name)) {
        Ok(())
    } else {
        Err(SpecError::new(
            file,
            at,
            format!("extends `{parent}`, whose `subTypes` do not list `{name}`"),
        ))
    }
}

fn missing_model(file: &str, path: String, t: &DataType) -> SpecError {
    SpecError::new(
        file,
        path,
        format!(
            "reference to missing model `{}`",
            t.model_name().unwrap_or_default()
        ),
    )
}

fn check_allowable(
    file: &str,
    at: &str,
    av: &crate::swagger::AllowableValues,
) -> Result<(), SpecError> {
    match av.value_type.as_str() {
        "LIST" if av.values.as_ref().is_some_and(|v| !v.is_empty()) => Ok(()),
        "LIST" => Err(SpecError::new(file, at, "LIST without values")),
        "RANGE" => {
            let num = |v: &Option<serde_json::Value>| v.as_ref().is_none_or(|v| v.is_number());
            if (av.min.is_none() && av.max.is_none()) || !num(&av.min) || !num(&av.max) {
                Err(SpecError::new(file, at, "RANGE needs a numeric min or max"))
            } else {
                Ok(())
            }
        }
        other => Err(SpecError::new(
            file,
            format!("{at}.valueType"),
            format!("unknown valueType `{other}`"),
        )),
    }
}

/// Parses JSON, turning serde's error into one that names the file and the JSON path.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    file: &str,
    bytes: &[u8],
) -> Result<T, SpecError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let problem = if inner.is_syntax() || inner.is_eof() {
            format!("invalid JSON: {inner}")
        } else {
            inner.to_string()
        };
        SpecError::new(
            file,
            if path == "." { String::new() } else { path },
            problem,
        )
    })
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ARI {} ({} resources)",
            self.listing.api_version,
            self.resources.len()
        )
    }
}
