//! The repository: where backups and archived WAL live.
//!
//! [`BackupRepository`] is the storage seam: whole-object put/get, listing
//! by prefix, deleting a prefix, and appending a line to the segment
//! index. [`FsRepository`] implements it on a local or mounted directory
//! (writes go to a temporary name, are fsynced, then renamed, so a crash
//! leaves either the old object or the new one); an object store would
//! implement the same trait (its `append_line` writing one object per
//! line). Paths are `/`-separated and relative; `..` and absolute paths
//! are refused.
//!
//! [`Repo`] adds the repository's own rules on top: `repo.json` (format
//! and whether it is encrypted), and sealing/opening every object with
//! the key when it is. The index lines are plain JSON (LSN ranges, times
//! and checksums, no data), so an encrypted archive can still be listed
//! and checked for gaps without the key.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::crypto::Cipher;
use super::err;
use crate::error::Result;

/// Object storage for a backup repository.
pub trait BackupRepository: Send + Sync {
    /// Stores `data` at `path`, replacing any previous object, durably.
    fn put(&self, path: &str, data: &[u8]) -> Result<()>;
    /// Reads the object at `path`.
    fn get(&self, path: &str) -> Result<Vec<u8>>;
    /// Whether an object exists at `path`.
    fn exists(&self, path: &str) -> Result<bool>;
    /// Paths of every object under the folder `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes every object under the folder `prefix`.
    fn delete_prefix(&self, prefix: &str) -> Result<()>;
    /// Deletes one object (no error if it is absent).
    fn delete(&self, path: &str) -> Result<()>;
    /// Appends one line (a `\n` is added) to the object at `path`, durably.
    fn append_line(&self, path: &str, line: &str) -> Result<()>;
    /// Where the repository is, for messages.
    fn describe(&self) -> String;

    /// Stores everything `reader` yields at `path`; answers the byte
    /// count. The content is durable on return; the object's *name* is
    /// durable once [`BackupRepository::sync_folder`] of its folder
    /// returned (callers sync a folder once after many puts instead of
    /// once per object). The default buffers the whole object.
    fn put_reader(&self, path: &str, reader: &mut dyn Read) -> Result<u64> {
        let mut data = Vec::new();
        reader
            .read_to_end(&mut data)
            .map_err(|e| err(format!("reading for {path}: {e}")))?;
        self.put(path, &data)?;
        Ok(data.len() as u64)
    }

    /// Makes the names of objects put into folder `prefix` durable.
    fn sync_folder(&self, _prefix: &str) -> Result<()> {
        Ok(())
    }
}

/// Copy buffer of [`FsRepository::put_reader`]: large enough that a
/// 64 MB SST takes 16 system calls each way.
const COPY_BUFFER: usize = 4 << 20;

/// A repository on a local (or mounted) directory.
pub struct FsRepository {
    root: PathBuf,
}

impl FsRepository {
    pub fn new(root: &Path) -> FsRepository {
        FsRepository {
            root: root.to_path_buf(),
        }
    }

    fn full(&self, path: &str) -> Result<PathBuf> {
        let ok = !path.is_empty()
            && !path.starts_with('/')
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
        if !ok {
            return Err(err(format!("bad repository path {path:?}")));
        }
        Ok(self.root.join(path))
    }
}

fn io(path: &Path, what: &str, e: std::io::Error) -> crate::error::NodeError {
    err(format!("{what} {}: {e}", path.display()))
}

impl BackupRepository for FsRepository {
    fn put(&self, path: &str, data: &[u8]) -> Result<()> {
        let full = self.full(path)?;
        let dir = full
            .parent()
            .ok_or_else(|| err(format!("bad repository path {path:?}")))?;
        fs::create_dir_all(dir).map_err(|e| io(dir, "cannot create", e))?;
        let tmp = full.with_extension(format!("tmp-{:08x}", rand::random::<u32>()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, &full)?;
            fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io(&full, "cannot write", e)
        })
    }

    fn get(&self, path: &str) -> Result<Vec<u8>> {
        let full = self.full(path)?;
        fs::read(&full).map_err(|e| io(&full, "cannot read", e))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.full(path)?.is_file())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let base = self.full(prefix.trim_end_matches('/'))?;
        let mut out = Vec::new();
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, "cannot list", e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io(&dir, "cannot list", e))?;
                let path = entry.path();
                let kind = entry.file_type().map_err(|e| io(&path, "cannot stat", e))?;
                if kind.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if !rel.contains(".tmp-") {
                        out.push(rel);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let full = self.full(prefix.trim_end_matches('/'))?;
        match fs::remove_dir_all(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&full, "cannot delete", e)),
        }
    }

    fn delete(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        match fs::remove_file(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&full, "cannot delete", e)),
        }
    }

    fn append_line(&self, path: &str, line: &str) -> Result<()> {
        let full = self.full(path)?;
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir).map_err(|e| io(dir, "cannot create", e))?;
        }
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&full)?;
            f.write_all(format!("{line}\n").as_bytes())?;
            f.sync_all()
        };
        write().map_err(|e| io(&full, "cannot append to", e))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn put_reader(&self, path: &str, reader: &mut dyn Read) -> Result<u64> {
        let full = self.full(path)?;
        let dir = full
            .parent()
            .ok_or_else(|| err(format!("bad repository path {path:?}")))?;
        fs::create_dir_all(dir).map_err(|e| io(dir, "cannot create", e))?;
        let tmp = full.with_extension(format!("tmp-{:08x}", rand::random::<u32>()));
        let mut written = 0u64;
        let mut write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            let mut buf = vec![0u8; COPY_BUFFER];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                f.write_all(buf.get(..n).unwrap_or_default())?;
                write_behind(&f, written, n as u64);
                written += n as u64;
            }
            f.sync_data()?;
            drop_cached(&f);
            fs::rename(&tmp, &full)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io(&full, "cannot write", e)
        })?;
        Ok(written)
    }

    fn sync_folder(&self, prefix: &str) -> Result<()> {
        let full = self.full(prefix.trim_end_matches('/'))?;
        match fs::File::open(&full) {
            Ok(d) => d.sync_all().map_err(|e| io(&full, "cannot sync", e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&full, "cannot open", e)),
        }
    }
}

