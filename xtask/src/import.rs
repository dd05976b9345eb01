//! `cargo xtask import`: adds a release to the spec corpus.
//!
//! ```text
//! cargo xtask import --from <DIR|URL> [--release X.Y.Z] [--user U --password P]
//!                    [--corpus DIR] [--no-codegen] [--force]
//! ```
//!
//! `--from` is an Asterisk source tree (a folder holding `rest-api/`), a `rest-api/` folder (or
//! any folder holding `resources.json` and `api-docs/`), or the ARI root of a live server such as
//! `http://127.0.0.1:8088/ari` (basic auth; `--user`/`--password`, else `$ARI_USER`/
//! `$ARI_PASSWORD`, else `asterisk`/`asterisk`).
//!
//! The release is `--release`, else a live server's `GET /ari/asterisk/info` `system.version`
//! (Debian forms such as `22.10.1+dfsg+~cs6.17.60671434-1` are understood), else the `.version`
//! file at the root of a source tree.
//!
//! The files are parsed and checked first (`Revision::parse`); a broken spec is reported with
//! the file, the JSON path and the problem, and nothing is written. Then:
//!
//! - if they equal the files of a revision already in the corpus — compared as parsed JSON with
//!   each file's top-level `basePath` left out, because every server writes its own — only the
//!   release's row in `releases.tsv` is added, pointing at that revision;
//! - otherwise they are written, byte for byte as fetched, to a new revision folder named after
//!   the release, and the row points at it. Files fetched from a live server carry that server's
//!   `basePath` (e.g. `http://127.0.0.1:8088/ari` instead of upstream's
//!   `http://localhost:8088/ari`); nothing reads `basePath`, so that is harmless.
//!
//! A release already in `releases.tsv` whose revision has identical files is a no-op. If the
//! files differ, the import fails unless `--force`, which repoints the row (or rewrites the
//! folder, when only this release uses it). `releases.tsv` stays sorted by release. Finally the
//! bindings are regenerated (`cargo xtask codegen` with the same corpus) unless `--no-codegen`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use ari_spec::http::HttpSource;
use ari_spec::{Corpus, DirSource, RawRevision, Release, ReleaseEntry, Source};
use serde_json::Value;

/// Arguments of `cargo xtask import`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// An Asterisk source tree, its `rest-api/` folder, or a live server's ARI root
    /// (`http://127.0.0.1:8088/ari`).
    #[arg(long, value_name = "DIR|URL")]
    pub from: String,
    /// The release the files belong to (default: the server's version, or the source tree's
    /// `.version` file).
    #[arg(long, value_name = "X.Y.Z")]
    pub release: Option<Release>,
    /// ARI user for a live server (default: `$ARI_USER`, else `asterisk`).
    #[arg(long)]
    pub user: Option<String>,
    /// ARI password for a live server (default: `$ARI_PASSWORD`, else `asterisk`).
    #[arg(long)]
    pub password: Option<String>,
    /// Corpus folder (default: the vendored `ari-spec/corpus`).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Do not regenerate the bindings afterwards.
    #[arg(long)]
    pub no_codegen: bool,
    /// Replace what the corpus has for the release when the files differ.
    #[arg(long)]
    pub force: bool,
}

/// A revision's files as fetched, with the release they belong to.
#[derive(Debug)]
pub struct Fetched {
    /// The files, byte for byte.
    pub raw: RawRevision,
    /// The release they belong to.
    pub release: Release,
    /// Where they came from, for messages.
    pub origin: String,
    /// How the release was determined, for messages.
    pub release_from: String,
}

/// What an import did to the corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The release was present and its revision has the same files: nothing changed.
    Unchanged,
    /// A row was added, pointing at an existing revision.
    RowAdded,
    /// The release's row now points at another existing revision (`--force`).
    RowChanged {
        /// The revision it pointed at before.
        previous: String,
    },
    /// A new revision folder was written and the release's row points at it.
    RevisionWritten {
        /// How many files were written.
        files: usize,
        /// The revision the row pointed at before, if the release was present (`--force`).
        previous: Option<String>,
    },
}

/// The result of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The imported release.
    pub release: Release,
    /// The revision folder the release now ships.
    pub revision: String,
    /// What was done.
    pub action: Action,
    /// A revision folder that no release uses any more and that was therefore removed.
    pub removed_folder: Option<String>,
}

