//! The build context (a directory the API unpacked the client's tar into) and what COPY and
//! ADD take from it: sources found by path or pattern, never outside the context (`..`,
//! absolute paths and symlinks that lead out are refused with Docker's message), written as
//! one tar laid out as the image will have it, with a hash of their content (not their
//! times) for the cache.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

// A path in the image, lexically cleaned (`/a/./b/../c` → `/a/c`), never above `/`.
use crate::changes::clean_path as clean;
use crate::BuildError;

pub(crate) struct Context {
    root: PathBuf,
}

/// What a COPY or ADD will put in the image: a tar to extract at its root, and how Docker
/// names it in the step (`file:<hash>`, `dir:<hash>`, `multi:<hash>`).
pub(crate) struct Copied {
    pub kind: &'static str,
    pub hash: String,
    archive: File,
}

impl Copied {
    pub fn open(&self) -> Result<File, BuildError> {
        let mut f = self
            .archive
            .try_clone()
            .map_err(|e| BuildError::new(format!("copy: {e}")))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| BuildError::new(format!("copy: {e}")))?;
        Ok(f)
    }
}

fn io(what: &str) -> impl Fn(std::io::Error) -> BuildError + '_ {
    move |e| BuildError::new(format!("{what}: {e}"))
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Writes to a tar and hashes what matters of each entry (its path, kind, mode, owner and
/// content; not its times).
struct Writer {
    tar: tar::Builder<File>,
    hash: Sha256,
    owner: (u64, u64),
    dirs_made: std::collections::BTreeSet<String>,
}

impl Writer {
    fn header(&self, kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(mtime);
        h.set_uid(self.owner.0);
        h.set_gid(self.owner.1);
        h
    }

    fn note(&mut self, path: &str, what: &str) {
        self.hash.update(path.as_bytes());
        self.hash.update([0]);
        self.hash.update(what.as_bytes());
        self.hash.update([0]);
    }

    /// The directories above `path` that the tar does not hold yet, made root's with 0755
    /// (Docker creates a destination's missing parents so).
    fn parents(&mut self, path: &str) -> Result<(), BuildError> {
        let mut at = String::new();
        let comps: Vec<&str> = path.trim_matches('/').split('/').collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            at = format!("{at}/{c}");
            if self.dirs_made.insert(at.clone()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                self.tar
                    .append_data(&mut h, &at[1..], std::io::empty())
                    .map_err(io("copy"))?;
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &str, source: &Path, meta: &fs::Metadata) -> Result<(), BuildError> {
        use std::os::unix::fs::MetadataExt;
        self.parents(path)?;
        let mut f = File::open(source).map_err(io("copy"))?;
        // Hashed while it is copied: each file read once.
        let mut hasher = Sha256::new();
        let mut tee = HashingRead {
            inner: &mut f,
            hasher: &mut hasher,
        };
        let mut h = self.header(
            tar::EntryType::Regular,
            meta.mode() & 0o7777,
            meta.len(),
            meta.mtime().max(0) as u64,
        );
        self.tar
            .append_data(&mut h, &path[1..], &mut tee)
            .map_err(io("copy"))?;
        let what = format!(
            "file {:o} {}",
            meta.mode() & 0o7777,
            hex::encode(hasher.finalize())
        );
        self.note(path, &what);
        Ok(())
    }

    fn dir(&mut self, path: &str, meta: &fs::Metadata) -> Result<(), BuildError> {
        use std::os::unix::fs::MetadataExt;
        if path == "/" {
            return Ok(());
        }
        self.parents(path)?;
        if !self.dirs_made.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = self.header(
            tar::EntryType::Directory,
            meta.mode() & 0o7777,
            0,
            meta.mtime().max(0) as u64,
        );
        self.tar
            .append_data(&mut h, &path[1..], std::io::empty())
            .map_err(io("copy"))?;
        self.note(path, &format!("dir {:o}", meta.mode() & 0o7777));
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &Path) -> Result<(), BuildError> {
        self.parents(path)?;
        let mut h = self.header(tar::EntryType::Symlink, 0o777, 0, 0);
        self.tar
            .append_link(&mut h, &path[1..], target)
            .map_err(io("copy"))?;
        self.note(path, &format!("link {}", target.display()));
        Ok(())
    }
}

struct HashingRead<'a, R> {
    inner: &'a mut R,
    hasher: &'a mut Sha256,
}

impl<R: Read> Read for HashingRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl Context {
    pub fn new(root: &Path) -> Result<Context, BuildError> {
        let root = fs::canonicalize(root).map_err(io("the build context"))?;
        Ok(Context { root })
    }

    /// A directory beside the context (in the build's own), removed when dropped: where a
    /// `COPY --from`'s files are put.
    pub fn scratch_dir(&self) -> Result<tempfile::TempDir, BuildError> {
        let beside = self.root.parent().unwrap_or(&self.root);
        tempfile::Builder::new()
            .prefix("from-")
            .tempdir_in(beside)
            .map_err(io("COPY --from"))
    }

    /// The host path of `src` (a path of the context), refused when it leads outside.
    fn resolve(&self, src: &str) -> Result<PathBuf, BuildError> {
        let outside = || {
            BuildError::new(format!(
                "forbidden path outside the build context: {src} ()"
            ))
        };
        let mut path = self.root.clone();
        for c in Path::new(src).components() {
            match c {
                Component::Normal(n) => path.push(n),
                Component::ParentDir if !path.pop() || !path.starts_with(&self.root) => {
                    return Err(outside());
                }
                _ => {}
            }
        }
        if !path.starts_with(&self.root) {
            return Err(outside());
        }
        // A symlink that leads out is refused too (the whole chain, by the kernel's reading).
        match fs::canonicalize(&path) {
            Ok(real) if !real.starts_with(&self.root) => Err(outside()),
            Ok(_) => Ok(path),
            Err(_) => Err(BuildError::new(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: stat {}: file does not exist",
                src.trim_start_matches('/')
            ))),
        }
    }

    /// The context's paths (relative) that `pattern` matches, in order.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, BuildError> {
        let pattern = pattern.trim_start_matches('/');
        let compiled = glob::Pattern::new(pattern)
            .map_err(|e| BuildError::new(format!("invalid pattern {pattern}: {e}")))?;
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(&self.root)
            .min_depth(1)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| BuildError::new(format!("read the context: {e}")))?;
            let rel = entry
                .path()
                .strip_prefix(&self.root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            if compiled.matches_with(&rel, opts) {
                found.push(rel);
            }
        }
        if found.is_empty() {
            return Err(BuildError::new(
                "COPY failed: no source files were specified",
            ));
        }
        Ok(found)
    }

    /// The tar of `srcs` copied to `dest` (an absolute path in the image) as Docker's COPY
    /// lays them out: a directory's contents into `dest`, a file to `dest` itself or, when
    /// `dest` ends with `/` or there are several, into it; with `extract`, a local archive's
    /// contents instead of the archive (ADD).
    pub fn archive(
        &self,
        srcs: &[String],
        dest: &str,
        owner: (u64, u64),
        extract: bool,
    ) -> Result<Copied, BuildError> {
        let sources: Vec<(&Context, &str, bool)> =
            srcs.iter().map(|s| (self, s.as_str(), extract)).collect();
        Context::archive_from(&sources, dest, owner)
    }

    /// As [`Context::archive`], each source from a context of its own and extracted or not
    /// on its own (`ADD` of URLs, downloaded and never extracted, beside local files).
    pub fn archive_from(
        sources: &[(&Context, &str, bool)],
        dest: &str,
        owner: (u64, u64),
    ) -> Result<Copied, BuildError> {
        let mut resolved: Vec<(&Context, String, bool)> = Vec::new();
        for &(context, src, extract) in sources {
            if has_glob(src) {
                for found in context.glob(src)? {
                    resolved.push((context, found, extract));
                }
            } else {
                resolved.push((context, src.to_string(), extract));
            }
        }
        let into_dir = dest.ends_with('/') || resolved.len() > 1;
        let dest_clean = clean(dest);
        let file = tempfile::tempfile().map_err(io("copy"))?;
        let mut w = Writer {
            tar: tar::Builder::new(file),
            hash: Sha256::new(),
            owner,
            dirs_made: Default::default(),
        };
        let mut kinds = Vec::new();
        for (context, src, extract) in &resolved {
            let path = context.resolve(src)?;
            let meta = fs::metadata(&path).map_err(io("copy"))?;
            if meta.is_dir() {
                kinds.push("dir");
                if dest_clean != "/" {
                    w.dir(&dest_clean, &meta)?;
                }
                context.walk(&mut w, &path, &dest_clean)?;
            } else if *extract && berth_archive::is_tar_file(&path) {
                kinds.push("file");
                extract_into(&mut w, &path, &dest_clean)?;
            } else {
                kinds.push("file");
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let target = if into_dir {
                    clean(&format!("{dest_clean}/{}", name.unwrap_or_default()))
                } else {
                    dest_clean.clone()
                };
                w.file(&target, &path, &meta)?;
            }
        }
        let kind = match kinds.as_slice() {
            [one] => one,
            _ => "multi",
        };
        let hash = hex::encode(std::mem::take(&mut w.hash).finalize());
        let mut file = w.tar.into_inner().map_err(io("copy"))?;
        file.flush().map_err(io("copy"))?;
        Ok(Copied {
            kind,
            hash,
            archive: file,
        })
    }

    /// A directory's contents under `dest`; symlinks copied as links, other special files
    /// skipped.
    fn walk(&self, w: &mut Writer, dir: &Path, dest: &str) -> Result<(), BuildError> {
        for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
            let entry = entry.map_err(|e| BuildError::new(format!("read the context: {e}")))?;
            let rel = entry
                .path()
                .strip_prefix(dir)
                .expect("under the directory")
                .to_string_lossy()
                .into_owned();
            let target = clean(&format!("{dest}/{rel}"));
            let meta = entry.path().symlink_metadata().map_err(io("copy"))?;
            let kind = meta.file_type();
            if kind.is_symlink() {
                let link = fs::read_link(entry.path()).map_err(io("copy"))?;
                w.symlink(&target, &link)?;
            } else if kind.is_dir() {
                w.dir(&target, &meta)?;
            } else if kind.is_file() {
                w.file(&target, entry.path(), &meta)?;
            }
        }
        Ok(())
    }
}

