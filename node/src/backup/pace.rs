//! Pacing a backup's copy: a fixed cap and/or a rate that adapts to how
//! much the copy slows down everyone else's disk writes.
//!
//! Why: a backup writes hundreds of MB per second into the repository.
//! Measured on a shared virtual disk (bench/backup.sh, 2 cores), a writer
//! at full speed raised the average write latency of the device from
//! 0.08 ms to 4.7 ms and the cache-flush latency from 0.1 to 0.6 ms; a
//! primary committing on the same disk (one fdatasync per commit group)
//! lost 70% of its TPS. At 50 MB/s the same copy left both latencies and
//! the TPS unchanged. CPU priority does not help there (the copy is
//! already nice'd) and neither does the I/O priority on devices without
//! a priority-aware scheduler (`none`, `mq-deadline`).
//!
//! Opt-in (backup priority `idle`): on a machine shared with other busy
//! writers the pacer also yields to *their* commits, which can cost most
//! of an idle-database backup's speed; measured on the 2-core shared
//! bench machine, its effect on the primary's TPS could not be separated
//! from the noise of other workloads (see docs/backup.md).
//!
//! How: every [`SAMPLE`] the pacer reads the block-device counters of the
//! repository's and the data directory's devices
//! (`/sys/dev/block/MAJ:MIN/stat`) and computes, over the interval, the
//! average latency of the writes completed and the number of cache
//! flushes (fsync/fdatasync of other processes: commits). When others are
//! committing (at least [`BUSY_FLUSHES`] flushes in the interval) and the
//! average write latency is above the threshold, the rate halves (down to
//! [`MIN_RATE`]); otherwise it grows by half (up to the fixed cap, or
//! unbounded). The threshold is three times the device's average write
//! latency since boot, at least [`MIN_THRESHOLD_MS`]: what "normal" is
//! depends on the hardware (a spinning disk's normal is 5 ms). A quiet
//! machine (no commits) never slows the copy down, so an idle-time backup
//! runs at the disk's speed.
//!
//! When the devices' counters cannot be read (not Linux, a virtual file
//! system), only the fixed cap applies.
//!
//! Invariants: after `bytes` in total, at least `bytes / rate` seconds
//! have passed (for the rates in force as they were taken); the pacer
//! never sleeps more than one chunk's time at [`MIN_RATE`] per call.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often the device counters are read.
const SAMPLE: Duration = Duration::from_millis(200);
/// Cache flushes per interval that mean someone else is committing.
const BUSY_FLUSHES: u64 = 10;
/// The slowest the adaptive rate goes (bytes/s).
const MIN_RATE: f64 = 8e6;
/// Where the adaptive rate starts (bytes/s): fast enough that a small
/// backup on an idle machine is not held back, and it grows from there.
const START_RATE: f64 = 128e6;
/// The fastest the adaptive rate goes (bytes/s).
const MAX_RATE: f64 = 4e9;
/// The write-latency threshold is never below this.
const MIN_THRESHOLD_MS: f64 = 0.5;

/// Counters of one block device, from its `stat` file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiskCounters {
    pub writes: u64,
    pub write_ms: u64,
    pub flushes: u64,
}

impl DiskCounters {
    /// Parses `/sys/block/*/stat` (fields: reads, merged, sectors, ms,
    /// writes, merged, sectors, ms, in flight, io ms, queue ms, then
    /// discards (4 fields), then flushes and flush ms on newer kernels).
    pub fn parse(text: &str) -> Option<DiskCounters> {
        let f: Vec<u64> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        Some(DiskCounters {
            writes: *f.get(4)?,
            write_ms: *f.get(7)?,
            flushes: f.get(15).copied().unwrap_or(0),
        })
    }
}

/// The `stat` file of the block device holding `path`, if there is one.
fn device_stat(path: &Path) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(path).ok()?.dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let stat = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/stat"));
        let text = std::fs::read_to_string(&stat).ok()?;
        DiskCounters::parse(&text).map(|_| stat)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

struct Device {
    stat: PathBuf,
    last: DiskCounters,
    threshold_ms: f64,
}

struct State {
    /// Bytes per second in force (`f64::INFINITY`: no limit).
    rate: f64,
    /// When the bytes taken so far are paid for.
    next_free: Instant,
    last_sample: Instant,
    devices: Vec<Device>,
}

/// Paces the reads of all copy workers together.
pub struct Pacer {
    cap: Option<f64>,
    adaptive: bool,
    state: Mutex<State>,
}

impl Pacer {
    /// A pacer capped at `cap` bytes/s (if given), adapting to the
    /// devices holding `watch` when `adaptive`.
    pub fn new(cap: Option<u64>, adaptive: bool, watch: &[&Path]) -> Pacer {
        let cap = cap.filter(|c| *c > 0).map(|c| c as f64);
        let mut devices: Vec<Device> = Vec::new();
        if adaptive {
            for p in watch {
                let Some(stat) = device_stat(p) else { continue };
                if devices.iter().any(|d| d.stat == stat) {
                    continue;
                }
                let Some(last) = read(&stat) else { continue };
                let normal = last.write_ms as f64 / last.writes.max(1) as f64;
                devices.push(Device {
                    stat,
                    last,
                    threshold_ms: (normal * 3.0).max(MIN_THRESHOLD_MS),
                });
            }
        }
        let adaptive = !devices.is_empty();
        let rate = match (adaptive, cap) {
            (true, Some(c)) => START_RATE.min(c),
            (true, None) => START_RATE,
            (false, Some(c)) => c,
            (false, None) => f64::INFINITY,
        };
        tracing::debug!(
            adaptive,
            devices = ?devices.iter().map(|d| (d.stat.display().to_string(), d.threshold_ms)).collect::<Vec<_>>(),
            "backup pacer"
        );
        let now = Instant::now();
        Pacer {
            cap,
            adaptive,
            state: Mutex::new(State {
                rate,
                next_free: now,
                last_sample: now,
                devices,
            }),
        }
    }

