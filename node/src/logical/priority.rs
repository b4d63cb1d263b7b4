//! Scheduling priority of the threads on the replication path.
//!
//! A change reaches a subscriber through a few threads: the publisher's
//! change stream producer (WAL → lines) and the subscriber's apply thread
//! (socket → local commit). On a machine whose cores are all busy (the
//! publisher's own client sessions, other processes), every hand-off to one
//! of them waits for a core, and the commit-to-visible tail is mostly those
//! waits. Running these few threads a little ahead of ordinary work (a
//! lower nice value, per thread) lets the scheduler pick them first when
//! they wake. They use little CPU themselves, so the sessions lose almost
//! nothing.
//!
//! Best effort: lowering a nice value needs `CAP_SYS_NICE` (or
//! `RLIMIT_NICE`); without it the thread keeps its priority and a debug
//! line says so. `Boost` restores the previous value when dropped, since
//! the producer runs on a pooled blocking thread that is reused for other
//! work afterwards.

/// Nice value of the replication threads (ordinary threads run at 0).
pub const REPLICATION_NICE: i32 = -5;

/// A raised priority of the current thread, restored on drop.
pub struct Boost {
    previous: Option<i32>,
}

#[cfg(target_os = "linux")]
fn current_tid() -> libc::id_t {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    libc::id_t::try_from(tid).unwrap_or(0)
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: setpriority on our own thread id; no memory is passed.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, current_tid(), nice) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(target_os = "linux")]
fn get_nice() -> Option<i32> {
    // getpriority returns the nice value, and -1 is a valid one: errno
    // tells an error apart.
    // SAFETY: clearing and reading errno of this thread.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: getpriority on our own thread id; no memory is passed.
    let n = unsafe { libc::getpriority(libc::PRIO_PROCESS, current_tid()) };
    // SAFETY: reading errno of this thread.
    let errno = unsafe { *libc::__errno_location() };
    (errno == 0).then_some(n)
}

impl Boost {
    /// Runs the current thread at `REPLICATION_NICE` (when allowed) until
    /// the returned guard is dropped.
    #[cfg(target_os = "linux")]
    pub fn current_thread() -> Boost {
        let Some(previous) = get_nice() else {
            return Boost { previous: None };
        };
        if previous <= REPLICATION_NICE {
            return Boost { previous: None };
        }
        match set_nice(REPLICATION_NICE) {
            Ok(()) => Boost {
                previous: Some(previous),
            },
            Err(e) => {
                tracing::debug!(error = %e, "cannot raise the priority of a replication thread");
                Boost { previous: None }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn current_thread() -> Boost {
        Boost { previous: None }
    }
}

impl Drop for Boost {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(n) = self.previous {
            if let Err(e) = set_nice(n) {
                tracing::debug!(error = %e, "cannot restore a thread's priority");
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn boost_is_restored() {
        std::thread::spawn(|| {
            let before = get_nice();
            {
                let b = Boost::current_thread();
                if b.previous.is_some() {
                    assert_eq!(get_nice(), Some(REPLICATION_NICE));
                }
            }
            assert_eq!(get_nice(), before);
        })
        .join()
        .unwrap();
    }
}