/// ADD of a local archive: its entries under `dest`, each path cleaned so that none climbs
/// out of it (the extraction into the container is confined again there).
fn extract_into(w: &mut Writer, archive: &Path, dest: &str) -> Result<(), BuildError> {
    let f = File::open(archive).map_err(io("ADD"))?;
    let (_, reader) = berth_archive::decompress(f).map_err(io("ADD"))?;
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(io("ADD"))? {
        let mut entry = entry.map_err(io("ADD"))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let target = clean(&format!("{dest}/{}", clean(&raw)));
        if target == dest {
            continue;
        }
        let mut h = entry.header().clone();
        w.parents(&target)?;
        let kind = h.entry_type();
        let size = entry.size();
        match kind {
            tar::EntryType::Directory => {
                if w.dirs_made.insert(target.clone()) {
                    w.tar
                        .append_data(&mut h, &target[1..], std::io::empty())
                        .map_err(io("ADD"))?;
                }
                w.note(&target, "dir");
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(io("ADD"))?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                w.tar
                    .append_link(&mut h, &target[1..], &link)
                    .map_err(io("ADD"))?;
                w.note(&target, &format!("link {}", link.display()));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut hasher = Sha256::new();
                h.set_size(size);
                let mut tee = HashingRead {
                    inner: &mut entry,
                    hasher: &mut hasher,
                };
                w.tar
                    .append_data(&mut h, &target[1..], &mut tee)
                    .map_err(io("ADD"))?;
                w.note(&target, &format!("file {}", hex::encode(hasher.finalize())));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `.dockerignore`'s `patterns` exclude `path` (relative to the context): the last
/// pattern that matches decides, `!` patterns letting a path back in, as Docker reads them.
fn ignored(patterns: &[String], path: &str) -> bool {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut excluded = false;
    for p in patterns {
        let (negate, pattern) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p.as_str()),
        };
        let pattern = pattern
            .trim()
            .trim_start_matches("./")
            .trim_start_matches('/');
        let matched = glob::Pattern::new(pattern)
            .map(|g| g.matches_with(path, opts))
            .unwrap_or(false);
        if matched {
            excluded = !negate;
        }
    }
    excluded
}

/// The Dockerfile and `.dockerignore` go from the context when `.dockerignore` excludes them,
/// as Docker's daemon drops them (the client applied the rest of the file already).
pub fn drop_ignored_build_files(context: &Path, dockerfile: &str) -> std::io::Result<()> {
    let Ok(text) = fs::read_to_string(context.join(".dockerignore")) else {
        return Ok(());
    };
    let patterns: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    for name in [dockerfile.trim_start_matches('/'), ".dockerignore"] {
        if ignored(&patterns, name) {
            match fs::remove_file(context.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_drops_the_build_files_it_names() {
        let patterns: Vec<String> = ["*.md", "Dockerfile*", "!Dockerfile.keep", ".dockerignore"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(ignored(&patterns, "Dockerfile"));
        assert!(!ignored(&patterns, "Dockerfile.keep"));
        assert!(ignored(&patterns, ".dockerignore"));
        assert!(!ignored(&patterns, "src/main.rs"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "Dockerfile\n# comment\n").unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x").unwrap();
        drop_ignored_build_files(dir.path(), "Dockerfile").unwrap();
        assert!(!dir.path().join("Dockerfile").exists());
        assert!(dir.path().join(".dockerignore").exists());
    }
}