    /// Whether the pacer ever waits.
    pub fn is_active(&self) -> bool {
        self.adaptive || self.cap.is_some()
    }

    /// The rate in force (bytes/s; infinite when unlimited).
    pub fn rate(&self) -> f64 {
        self.state.lock().rate
    }

    /// Accounts `n` bytes; sleeps until they are due at the current rate.
    pub fn take(&self, n: u64) {
        if !self.is_active() {
            return;
        }
        let wake = {
            let mut s = self.state.lock();
            let now = Instant::now();
            if self.adaptive && now.duration_since(s.last_sample) >= SAMPLE {
                s.last_sample = now;
                adapt(&mut s, self.cap);
            }
            if !s.rate.is_finite() {
                return;
            }
            // Idle time is banked for at most one interval: a pause does
            // not buy a long burst later.
            let floor = now.checked_sub(SAMPLE).unwrap_or(now);
            let start = s.next_free.max(floor);
            let cost = Duration::from_secs_f64(n as f64 / s.rate.max(1.0));
            s.next_free = start + cost;
            s.next_free
        };
        let now = Instant::now();
        if wake > now {
            std::thread::sleep(wake - now);
        }
    }
}

fn read(stat: &Path) -> Option<DiskCounters> {
    DiskCounters::parse(&std::fs::read_to_string(stat).ok()?)
}

/// One step of the controller (see the module comment).
fn adapt(s: &mut State, cap: Option<f64>) {
    let mut harmful = false;
    for d in &mut s.devices {
        let Some(now) = read(&d.stat) else { continue };
        let writes = now.writes.saturating_sub(d.last.writes);
        let write_ms = now.write_ms.saturating_sub(d.last.write_ms);
        let flushes = now.flushes.saturating_sub(d.last.flushes);
        d.last = now;
        if flushes >= BUSY_FLUSHES && writes > 0 && write_ms as f64 / writes as f64 > d.threshold_ms
        {
            harmful = true;
        }
    }
    // Far beyond any disk: pacing at this rate does not slow a copy.
    let ceiling = cap.unwrap_or(MAX_RATE).min(MAX_RATE);
    s.rate = if harmful {
        (s.rate * 0.5).max(MIN_RATE)
    } else {
        (s.rate * 1.5).min(ceiling)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_disk_stat_lines() {
        let line = " 22919368  1123337 1197585090 49631617 38721060  3189103 1391824624 10514444        0  4309324 61751989   923535       79 2676843920   222529 12953338  1383398\n";
        assert_eq!(
            DiskCounters::parse(line),
            Some(DiskCounters {
                writes: 38721060,
                write_ms: 10514444,
                flushes: 12953338
            })
        );
        // Older kernels: no flush fields.
        let old = "1 2 3 4 5 6 7 8 9 10 11";
        assert_eq!(DiskCounters::parse(old).map(|c| c.flushes), Some(0));
        assert_eq!(DiskCounters::parse("1 2 x"), None);
        assert_eq!(DiskCounters::parse("1 2 3"), None);
    }

    fn state(rate: f64, threshold_ms: f64, stat: PathBuf) -> State {
        let now = Instant::now();
        State {
            rate,
            next_free: now,
            last_sample: now,
            devices: vec![Device {
                stat,
                last: DiskCounters::default(),
                threshold_ms,
            }],
        }
    }

    #[test]
    fn halves_when_commits_slow_down_and_grows_otherwise() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stat = dir.path().join("stat");
        // 100 writes at 5 ms each, 50 flushes: harmful at a 1 ms threshold.
        std::fs::write(&stat, "0 0 0 0 100 0 0 500 0 0 0 0 0 0 0 50 5").expect("write");
        let mut s = state(100e6, 1.0, stat.clone());
        adapt(&mut s, None);
        assert_eq!(s.rate, 50e6);
        // Same counters again: nothing happened, so it grows.
        adapt(&mut s, None);
        assert_eq!(s.rate, 75e6);
        // Slow writes but nobody flushing (no commits): grows, to the cap.
        std::fs::write(&stat, "0 0 0 0 200 0 0 1500 0 0 0 0 0 0 0 52 5").expect("write");
        adapt(&mut s, Some(80e6));
        assert_eq!(s.rate, 80e6);
        // Never below the floor.
        let mut s = state(MIN_RATE, 1.0, stat.clone());
        std::fs::write(&stat, "0 0 0 0 100 0 0 500 0 0 0 0 0 0 0 50 5").expect("write");
        adapt(&mut s, None);
        assert_eq!(s.rate, MIN_RATE);
    }

    #[test]
    fn a_fixed_cap_paces_all_takers_together() {
        let p = Pacer::new(Some(10_000_000), false, &[]);
        let start = Instant::now();
        for _ in 0..4 {
            p.take(1_000_000);
        }
        assert!(start.elapsed() >= Duration::from_millis(350));
        let free = Pacer::new(None, false, &[]);
        assert!(!free.is_active());
    }
}
