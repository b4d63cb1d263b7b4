//! Copying a checkpoint's files into the repository: in parallel,
//! streamed, checksummed on the way, optionally throttled and at low
//! priority.
//!
//! ```text
//!  jobs (name, size, parent candidate?) ──► N worker threads (shared cursor)
//!     candidate with same name+size?  read + sha256 only; equal → reference it
//!     otherwise                        read 4 MB ─► sha256 ─► repository (streamed)
//!  every chunk: progress + throttle;   end: sync the files/ folder once
//! ```
//!
//! Why this shape: a full backup was bound by doing one thing at a time
//! (read a whole SST into memory, hash it, write it, fsync it, fsync the
//! folder, next file). Workers overlap one file's fsync with another's
//! reads and writes; streaming keeps memory at one buffer per worker and
//! hashes bytes while they are in cache; the folder is synced once.
//!
//! Protecting the node (and, on a shared host, the primary): with
//! `low_priority` (the default) each worker lowers its own thread's CPU
//! priority (nice 10) and I/O priority (best effort, lowest level), so it
//! yields to query work yet is never starved the way the idle class can
//! be; with `adaptive` (priority `idle`, opt-in) the copy is also paced by
//! `pace::Pacer`, which slows it down while it makes other processes' disk
//! writes (commits) slow; a rate limit (`max_bytes_per_s`, all workers
//! together) caps the disk bandwidth a backup may take in any case. Written files are dropped from the page
//! cache after their fsync (see `repo::drop_cached`).
//!
//! Invariants: an entry is returned only for a file whose bytes were all
//! read and hashed, and, when `stored`, written and synced under the
//! backup's own folder; the first error stops every worker and is
//! returned; sizes come from the bytes read, not from `stat`.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::err;
use super::manifest::{FileEntry, Manifest};
use super::pace::Pacer;
use super::progress::Progress;
use super::repo::Repo;
use crate::error::Result;

/// How a backup's files are copied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyOptions {
    /// Worker threads (at least 1).
    pub parallel: usize,
    /// Bytes per second all workers together may read (`None`: no limit).
    pub max_bytes_per_s: Option<u64>,
    /// Lower the workers' CPU and I/O priority.
    pub low_priority: bool,
    /// Pace the copy to how much it slows down other writers of the same
    /// disks (see `pace`; priority `idle`).
    pub adaptive: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            parallel: default_parallel(),
            max_bytes_per_s: None,
            low_priority: true,
            adaptive: false,
        }
    }
}

/// Two workers per core, at least 2 and at most 8: the copy waits on the
/// disk (fsync) more than it computes.
pub fn default_parallel() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(2, 8)
}

/// One file to copy.
#[derive(Debug, Clone)]
pub struct CopyJob {
    pub name: String,
    /// Size as listed (only orders the work: largest first, so the last
    /// file to finish is a small one and no worker idles long).
    pub size: u64,
    /// The parent chain's entry of the same immutable name and size: the
    /// file is only hashed, and referenced when the hash matches.
    pub candidate: Option<FileEntry>,
}

const CHUNK: usize = 4 << 20;

/// Copies `jobs` from `dir` into backup `id`; answers their entries in the
/// order of `jobs`.
pub fn copy_files(
    repo: &Repo,
    dir: &Path,
    id: &str,
    jobs: &[CopyJob],
    opts: &CopyOptions,
    pacer: &Pacer,
    progress: &Progress,
) -> Result<Vec<FileEntry>> {
    let results: Mutex<Vec<Option<FileEntry>>> = Mutex::new(vec![None; jobs.len()]);
    let throttle = pacer.is_active().then_some(pacer);
    let sizes: Vec<u64> = jobs.iter().map(|j| j.size).collect();
    for_each_parallel(&sizes, opts.parallel, opts.low_priority, |i| {
        let job = jobs.get(i).ok_or_else(|| err("copy job out of range"))?;
        let entry = copy_one(repo, dir, id, job, throttle, progress)?;
        if let Some(slot) = results.lock().get_mut(i) {
            *slot = Some(entry);
        }
        Ok(())
    })?;
    if !jobs.is_empty() {
        repo.store().sync_folder(&format!("backups/{id}/files"))?;
    }
    results
        .into_inner()
        .into_iter()
        .zip(jobs)
        .map(|(r, j)| r.ok_or_else(|| err(format!("{}: not copied", j.name))))
        .collect()
}