impl Outcome {
    /// Whether the corpus changed.
    pub fn changed(&self) -> bool {
        self.action != Action::Unchanged
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rel, rev) = (self.release, &self.revision);
        match &self.action {
            Action::Unchanged => write!(
                f,
                "release {rel} is already in the corpus with identical files (revision {rev}): \
                 nothing to do"
            )?,
            Action::RowAdded => write!(
                f,
                "release {rel} ships the same files as revision {rev} (ignoring basePath): \
                 added the row {rel} -> {rev} to releases.tsv"
            )?,
            Action::RowChanged { previous } => write!(
                f,
                "release {rel} ships the same files as revision {rev} (ignoring basePath): \
                 changed its row in releases.tsv from {previous} to {rev}"
            )?,
            Action::RevisionWritten { files, previous } => {
                write!(f, "wrote revision folder {rev}/ ({files} files)")?;
                match previous {
                    None => write!(f, " and added the row {rel} -> {rev} to releases.tsv")?,
                    Some(p) if p == rev => write!(f, ", replacing the previous files")?,
                    Some(p) => write!(f, " and changed the row of {rel} from {p} to {rev}")?,
                }
            }
        }
        if let Some(gone) = &self.removed_folder {
            write!(
                f,
                "; removed revision folder {gone}/, which no release uses any more"
            )?;
        }
        Ok(())
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let corpus_dir = args.corpus.clone().unwrap_or_else(Corpus::vendored_dir);
    let fetched = fetch(&args)?;
    eprintln!(
        "fetched {} files from {} (release {}, {})",
        fetched.raw.files.len(),
        fetched.origin,
        fetched.release,
        fetched.release_from
    );
    let outcome = import(
        &corpus_dir,
        fetched.release,
        &fetched.raw,
        &fetched.origin,
        args.force,
    )?;
    println!("{outcome}");
    if matches!(outcome.action, Action::RevisionWritten { .. })
        && fetched.origin.starts_with("http")
    {
        println!(
            "note: the files are as the server served them, so their basePath is {}'s, not \
             upstream's http://localhost:8088/ari (nothing reads basePath)",
            fetched.origin
        );
    }
    if args.no_codegen {
        println!("bindings not regenerated (--no-codegen)");
    } else if !outcome.changed() {
        println!("bindings not regenerated (the corpus did not change)");
    } else {
        crate::codegen::run(crate::codegen::Args {
            check: false,
            corpus: Some(corpus_dir),
        })?;
        println!("regenerated the bindings");
    }
    Ok(())
}

/// Fetches the files and determines the release, as the arguments say.
pub fn fetch(args: &Args) -> anyhow::Result<Fetched> {
    let from = args.from.trim();
    if from.starts_with("https://") {
        bail!(
            "--from {from}: https is not supported here (xtask builds ari-spec without TLS); \
             use the server's plain http:// address"
        );
    }
    if from.starts_with("http://") {
        let base = from.trim_end_matches('/');
        let user = credential(args.user.as_deref(), "ARI_USER");
        let password = credential(args.password.as_deref(), "ARI_PASSWORD");
        let (release, release_from) = match args.release {
            Some(r) => (r, "from --release".to_owned()),
            None => {
                let version = server_version(base, &user, &password)?;
                let release = parse_version(&version).ok_or_else(|| {
                    anyhow!(
                        "{base}/asterisk/info reports version `{version}`, which is no release \
                         like 22.10.1: pass --release X.Y.Z"
                    )
                })?;
                (release, format!("the server reports `{version}`"))
            }
        };
        let source = HttpSource::new(base).with_auth(&user, &password);
        let raw = RawRevision::fetch(&source)
            .map_err(|e| anyhow!("fetching the spec from {base} failed: {e}"))?;
        return Ok(Fetched {
            raw,
            release,
            origin: base.to_owned(),
            release_from,
        });
    }
    let dir = Path::new(from);
    if !dir.is_dir() {
        bail!(
            "--from {from}: no such folder (expected an Asterisk source tree, a rest-api/ folder or an http:// URL)"
        );
    }
    let source = DirSource::new(dir);
    if !source.root().join("resources.json").is_file() {
        bail!(
            "--from {from}: neither {} nor {} exists",
            dir.join("resources.json").display(),
            dir.join("rest-api/resources.json").display()
        );
    }
    let (release, release_from) = match args.release {
        Some(r) => (r, "from --release".to_owned()),
        None => version_file_release(dir, source.root())?,
    };
    let raw = RawRevision::fetch(&source)
        .map_err(|e| anyhow!("reading the spec from {} failed: {e}", source.describe()))?;
    Ok(Fetched {
        raw,
        release,
        origin: source.describe(),
        release_from,
    })
}

/// A credential: the flag, else the environment variable, else `asterisk`.
fn credential(flag: Option<&str>, env: &str) -> String {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "asterisk".to_owned())
}

