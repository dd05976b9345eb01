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

/// The most bytes one spec file may have. Asterisk's largest file (`channels.json`) is about
/// 150 KB; the cap only keeps a hostile source from filling memory.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The most declaration files `resources.json` may list (Asterisk lists about 20).
pub const MAX_RESOURCES: usize = 1024;

/// The most bytes all files of one revision may have together.
pub const MAX_REVISION_BYTES: u64 = 256 * 1024 * 1024;

/// The deepest inheritance chain (`subTypes`/`extends`) a model may sit in. Asterisk's deepest is
/// `Message` -> `Event` -> each event; every level copies its fields into the levels below, so a
/// bound keeps the generated code linear in the spec's size.
pub const MAX_INHERITANCE_DEPTH: usize = 16;

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
        // Callers pass `resources.json` or a name `checked_resource_name` accepted; checked again
        // here because `Source` is public.
        if let Err(problem) = check_relative(file) {
            return Err(SpecError::new(file, "", problem));
        }
        let path = self.root.join(file);
        let shown = path.display().to_string();
        let fail = |problem: String| SpecError::new(&shown, "", problem);
        // A symlink inside the folder may point anywhere: resolve both and compare.
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| fail(format!("the spec folder cannot be resolved: {e}")))?;
        let real = std::fs::canonicalize(&path).map_err(|e| fail(e.to_string()))?;
        if !real.starts_with(&root) {
            return Err(fail(format!(
                "resolves to {}, outside the spec folder {}",
                real.display(),
                root.display()
            )));
        }
        if !real.is_file() {
            return Err(fail("is not a regular file".to_owned()));
        }
        read_bounded(&real).map_err(fail)
    }
}

/// Reads at most [`MAX_FILE_BYTES`]; a longer file is an error, not a truncation.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("is larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(bytes)
}

/// Checks a path that must stay inside the spec folder on every OS: relative, no `..` or `.`
/// segment, no backslash (a separator on Windows), no drive letter, no NUL.
pub(crate) fn check_relative(file: &str) -> Result<(), String> {
    if file.is_empty() {
        return Err("the path is empty".to_owned());
    }
    if file.contains('\0') {
        return Err(format!("`{}` contains a NUL byte", file.escape_debug()));
    }
    if file.contains('\\') {
        return Err(format!(
            "`{file}` contains a backslash, a path separator on Windows"
        ));
    }
    if file.starts_with('/') {
        return Err(format!("`{file}` is an absolute path"));
    }
    for seg in file.split('/') {
        if seg == ".." || seg == "." || seg.is_empty() {
            return Err(format!(
                "`{file}` has a `{seg}` segment; paths must stay inside the spec folder"
            ));
        }
        if seg.len() >= 2 && seg.as_bytes()[1] == b':' && seg.as_bytes()[0].is_ascii_alphabetic() {
            return Err(format!("`{file}` names a Windows drive"));
        }
        if seg.contains(':') {
            return Err(format!(
                "`{file}` contains `:` (a drive or stream separator on Windows)"
            ));
        }
    }
    Ok(())
}