/// Runs `work(i)` for every index of `sizes` on up to `parallel` threads,
/// largest size first (so the last item to finish is a small one and no
/// thread idles long). The first error stops the others (items already
/// started finish) and is returned.
pub fn for_each_parallel(
    sizes: &[u64],
    parallel: usize,
    low_priority: bool,
    work: impl Fn(usize) -> Result<()> + Sync,
) -> Result<()> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(sizes.get(*i).copied().unwrap_or(0)));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error = Mutex::new(None);
    let workers = parallel.max(1).min(sizes.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                if low_priority {
                    lower_priority();
                }
                while !failed.load(Ordering::Acquire) {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::AcqRel)) else {
                        break;
                    };
                    if let Err(e) = work(i) {
                        failed.store(true, Ordering::Release);
                        first_error.lock().get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    match first_error.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn copy_one(
    repo: &Repo,
    dir: &Path,
    id: &str,
    job: &CopyJob,
    throttle: Option<&Pacer>,
    progress: &Progress,
) -> Result<FileEntry> {
    let src = dir.join(&job.name);
    if let Some(c) = &job.candidate {
        // Probably the parent's file: hash it before deciding to copy.
        let (size, sha256) = hash_file(&src, throttle, None)?;
        if size == c.size && sha256 == c.sha256 {
            progress.add(1, size);
            return Ok(FileEntry {
                name: job.name.clone(),
                size,
                sha256,
                stored: false,
                source: c.source.clone(),
            });
        }
    }
    let file = File::open(&src).map_err(|e| err(format!("cannot open {}: {e}", src.display())))?;
    let mut reader = HashingReader {
        inner: file,
        hasher: Sha256::new(),
        throttle,
        progress,
    };
    let size = repo.put_object_reader(&Manifest::file_path(id, &job.name), &mut reader)?;
    progress.add(1, 0);
    Ok(FileEntry {
        name: job.name.clone(),
        size,
        sha256: hex::encode(reader.hasher.finalize()),
        stored: true,
        source: id.to_string(),
    })
}

/// Size and sha256 of a file, read in chunks.
pub fn hash_file(
    path: &Path,
    throttle: Option<&Pacer>,
    progress: Option<&Progress>,
) -> Result<(u64, String)> {
    let file = File::open(path).map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
    let mut reader = HashingReader {
        inner: file,
        hasher: Sha256::new(),
        throttle,
        progress: progress.unwrap_or(&NO_PROGRESS),
    };
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        size += n as u64;
    }
    Ok((size, hex::encode(reader.hasher.finalize())))
}

static NO_PROGRESS: std::sync::LazyLock<Progress> =
    std::sync::LazyLock::new(|| Progress::new("", super::progress::ProgressSink::Silent));

/// Hashes (and counts, and paces) every byte read through it.
struct HashingReader<'a> {
    inner: File,
    hasher: Sha256,
    throttle: Option<&'a Pacer>,
    progress: &'a Progress,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.hasher.update(got);
        if n > 0 {
            self.progress.add(0, n as u64);
            if let Some(t) = self.throttle {
                t.take(n as u64);
            }
        }
        Ok(n)
    }
}

/// Lowers the calling thread's CPU priority (nice 10) and I/O priority
/// (best-effort class, level 7). Linux applies both per thread; other
/// systems keep normal priority. Failures are ignored (advisory).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // IOPRIO_WHO_PROCESS with a thread id targets that thread;
        // value = class << 13 | level, class 2 = best effort.
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_BEST_EFFORT_LOWEST: libc::c_long = (2 << 13) | 7;
        // SAFETY: gettid, setpriority and ioprio_set take plain integers
        // and only change this thread's scheduling attributes.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid);
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
            libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                tid,
                IOPRIO_BEST_EFFORT_LOWEST,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::progress::ProgressSink;

    #[test]
    fn parallel_copy_hashes_and_references() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        let mut jobs = Vec::new();
        for i in 0..7u8 {
            let body = vec![i; 1000 + 5_000_000 * (i as usize % 2)];
            std::fs::write(src.join(format!("{i:06}.sst")), &body).expect("write");
            jobs.push(CopyJob {
                name: format!("{i:06}.sst"),
                size: body.len() as u64,
                candidate: None,
            });
        }
        let repo = Repo::open_or_init(&dir.path().join("repo"), None).expect("repo");
        let progress = Progress::new("t", ProgressSink::Silent);
        let opts = CopyOptions {
            parallel: 3,
            max_bytes_per_s: None,
            low_priority: true,
            adaptive: false,
        };
        let pacer = Pacer::new(None, false, &[]);
        let out = copy_files(&repo, &src, "B1", &jobs, &opts, &pacer, &progress).expect("copy");
        for (i, e) in out.iter().enumerate() {
            let body = std::fs::read(src.join(&e.name)).expect("read");
            assert_eq!(e.size, body.len() as u64, "{i}");
            assert_eq!(e.sha256, crate::backup::sha256_hex(&body));
            let stored = repo
                .get_object(&Manifest::file_path("B1", &e.name))
                .expect("stored");
            assert_eq!(stored, body);
        }
        // With the same file as a candidate, it is referenced, not stored;
        // a candidate with another hash is stored.
        let mut same = out[1].clone();
        same.source = "B0".into();
        let mut other = out[2].clone();
        other.sha256 = "00".into();
        let jobs = vec![
            CopyJob {
                name: out[1].name.clone(),
                size: out[1].size,
                candidate: Some(same),
            },
            CopyJob {
                name: out[2].name.clone(),
                size: out[2].size,
                candidate: Some(other),
            },
        ];
        let out2 = copy_files(&repo, &src, "B2", &jobs, &opts, &pacer, &progress).expect("copy");
        assert!(!out2[0].stored && out2[0].source == "B0");
        assert!(out2[1].stored && out2[1].source == "B2");
        assert_eq!(out2[1].sha256, out[2].sha256);
    }
}