/// The release named by the `.version` file at the root of the source tree that `dir` is or is
/// the `rest-api/` folder of.
fn version_file_release(dir: &Path, root: &Path) -> anyhow::Result<(Release, String)> {
    let tree = if root != dir {
        Some(dir.to_path_buf()) // `dir` is the tree, `root` its rest-api/
    } else if dir.file_name().is_some_and(|n| n == "rest-api") {
        dir.parent().map(Path::to_path_buf)
    } else {
        None
    };
    let Some(file) = tree.map(|t| t.join(".version")).filter(|f| f.is_file()) else {
        bail!(
            "which release is {}? There is no Asterisk source tree .version file next to it: \
             pass --release X.Y.Z",
            dir.display()
        );
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let version = text.trim();
    let release = parse_version(version).ok_or_else(|| {
        anyhow!(
            "{} says `{version}`, which is no release like 22.10.1: pass --release X.Y.Z",
            file.display()
        )
    })?;
    Ok((release, format!("{} says `{version}`", file.display())))
}

/// Asks a live server for its version: `GET {base}/asterisk/info`, `system.version`.
fn server_version(base: &str, user: &str, password: &str) -> anyhow::Result<String> {
    use base64::Engine as _;
    let url = format!("{base}/asterisk/info");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut resp = agent
        .get(&url)
        .header("Authorization", format!("Basic {token}"))
        .call()
        .map_err(|e| anyhow!("GET {url} failed: {e}"))?;
    let status = resp.status();
    if status == 401 {
        bail!(
            "GET {url}: the server answered 401 Unauthorized for user `{user}`: pass --user and \
             --password (or set ARI_USER and ARI_PASSWORD)"
        );
    }
    if !status.is_success() {
        bail!("GET {url}: the server answered {status}");
    }
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(1024 * 1024)
        .read_to_end(&mut body)
        .map_err(|e| anyhow!("GET {url}: reading the body failed: {e}"))?;
    let info: Value = serde_json::from_slice(&body)
        .map_err(|e| anyhow!("GET {url}: the body is no JSON: {e}"))?;
    info.pointer("/system/version")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("GET {url}: the answer has no string `system.version`"))
}

/// Reads a release number out of a version string as Asterisk or a distribution prints it:
/// `22.10.1`, `22.10.1+dfsg+~cs6.17.60671434-1`, `1:16.28.0~dfsg-0+deb11u4`. Pre-releases and
/// other builds (`22.10.1-rc1`, `certified/18.9-cert1`, `GIT-master-abc`) give `None`.
pub fn parse_version(version: &str) -> Option<Release> {
    let v = version.trim();
    // A Debian epoch, `1:`.
    let v = match v.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => v,
    };
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, rest) = v.split_at(end);
    let release: Release = number.parse().ok()?;
    let mut rest_chars = rest.chars();
    let suffix_ok = match rest_chars.next() {
        None | Some('+') | Some('~') => true,
        // A Debian revision (`-1`), not a pre-release (`-rc1`).
        Some('-') => rest_chars.next().is_some_and(|c| c.is_ascii_digit()),
        Some(_) => false,
    };
    suffix_ok.then_some(release)
}

/// Each file parsed as JSON, with the top-level `basePath` key removed.
fn without_base_path(raw: &RawRevision) -> anyhow::Result<BTreeMap<&str, Value>> {
    raw.files
        .iter()
        .map(|(file, bytes)| {
            let mut v: Value =
                serde_json::from_slice(bytes).with_context(|| format!("{file}: invalid JSON"))?;
            if let Some(obj) = v.as_object_mut() {
                obj.remove("basePath");
            }
            Ok((file.as_str(), v))
        })
        .collect()
}