/// The resource name an entry of `resources.json` points at, checked so that the file it names
/// (`api-docs/<name>.json`) can only be inside the spec folder, on any OS.
///
/// Asterisk writes `/api-docs/<name>.{format}`; `<name>.json` and `api-docs/<name>.json` are
/// accepted too. The name is letters, digits, `_` and `-`.
pub fn checked_resource_name(path: &str) -> Result<&str, String> {
    if path.contains('\0') {
        return Err(format!("`{}` contains a NUL byte", path.escape_debug()));
    }
    if path.contains('\\') {
        return Err(format!(
            "`{path}` contains a backslash, a path separator on Windows"
        ));
    }
    if path.split('/').any(|s| s == "..") {
        return Err(format!(
            "`{path}` has a `..` segment; declaration files must be inside the spec folder"
        ));
    }
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    if !matches!(dir, "" | "/api-docs" | "api-docs") {
        return Err(if dir.starts_with('/') {
            format!("`{path}` is an absolute path outside /api-docs/")
        } else {
            format!("`{path}` is outside api-docs/")
        });
    }
    if file.len() >= 2 && file.as_bytes()[1] == b':' && file.as_bytes()[0].is_ascii_alphabetic() {
        return Err(format!("`{path}` names a Windows drive"));
    }
    let name = file
        .strip_suffix(".{format}")
        .or_else(|| file.strip_suffix(".json"))
        .ok_or_else(|| format!("`{path}` ends in neither `.{{format}}` nor `.json`"))?;
    if name.is_empty() {
        return Err(format!("`{path}` names no declaration file"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "resource name `{}` may hold only ASCII letters, digits, `_` and `-`",
            name.escape_debug()
        ));
    }
    Ok(name)
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
        let names = listed_names(&listing)?;
        let mut total = listing_bytes.len() as u64;
        for name in names {
            let file = format!("api-docs/{name}.json");
            let bytes = source.fetch(&file)?;
            if bytes.len() as u64 > MAX_FILE_BYTES {
                return Err(SpecError::new(
                    file,
                    "",
                    format!("is larger than {MAX_FILE_BYTES} bytes"),
                ));
            }
            total += bytes.len() as u64;
            if total > MAX_REVISION_BYTES {
                return Err(SpecError::new(
                    file,
                    "",
                    format!("the revision's files together exceed {MAX_REVISION_BYTES} bytes"),
                ));
            }
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

/// The resource names `resources.json` lists, each checked ([`checked_resource_name`]), at most
/// [`MAX_RESOURCES`] of them, none twice.
fn listed_names(listing: &ResourceListing) -> Result<Vec<&str>, SpecError> {
    if listing.apis.len() > MAX_RESOURCES {
        return Err(SpecError::new(
            "resources.json",
            "apis",
            format!(
                "lists {} declaration files; at most {MAX_RESOURCES} are accepted",
                listing.apis.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, entry) in listing.apis.iter().enumerate() {
        let at = format!("apis[{i}].path");
        let name = checked_resource_name(&entry.path)
            .map_err(|p| SpecError::new("resources.json", &at, p))?;
        if !seen.insert(name) {
            return Err(SpecError::new(
                "resources.json",
                at,
                format!("resource `{name}` is listed twice"),
            ));
        }
        out.push(name);
    }
    Ok(out)
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
        for name in listed_names(&listing)? {
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
        // A visited set: a cycle (refused by `check`, but `Revision`'s fields are public) or a
        // model reached twice is walked once.
        let mut out = BTreeSet::new();
        let mut stack = vec!["Event"];
        while let Some(m) = stack.pop() {
            if let Some(subs) = subtypes.get(m) {
                for s in subs.iter() {
                    if out.insert(s.clone()) {
                        stack.push(s);
                    }
                }
            }
        }
        out.into_iter().collect()
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
                if !crate::swagger::is_model_name(name) {
                    return Err(SpecError::new(
                        file,
                        format!("models.{}", name.escape_debug()),
                        format!(
                            "model name `{}` is not an ASCII capital letter followed by ASCII letters, digits and `_`",
                            name.escape_debug()
                        ),
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
        self.check_inheritance(&model_files)
    }
}

impl Revision {
    /// The parents of every model: the models whose `subTypes` list it, and the one its
    /// `extends` names (the 12.x-15.x files).
    /// Each entry is (parent, JSON path of the reference, file that holds the reference).
    fn parents(&self) -> BTreeMap<&str, Vec<(&str, String, String)>> {
        let mut parents: BTreeMap<&str, Vec<(&str, String, String)>> = BTreeMap::new();
        for (res, decl) in &self.resources {
            let file = format!("api-docs/{res}.json");
            for (name, model) in &decl.models {
                for (i, sub) in model.sub_types.iter().enumerate() {
                    parents.entry(sub.as_str()).or_default().push((
                        name.as_str(),
                        format!("models.{name}.subTypes[{i}]"),
                        file.clone(),
                    ));
                }
                if let Some(serde_json::Value::String(base)) = model.extra.get("extends") {
                    parents.entry(name.as_str()).or_default().push((
                        base.as_str(),
                        format!("models.{name}.extends"),
                        file.clone(),
                    ));
                }
            }
        }
        parents
    }

    /// Refuses a cycle through `subTypes`/`extends` and an inheritance chain deeper than
    /// [`MAX_INHERITANCE_DEPTH`]. Iterative, and each model is finished once: linear time, no
    /// recursion whatever the input.
    fn check_inheritance(&self, model_files: &BTreeMap<&str, &str>) -> Result<(), SpecError> {
        let parents = self.parents();
        // depth of each finished model: 1 for a model without parents
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        let mut on_path: BTreeSet<&str> = BTreeSet::new();
        for start in model_files.keys().copied() {
            if depth.contains_key(start) {
                continue;
            }
            // (model, index of the next parent to visit)
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            on_path.insert(start);
            while let Some(&mut (m, ref mut next)) = stack.last_mut() {
                let ps = parents.get(m).map(Vec::as_slice).unwrap_or_default();
                if let Some((p, at, file)) = ps.get(*next) {
                    *next += 1;
                    if on_path.contains(p) {
                        let mut cycle: Vec<&str> = stack
                            .iter()
                            .map(|(n, _)| *n)
                            .skip_while(|n| n != p)
                            .collect();
                        cycle.push(p);
                        cycle.reverse();
                        return Err(SpecError::new(
                            file.clone(),
                            at.clone(),
                            format!(
                                "the subTypes/extends of the models form a cycle: {}",
                                cycle.join(" -> ")
                            ),
                        ));
                    }
                    if !depth.contains_key(p) && model_files.contains_key(p) {
                        on_path.insert(p);
                        stack.push((p, 0));
                    }
                    continue;
                }
                let d = 1 + ps
                    .iter()
                    .filter_map(|(p, _, _)| depth.get(p))
                    .max()
                    .copied()
                    .unwrap_or(0);
                if d > MAX_INHERITANCE_DEPTH {
                    let res = model_files.get(m).copied().unwrap_or("?");
                    return Err(SpecError::new(
                        format!("api-docs/{res}.json"),
                        format!("models.{m}"),
                        format!(
                            "`{m}` sits {d} levels deep in subTypes/extends; at most {MAX_INHERITANCE_DEPTH} are accepted"
                        ),
                    ));
                }
                depth.insert(m, d);
                on_path.remove(m);
                stack.pop();
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