/// Starts writeback of the chunk just written and waits for the one
/// before it (RocksDB's `bytes_per_sync` idea): dirty pages stay at about
/// two chunks per file, so the disk sees a steady stream instead of a
/// whole file at `fsync`, and the node's (or a co-located primary's) WAL
/// syncs do not queue behind hundreds of MB. Advisory; errors are
/// ignored (the final `sync_data` is what makes the file durable).
#[cfg(target_os = "linux")]
fn write_behind(f: &fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let (Ok(off), Ok(n)) = (
        libc::off64_t::try_from(offset),
        libc::off64_t::try_from(len),
    ) else {
        return;
    };
    // SAFETY: sync_file_range only reads its integer arguments; the
    // descriptor is open for the duration of the calls (borrowed from `f`).
    unsafe {
        libc::sync_file_range(fd, off, n, libc::SYNC_FILE_RANGE_WRITE);
        if off > 0 {
            let prev = (COPY_BUFFER as libc::off64_t).min(off);
            libc::sync_file_range(
                fd,
                off - prev,
                prev,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn write_behind(_f: &fs::File, _offset: u64, _len: u64) {}

/// Drops a just-synced backup file from the page cache: nobody reads it
/// back soon, and the cache is better spent on the node's (and, on a
/// shared host, the primary's) data. Advisory; errors are ignored.
#[cfg(target_os = "linux")]
fn drop_cached(f: &fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fadvise only reads its arguments; the descriptor is
    // open for the duration of the call (borrowed from `f`).
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
}

#[cfg(not(target_os = "linux"))]
fn drop_cached(_f: &fs::File) {}

/// `repo.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RepoConfig {
    format: u32,
    encryption: String,
    /// A sealed known text (hex), so a wrong key is caught up front.
    #[serde(default)]
    key_check: Option<String>,
}

const CONFIG: &str = "repo.json";
const KEY_CHECK_TEXT: &[u8] = b"rustydb backup repository key check";

/// A repository with its rules: format, encryption.
pub struct Repo {
    store: Box<dyn BackupRepository>,
    cipher: Option<Cipher>,
}

impl Repo {
    /// Opens an existing repository at `root` (a directory).
    pub fn open(root: &Path, key_file: Option<&Path>) -> Result<Repo> {
        Repo::open_store(Box::new(FsRepository::new(root)), key_file, false)
    }

    /// Opens the repository at `root`, creating it (encrypted when a key
    /// file is given) if it does not exist yet.
    pub fn open_or_init(root: &Path, key_file: Option<&Path>) -> Result<Repo> {
        Repo::open_store(Box::new(FsRepository::new(root)), key_file, true)
    }

    /// Opens a repository over any store.
    pub fn open_store(
        store: Box<dyn BackupRepository>,
        key_file: Option<&Path>,
        create: bool,
    ) -> Result<Repo> {
        let cipher = key_file.map(Cipher::from_key_file).transpose()?;
        if !store.exists(CONFIG)? {
            if !create {
                return Err(err(format!(
                    "{} is not a backup repository (no {CONFIG})",
                    store.describe()
                )));
            }
            let key_check = match &cipher {
                Some(c) => Some(hex::encode(c.seal(CONFIG, KEY_CHECK_TEXT)?)),
                None => None,
            };
            let config = RepoConfig {
                format: 1,
                encryption: if cipher.is_some() {
                    "aes-256-gcm".into()
                } else {
                    "none".into()
                },
                key_check,
            };
            store.put(CONFIG, &to_json(&config)?)?;
            tracing::info!(repo = %store.describe(), encrypted = cipher.is_some(), "backup repository created");
            return Ok(Repo { store, cipher });
        }
        let config: RepoConfig = serde_json::from_slice(&store.get(CONFIG)?)
            .map_err(|e| err(format!("{CONFIG}: {e}")))?;
        if config.format != 1 {
            return Err(err(format!(
                "repository format {} is not supported",
                config.format
            )));
        }
        match (config.encryption.as_str(), &cipher) {
            ("none", None) => {}
            ("none", Some(_)) => {
                return Err(err(format!(
                    "{} is not encrypted, but a key file was given",
                    store.describe()
                )))
            }
            ("aes-256-gcm", None) => {
                return Err(err(format!(
                    "{} is encrypted: a key file is required (--key-file)",
                    store.describe()
                )))
            }
            ("aes-256-gcm", Some(c)) => {
                let check = config
                    .key_check
                    .as_deref()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| err(format!("{CONFIG} has no key check")))?;
                let plain = c.open(CONFIG, &check).map_err(|_| {
                    err("authentication failed: wrong key for this repository".to_string())
                })?;
                if plain != KEY_CHECK_TEXT {
                    return Err(err("authentication failed: wrong key for this repository"));
                }
            }
            (other, _) => return Err(err(format!("unknown repository encryption {other:?}"))),
        }
        Ok(Repo { store, cipher })
    }

    /// Whether objects are encrypted.
    pub fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The underlying store.
    pub fn store(&self) -> &dyn BackupRepository {
        self.store.as_ref()
    }

    /// Stores an object (sealed when the repository is encrypted).
    pub fn put_object(&self, path: &str, plain: &[u8]) -> Result<()> {
        match &self.cipher {
            Some(c) => self.store.put(path, &c.seal(path, plain)?),
            None => self.store.put(path, plain),
        }
    }

    /// Stores what `reader` yields (sealed when the repository is
    /// encrypted: a sealed object is one AES-GCM message, so it is built
    /// in memory); answers the plain byte count. See
    /// [`BackupRepository::put_reader`] for durability.
    pub fn put_object_reader(&self, path: &str, reader: &mut dyn Read) -> Result<u64> {
        match &self.cipher {
            Some(c) => {
                let mut plain = Vec::new();
                reader
                    .read_to_end(&mut plain)
                    .map_err(|e| err(format!("reading for {path}: {e}")))?;
                self.store.put(path, &c.seal(path, &plain)?)?;
                Ok(plain.len() as u64)
            }
            None => self.store.put_reader(path, reader),
        }
    }

    /// Reads an object back (authenticated when encrypted).
    pub fn get_object(&self, path: &str) -> Result<Vec<u8>> {
        let stored = self.store.get(path)?;
        match &self.cipher {
            Some(c) => c.open(path, &stored),
            None => Ok(stored),
        }
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }
}

/// Pretty JSON bytes.
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|e| err(format!("cannot encode JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined_and_objects_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs_repo = FsRepository::new(dir.path());
        assert!(fs_repo.put("../x", b"1").is_err());
        assert!(fs_repo.put("/x", b"1").is_err());
        fs_repo.put("a/b/c", b"hello").expect("put");
        assert_eq!(fs_repo.get("a/b/c").expect("get"), b"hello");
        assert_eq!(fs_repo.list("a").expect("list"), vec!["a/b/c".to_string()]);
        fs_repo.append_line("i/x.jsonl", "1").expect("append");
        fs_repo.append_line("i/x.jsonl", "2").expect("append");
        assert_eq!(fs_repo.get("i/x.jsonl").expect("get"), b"1\n2\n");
        fs_repo.delete_prefix("a").expect("delete");
        assert!(!fs_repo.exists("a/b/c").expect("exists"));
    }

    #[test]
    fn encrypted_repository_needs_the_right_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key");
        let wrong = dir.path().join("wrong");
        std::fs::write(&key, hex::encode([3u8; 32])).expect("key");
        std::fs::write(&wrong, [4u8; 32]).expect("key");
        let root = dir.path().join("repo");
        let repo = Repo::open_or_init(&root, Some(&key)).expect("init");
        repo.put_object("x/y", b"secret").expect("put");
        assert_ne!(repo.store().get("x/y").expect("raw"), b"secret");
        let again = Repo::open(&root, Some(&key)).expect("open");
        assert_eq!(again.get_object("x/y").expect("get"), b"secret");
        let no_key = Repo::open(&root, None).err().map(|e| e.to_string());
        assert!(no_key.unwrap_or_default().contains("key file is required"));
        let bad = Repo::open(&root, Some(&wrong)).err().map(|e| e.to_string());
        assert!(bad.unwrap_or_default().contains("authentication failed"));
    }
}