/// Adds `release` with the files `raw` (from `origin`, for messages) to the corpus in
/// `corpus_dir`, as the module documentation describes. Nothing is written when it fails.
pub fn import(
    corpus_dir: &Path,
    release: Release,
    raw: &RawRevision,
    origin: &str,
    force: bool,
) -> anyhow::Result<Outcome> {
    ari_spec::fixups::parse_fixed(raw)
        .map_err(|e| anyhow!("the spec from {origin} is broken, nothing was written: {e}"))?;
    let mut releases = Corpus::read_release_map(corpus_dir)?;
    let fetched = without_base_path(raw)?;

    // The revisions in use, in the order of the releases that first ship them.
    let mut names: Vec<&str> = Vec::new();
    for e in &releases {
        if !names.contains(&e.revision.as_str()) {
            names.push(&e.revision);
        }
    }
    let mut matches = Vec::new();
    for name in &names {
        let dir = corpus_dir.join(name);
        let existing = RawRevision::fetch(&DirSource::new(&dir))
            .map_err(|e| anyhow!("reading corpus revision {}: {e}", dir.display()))?;
        if without_base_path(&existing)
            .with_context(|| format!("reading corpus revision {}", dir.display()))?
            == fetched
        {
            matches.push(name.to_string());
        }
    }
    let current = releases
        .iter()
        .find(|e| e.release == release)
        .map(|e| e.revision.clone());
    let users = |rev: &str, releases: &[ReleaseEntry]| -> Vec<Release> {
        releases
            .iter()
            .filter(|e| e.revision == rev && e.release != release)
            .map(|e| e.release)
            .collect()
    };

    if let Some(cur) = &current
        && matches.contains(cur)
    {
        return Ok(Outcome {
            release,
            revision: cur.clone(),
            action: Action::Unchanged,
            removed_folder: None,
        });
    }
    if let Some(cur) = &current
        && !force
    {
        let what = match matches.first() {
            Some(m) => format!("equal those of revision {m}"),
            None => "match no revision of the corpus".to_owned(),
        };
        bail!(
            "release {release} is already in the corpus with revision {cur}, but the files from \
             {origin} differ from it (they {what}); pass --force to replace it"
        );
    }

    let (revision, action) = if let Some(m) = matches.first() {
        let action = match &current {
            Some(previous) => Action::RowChanged {
                previous: previous.clone(),
            },
            None => Action::RowAdded,
        };
        (m.clone(), action)
    } else {
        let name = release.to_string();
        let folder = corpus_dir.join(&name);
        let shared = users(&name, &releases);
        if !shared.is_empty() {
            let list: Vec<String> = shared.iter().map(Release::to_string).collect();
            bail!(
                "the files from {origin} are a new revision, which would go to {}, but that \
                 folder holds the revision of releases {} too; remove or repoint those rows \
                 first",
                folder.display(),
                list.join(", ")
            );
        }
        if folder.exists() && !force && current.as_deref() != Some(name.as_str()) {
            bail!(
                "{} already exists though releases.tsv does not use it; remove it or pass \
                 --force to replace it",
                folder.display()
            );
        }
        write_folder(corpus_dir, &name, raw)?;
        let action = Action::RevisionWritten {
            files: raw.files.len(),
            previous: current.clone(),
        };
        (name, action)
    };

    match releases.iter_mut().find(|e| e.release == release) {
        Some(e) => e.revision = revision.clone(),
        None => releases.push(ReleaseEntry {
            release,
            revision: revision.clone(),
        }),
    }
    write_release_map(corpus_dir, &releases)?;

    // The previous revision of a repointed release may now be used by nobody.
    let mut removed_folder = None;
    if let Some(prev) = current
        && prev != revision
        && !releases.iter().any(|e| e.revision == prev)
    {
        let dir = corpus_dir.join(&prev);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the unused folder {}", dir.display()))?;
            removed_folder = Some(prev);
        }
    }
    Ok(Outcome {
        release,
        revision,
        action,
        removed_folder,
    })
}

/// Writes a revision folder: first to a temporary sibling, then renamed into place, so a failure
/// leaves no half-written revision.
fn write_folder(corpus_dir: &Path, name: &str, raw: &RawRevision) -> anyhow::Result<()> {
    let folder = corpus_dir.join(name);
    let tmp = corpus_dir.join(format!(".import-{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    raw.write_to(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("removing {}", folder.display()))?;
    }
    std::fs::rename(&tmp, &folder)
        .with_context(|| format!("renaming {} to {}", tmp.display(), folder.display()))
}

/// Writes `releases.tsv`, sorted by release, through a temporary file.
fn write_release_map(corpus_dir: &Path, releases: &[ReleaseEntry]) -> anyhow::Result<()> {
    let mut sorted: Vec<&ReleaseEntry> = releases.iter().collect();
    sorted.sort_by_key(|e| e.release);
    let mut seen = BTreeSet::new();
    let mut text = String::from("release\trevision\n");
    for e in sorted {
        if !seen.insert(e.release) {
            bail!("release {} would be listed twice", e.release);
        }
        text.push_str(&format!("{}\t{}\n", e.release, e.revision));
    }
    let path = corpus_dir.join("releases.tsv");
    let tmp = corpus_dir.join(".releases.tsv.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Whether two revisions have the same files with the same JSON content, ignoring each file's
    /// top-level `basePath`.
    fn same_ignoring_base_path(a: &RawRevision, b: &RawRevision) -> anyhow::Result<bool> {
        Ok(without_base_path(a)? == without_base_path(b)?)
    }

    /// A fresh folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir()
                .join(format!("ari-xtask-import-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    /// A temp copy of the vendored corpus.
    fn corpus_copy() -> TempDir {
        let t = TempDir::new("corpus");
        copy_tree(&Corpus::vendored_dir(), &t.0);
        t
    }

    /// A temp copy of one vendored revision folder.
    fn revision_copy(name: &str) -> TempDir {
        let t = TempDir::new("from");
        copy_tree(&Corpus::vendored_dir().join(name), &t.0);
        t
    }

    fn args(from: &Path, release: Option<&str>, corpus: &Path) -> Args {
        Args {
            from: from.display().to_string(),
            release: release.map(|r| r.parse().unwrap()),
            user: None,
            password: None,
            corpus: Some(corpus.to_path_buf()),
            no_codegen: true,
            force: false,
        }
    }

    fn fetch_and_import(a: &Args) -> anyhow::Result<Outcome> {
        let f = fetch(a)?;
        import(
            a.corpus.as_deref().unwrap(),
            f.release,
            &f.raw,
            &f.origin,
            a.force,
        )
    }

    fn rel(s: &str) -> Release {
        s.parse().unwrap()
    }

    fn row(corpus: &Path, release: &str) -> Option<String> {
        Corpus::read_release_map(corpus)
            .unwrap()
            .into_iter()
            .find(|e| e.release == rel(release))
            .map(|e| e.revision)
    }

    fn read_tsv(corpus: &Path) -> String {
        std::fs::read_to_string(corpus.join("releases.tsv")).unwrap()
    }

    fn folders(corpus: &Path) -> BTreeSet<String> {
        std::fs::read_dir(corpus)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Edits one JSON file of a revision folder.
    fn edit_json(dir: &Path, file: &str, f: impl FnOnce(&mut Value)) {
        let path = dir.join(file);
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    /// Adds `POST /channels/{channelId}/frobnicate` (nickname `frobnicate`) to channels.json.
    fn add_operation(dir: &Path, nickname: &str) {
        edit_json(dir, "api-docs/channels.json", |v| {
            let api = serde_json::json!({
                "path": format!("/channels/{{channelId}}/{nickname}"),
                "description": "Test operation",
                "operations": [{
                    "httpMethod": "POST",
                    "nickname": nickname,
                    "summary": "Does a test thing.",
                    "responseClass": "void",
                    "parameters": [{
                        "name": "channelId", "paramType": "path", "required": true,
                        "allowMultiple": false, "dataType": "string"
                    }]
                }]
            });
            v["apis"].as_array_mut().unwrap().push(api);
        });
    }

    #[test]
    fn versions_parse() {
        for (s, want) in [
            ("22.10.1", Some("22.10.1")),
            ("22.10.1+dfsg+~cs6.17.60671434-1", Some("22.10.1")),
            ("16.28.0~dfsg-0+deb11u4", Some("16.28.0")),
            ("1:16.28.0~dfsg-0+deb11u4", Some("16.28.0")),
            ("20.5.2-1", Some("20.5.2")),
            (" 23.4.1\n", Some("23.4.1")),
            ("22.10.1-rc1", None),
            ("certified/18.9-cert1", None),
            ("GIT-master-3d2a1b", None),
            ("22.10", None),
            ("", None),
            ("99999.1.1", None),
        ] {
            assert_eq!(parse_version(s), want.map(rel), "{s:?}");
        }
    }

    #[test]
    fn base_path_is_ignored_but_content_is_not() {
        let dir = revision_copy("22.10.0");
        let a = RawRevision::fetch(&DirSource::new(&dir.0)).unwrap();
        edit_json(&dir.0, "resources.json", |v| {
            v["basePath"] = "http://127.0.0.1:8088/ari".into();
        });
        edit_json(&dir.0, "api-docs/channels.json", |v| {
            v["basePath"] = "http://127.0.0.1:8088/ari".into();
        });
        let b = RawRevision::fetch(&DirSource::new(&dir.0)).unwrap();
        assert_ne!(a, b, "the bytes differ");
        assert!(same_ignoring_base_path(&a, &b).unwrap());
        edit_json(&dir.0, "api-docs/channels.json", |v| {
            v["apis"][0]["operations"][0]["summary"] = "changed".into();
        });
        let c = RawRevision::fetch(&DirSource::new(&dir.0)).unwrap();
        assert!(!same_ignoring_base_path(&a, &c).unwrap());
        // A nested `basePath` is content, not the server's address.
        let mut d = a.clone();
        let file = d.files.get_mut("api-docs/sounds.json").unwrap();
        let mut v: Value = serde_json::from_slice(file).unwrap();
        v["models"]["Sound"]["basePath"] = "x".into();
        *file = serde_json::to_vec(&v).unwrap();
        assert!(!same_ignoring_base_path(&a, &d).unwrap());
    }

    /// Importing a corpus revision under a new release only adds a row, in numeric order.
    #[test]
    fn known_files_only_add_a_row() {
        let corpus = corpus_copy();
        let before_tsv = read_tsv(&corpus.0);
        let before_folders = folders(&corpus.0);
        let from = Corpus::vendored_dir().join("22.10.0");
        let out = fetch_and_import(&args(&from, Some("22.10.2"), &corpus.0)).unwrap();
        assert_eq!(
            out,
            Outcome {
                release: rel("22.10.2"),
                revision: "22.10.0".into(),
                action: Action::RowAdded,
                removed_folder: None,
            }
        );
        assert!(out.to_string().contains("added the row 22.10.2 -> 22.10.0"));
        assert_eq!(folders(&corpus.0), before_folders, "no folder written");
        let after = read_tsv(&corpus.0);
        let expected =
            before_tsv.replace("22.10.1\t22.10.0\n", "22.10.1\t22.10.0\n22.10.2\t22.10.0\n");
        assert_ne!(expected, before_tsv);
        assert_eq!(
            after, expected,
            "one row added after 22.10.1, rest untouched"
        );
        Corpus::load(&corpus.0).expect("the corpus still loads");

        // A release of an older line goes in numeric order: 16.9.7 after 16.9.0, before 16.10.0.
        let from16 = Corpus::vendored_dir().join("16.9.0");
        let before = read_tsv(&corpus.0);
        let out = fetch_and_import(&args(&from16, Some("16.9.7"), &corpus.0)).unwrap();
        assert_eq!(
            (out.action, out.revision.as_str()),
            (Action::RowAdded, "16.9.0")
        );
        let expected = before.replace("16.9.0\t16.9.0\n", "16.9.0\t16.9.0\n16.9.7\t16.9.0\n");
        assert_ne!(expected, before);
        assert_eq!(read_tsv(&corpus.0), expected);

        // Importing it again is a no-op that says so.
        let before = read_tsv(&corpus.0);
        let again = fetch_and_import(&args(&from, Some("22.10.2"), &corpus.0)).unwrap();
        assert_eq!(again.action, Action::Unchanged);
        assert!(again.to_string().contains("nothing to do"), "{again}");
        assert_eq!(read_tsv(&corpus.0), before);
    }

    /// Re-importing a release with the files it has is a no-op.
    #[test]
    fn present_release_with_same_files_is_a_no_op() {
        let corpus = corpus_copy();
        let before = read_tsv(&corpus.0);
        let from = Corpus::vendored_dir().join("22.10.0");
        let out = fetch_and_import(&args(&from, Some("22.10.1"), &corpus.0)).unwrap();
        assert_eq!(out.action, Action::Unchanged);
        assert_eq!(out.revision, "22.10.0");
        assert_eq!(read_tsv(&corpus.0), before);
    }

    /// New files become a new folder named after the release, byte for byte.
    #[test]
    fn changed_files_become_a_new_revision() {
        let corpus = corpus_copy();
        let from = revision_copy("22.10.0");
        add_operation(&from.0, "frobnicate");
        let before_rows = Corpus::read_release_map(&corpus.0).unwrap().len();
        let out = fetch_and_import(&args(&from.0, Some("22.11.7"), &corpus.0)).unwrap();
        assert_eq!(out.revision, "22.11.7");
        assert_eq!(
            out.action,
            Action::RevisionWritten {
                files: 12,
                previous: None
            }
        );
        assert!(out.to_string().contains("wrote revision folder 22.11.7/"));
        let src = RawRevision::fetch(&DirSource::new(&from.0)).unwrap();
        let written = RawRevision::fetch(&DirSource::new(corpus.0.join("22.11.7"))).unwrap();
        assert_eq!(src, written, "files are written byte for byte");
        assert_eq!(row(&corpus.0, "22.11.7").as_deref(), Some("22.11.7"));
        assert_eq!(
            Corpus::read_release_map(&corpus.0).unwrap().len(),
            before_rows + 1
        );
        assert!(
            !folders(&corpus.0).iter().any(|f| f.starts_with('.')),
            "no temporary folder left"
        );
        let loaded = Corpus::load(&corpus.0).expect("the corpus still loads");
        let index = loaded.availability();
        let item = ari_spec::Item::operation("channels", "frobnicate");
        assert_eq!(
            index.releases_of(&item).into_iter().collect::<Vec<_>>(),
            [rel("22.11.7")]
        );

        // Same files again: no-op. Different files: refused without --force.
        let again = fetch_and_import(&args(&from.0, Some("22.11.7"), &corpus.0)).unwrap();
        assert_eq!(again.action, Action::Unchanged);
        let other = revision_copy("22.10.0");
        add_operation(&other.0, "defrobnicate");
        let before = read_tsv(&corpus.0);
        let err = fetch_and_import(&args(&other.0, Some("22.11.7"), &corpus.0)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("already in the corpus") && msg.contains("--force"),
            "{msg}"
        );
        assert_eq!(read_tsv(&corpus.0), before);
        assert_eq!(
            RawRevision::fetch(&DirSource::new(corpus.0.join("22.11.7"))).unwrap(),
            src,
            "the folder is untouched"
        );

        // --force replaces the folder, which only this release uses.
        let mut forced = args(&other.0, Some("22.11.7"), &corpus.0);
        forced.force = true;
        let out = fetch_and_import(&forced).unwrap();
        assert_eq!(
            out.action,
            Action::RevisionWritten {
                files: 12,
                previous: Some("22.11.7".into())
            }
        );
        let written = RawRevision::fetch(&DirSource::new(corpus.0.join("22.11.7"))).unwrap();
        assert_eq!(
            written,
            RawRevision::fetch(&DirSource::new(&other.0)).unwrap()
        );

        // --force back to known files repoints the row and drops the unused folder.
        let mut back = args(
            &Corpus::vendored_dir().join("22.10.0"),
            Some("22.11.7"),
            &corpus.0,
        );
        back.force = true;
        let out = fetch_and_import(&back).unwrap();
        assert_eq!(
            out.action,
            Action::RowChanged {
                previous: "22.11.7".into()
            }
        );
        assert_eq!(out.removed_folder.as_deref(), Some("22.11.7"));
        assert!(!corpus.0.join("22.11.7").exists());
        assert_eq!(row(&corpus.0, "22.11.7").as_deref(), Some("22.10.0"));
    }

    /// Different files for a release whose folder other releases share are refused, even with
    /// --force, and different files are refused without --force.
    #[test]
    fn shared_revision_is_never_overwritten() {
        let corpus = corpus_copy();
        let from = revision_copy("22.10.0");
        add_operation(&from.0, "frobnicate");
        let before = read_tsv(&corpus.0);
        let err = fetch_and_import(&args(&from.0, Some("22.10.0"), &corpus.0)).unwrap_err();
        assert!(format!("{err:#}").contains("--force"), "{err:#}");
        let mut forced = args(&from.0, Some("22.10.0"), &corpus.0);
        forced.force = true;
        let err = fetch_and_import(&forced).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("22.10.1"), "names the sharing release: {msg}");
        assert_eq!(read_tsv(&corpus.0), before);
        let vendored = RawRevision::fetch(&DirSource::new(Corpus::vendored_dir().join("22.10.0")));
        assert_eq!(
            RawRevision::fetch(&DirSource::new(corpus.0.join("22.10.0"))).unwrap(),
            vendored.unwrap()
        );
    }

    /// A broken spec is reported with file, JSON path and problem, and nothing is written.
    #[test]
    fn broken_spec_writes_nothing() {
        let corpus = corpus_copy();
        let before_tsv = read_tsv(&corpus.0);
        let before_folders = folders(&corpus.0);

        let from = revision_copy("22.10.0");
        add_operation(&from.0, "frobnicate");
        edit_json(&from.0, "api-docs/channels.json", |v| {
            v["apis"][0]["operations"][0]["responseClass"] = "Chanel".into();
        });
        let err = fetch_and_import(&args(&from.0, Some("22.11.7"), &corpus.0)).unwrap_err();
        let msg = format!("{err:#}");
        for part in [
            "broken",
            "nothing was written",
            "api-docs/channels.json",
            "apis[0].operations[0].responseClass",
            "missing model `Chanel`",
        ] {
            assert!(msg.contains(part), "`{part}` not in: {msg}");
        }

        let from = revision_copy("22.10.0");
        std::fs::write(from.0.join("api-docs/bridges.json"), "{\"apiVersion\": ").unwrap();
        let err = fetch_and_import(&args(&from.0, Some("22.11.7"), &corpus.0)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("api-docs/bridges.json") && msg.contains("invalid JSON"),
            "{msg}"
        );

        let from = revision_copy("22.10.0");
        std::fs::remove_file(from.0.join("api-docs/sounds.json")).unwrap();
        let err = fetch_and_import(&args(&from.0, Some("22.11.7"), &corpus.0)).unwrap_err();
        assert!(format!("{err:#}").contains("sounds.json"), "{err:#}");

        assert_eq!(read_tsv(&corpus.0), before_tsv);
        assert_eq!(folders(&corpus.0), before_folders);
    }

    /// A source tree (`<tree>/rest-api/` plus `<tree>/.version`) names its release; a
    /// `rest-api/` folder given directly finds the `.version` beside it.
    #[test]
    fn source_tree_release_comes_from_version_file() {
        let corpus = corpus_copy();
        let tree = TempDir::new("tree");
        copy_tree(
            &Corpus::vendored_dir().join("22.10.0"),
            &tree.0.join("rest-api"),
        );
        std::fs::write(tree.0.join(".version"), "22.10.3\n").unwrap();
        let f = fetch(&args(&tree.0, None, &corpus.0)).unwrap();
        assert_eq!(f.release, rel("22.10.3"));
        assert!(f.origin.ends_with("rest-api"), "{}", f.origin);
        let f = fetch(&args(&tree.0.join("rest-api"), None, &corpus.0)).unwrap();
        assert_eq!(f.release, rel("22.10.3"));
        // --release wins over the file.
        let f = fetch(&args(&tree.0, Some("22.10.4"), &corpus.0)).unwrap();
        assert_eq!(f.release, rel("22.10.4"));
        let out = fetch_and_import(&args(&tree.0, None, &corpus.0)).unwrap();
        assert_eq!(out.action, Action::RowAdded);
        assert_eq!(row(&corpus.0, "22.10.3").as_deref(), Some("22.10.0"));

        std::fs::write(tree.0.join(".version"), "GIT-master-abc\n").unwrap();
        let err = fetch(&args(&tree.0, None, &corpus.0)).unwrap_err();
        assert!(format!("{err}").contains("--release"), "{err}");
        // A bare revision folder has no .version: --release is required.
        let err = fetch(&args(
            &Corpus::vendored_dir().join("22.10.0"),
            None,
            &corpus.0,
        ))
        .unwrap_err();
        assert!(format!("{err}").contains("--release"), "{err}");
        // A folder without a spec.
        let err = fetch(&args(&corpus.0, Some("22.10.4"), &corpus.0)).unwrap_err();
        assert!(format!("{err}").contains("resources.json"), "{err}");
        let err = fetch(&args(&tree.0.join("nope"), Some("22.10.4"), &corpus.0)).unwrap_err();
        assert!(format!("{err}").contains("no such folder"), "{err}");
    }

    /// The command itself, with --no-codegen, on a temp corpus.
    #[test]
    fn run_with_no_codegen() {
        let corpus = corpus_copy();
        let from = Corpus::vendored_dir().join("22.10.0");
        run(args(&from, Some("22.10.9"), &corpus.0)).unwrap();
        assert_eq!(row(&corpus.0, "22.10.9").as_deref(), Some("22.10.0"));
    }

    /// Against a real Asterisk 22.10.1 (`cargo xtask asterisk up --release 22`), run when
    /// `ARI_URL_22` (set by `cargo xtask test`) or `ARI_LIVE_22` names its ARI root, e.g.
    /// `http://127.0.0.1:8088/ari`; required when `ARI_REQUIRE_SERVERS=1`: the
    /// server's files are the vendored 22.10.0 revision's, all but `basePath`, so importing only
    /// keeps (or adds) the row `22.10.1 -> 22.10.0`.
    #[test]
    fn live_22_import_reproduces_vendored_revision() {
        let url = ["ARI_URL_22", "ARI_LIVE_22"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
        let Some(url) = url else {
            assert!(
                std::env::var_os("ARI_REQUIRE_SERVERS").is_none(),
                "ARI_REQUIRE_SERVERS is set but ARI_URL_22 is not"
            );
            eprintln!(
                "SKIP: set ARI_URL_22=http://127.0.0.1:8088/ari to import from a live \
                 Asterisk 22.10.1"
            );
            return;
        };
        let corpus = corpus_copy();
        let live = Args {
            from: url.clone(),
            release: None,
            user: None,
            password: None,
            corpus: Some(corpus.0.clone()),
            no_codegen: true,
            force: false,
        };
        let fetched = fetch(&live).unwrap();
        eprintln!(
            "live server {url}: release {} ({}), {} files",
            fetched.release,
            fetched.release_from,
            fetched.raw.files.len()
        );
        assert_eq!(
            fetched.release,
            rel("22.10.1"),
            "the server reports 22.10.1"
        );
        let vendored =
            RawRevision::fetch(&DirSource::new(Corpus::vendored_dir().join("22.10.0"))).unwrap();
        assert_eq!(
            fetched.raw.files.keys().collect::<Vec<_>>(),
            vendored.files.keys().collect::<Vec<_>>(),
            "same file set"
        );
        assert!(
            same_ignoring_base_path(&fetched.raw, &vendored).unwrap(),
            "the live files equal the vendored 22.10.0 files but for basePath"
        );

        // With the row present: a no-op.
        let before = read_tsv(&corpus.0);
        let out = fetch_and_import(&live).unwrap();
        eprintln!("{out}");
        assert_eq!(out.action, Action::Unchanged);
        assert_eq!(out.revision, "22.10.0");
        assert_eq!(read_tsv(&corpus.0), before);

        // Without it: only the row comes back.
        let without: String = before
            .lines()
            .filter(|l| !l.starts_with("22.10.1\t"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(corpus.0.join("releases.tsv"), &without).unwrap();
        let folders_before = folders(&corpus.0);
        let out = fetch_and_import(&live).unwrap();
        eprintln!("{out}");
        assert_eq!(out.action, Action::RowAdded);
        assert_eq!(out.revision, "22.10.0");
        assert_eq!(
            read_tsv(&corpus.0),
            before,
            "exactly the original map again"
        );
        assert_eq!(folders(&corpus.0), folders_before);
    }
}
