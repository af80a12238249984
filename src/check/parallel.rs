//! Captures checked several at once: a gate over a directory of captures uses every core, and
//! reports exactly what checking them one after the other reports.
//!
//! Captures are independent until their results are reported: analysing one and holding it
//! against its expectations needs nothing of another. So workers take the next capture in
//! order as they become free, and the results are reported (printed, held against the shared
//! baseline, written to the JUnit report) in the order the captures were found, as soon as every
//! capture before them is reported. Workers run at most a few captures ahead of the last one
//! reported, so the results waiting for a slow capture stay few.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use super::discover::Job;
use super::{Analysed, CheckError, CheckOptions, analyse_capture};

/// How far the workers may run ahead of the capture reported last, in captures per worker.
const AHEAD: usize = 4;

/// Captures analysed at once, and threads for each one's analysis, out of `threads`: as many
/// captures as there are threads, and the threads left over shared among them (a single
/// capture gets them all: its frames read and decoded on a thread of their own, see
/// [`crate::run::run_offline`]).
pub(super) fn split(threads: usize, captures: usize) -> (usize, usize) {
    let at_once = threads.min(captures).max(1);
    (at_once, (threads / at_once).max(1))
}

/// Analyses `jobs` on `opts.threads` threads and hands each analysed capture to `report` in the
/// order of `jobs`, whatever order they finish in. An error from `report` stops the run: the
/// captures under way are finished, no more are started.
pub(super) fn check_all(
    jobs: &[Job],
    opts: &CheckOptions,
    report: &mut dyn FnMut(Analysed) -> Result<(), CheckError>,
) -> Result<(), CheckError> {
    let (at_once, threads) = split(opts.threads, jobs.len());
    in_order(
        jobs.len(),
        at_once,
        |i| analyse_capture(&jobs[i], opts, threads),
        report,
    )
}

/// Runs `work` for `0..count`, `at_once` at a time, and hands the results to `report` in
/// order. An error from `report` stops the run: the work under way is finished, no more is
/// started.
fn in_order<T: Send, E>(
    count: usize,
    at_once: usize,
    work: impl Fn(usize) -> T + Sync,
    report: &mut dyn FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    let mut reported = 0;
    if at_once > 1 && count > 1 {
        let window = Window {
            state: Mutex::new(State {
                next: 0,
                reported: 0,
                stop: false,
            }),
            moved: Condvar::new(),
            ahead: AHEAD * at_once,
        };
        let (tx, rx) = mpsc::channel();
        reported = thread::scope(|s| {
            for _ in 0..at_once.min(count) {
                let (tx, window, work) = (tx.clone(), &window, &work);
                let worker = move || {
                    while let Some(i) = window.claim(count) {
                        let done = panic::catch_unwind(AssertUnwindSafe(|| work(i)));
                        if tx.send((i, done)).is_err() {
                            break;
                        }
                    }
                };
                // A worker that cannot be started leaves its share to the others (or, with
                // none started, to this thread below).
                let spawned = thread::Builder::new()
                    .name("tcpaudit-check".into())
                    .spawn_scoped(s, worker);
                if spawned.is_err() {
                    break;
                }
            }
            drop(tx);
            let done = report_in_order(&rx, &window, report);
            window.stop();
            done
        })?;
    }
    // One at a time: with one thread, or when no worker could be started.
    for i in reported..count {
        report(work(i))?;
    }
    Ok(())
}

/// Reports what the workers send, in order; gives the number reported once they have all
/// stopped. A panic in a worker is raised again here.
fn report_in_order<T, E>(
    rx: &mpsc::Receiver<(usize, thread::Result<T>)>,
    window: &Window,
    report: &mut dyn FnMut(T) -> Result<(), E>,
) -> Result<usize, E> {
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    for (i, done) in rx {
        match done {
            Ok(t) => waiting.insert(i, t),
            Err(panicked) => {
                window.stop();
                panic::resume_unwind(panicked);
            }
        };
        while let Some(t) = waiting.remove(&next) {
            if let Err(e) = report(t) {
                window.stop();
                return Err(e);
            }
            next += 1;
            window.reported(next);
        }
    }
    Ok(next)
}

/// Which capture is next, and how far the workers may go.
struct Window {
    state: Mutex<State>,
    /// Signalled when a capture is reported or the run stops.
    moved: Condvar,
    /// Captures that may be taken beyond the last one reported.
    ahead: usize,
}

struct State {
    /// The next capture to take.
    next: usize,
    /// Captures reported so far.
    reported: usize,
    /// Take no more.
    stop: bool,
}

impl Window {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next capture to analyse, once it is within reach; `None` when there is none left
    /// or the run stopped.
    fn claim(&self, captures: usize) -> Option<usize> {
        let mut st = self.lock();
        loop {
            if st.stop || st.next >= captures {
                return None;
            }
            if st.next < st.reported + self.ahead {
                st.next += 1;
                return Some(st.next - 1);
            }
            st = self.moved.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// `n` captures have been reported.
    fn reported(&self, n: usize) {
        self.lock().reported = n;
        self.moved.notify_all();
    }

    /// No capture is to be taken any more.
    fn stop(&self) {
        self.lock().stop = true;
        self.moved.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::{in_order, split};

    /// The first piece of work is the slowest: the others finish before it, wait, and are
    /// reported after it, in order.
    #[test]
    fn results_are_reported_in_order_whatever_order_they_finish_in() {
        for at_once in [1, 2, 3, 8] {
            let finished = Mutex::new(Vec::new());
            let mut reported = Vec::new();
            let r: Result<(), ()> = in_order(
                20,
                at_once,
                |i| {
                    if i == 0 {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    finished.lock().unwrap().push(i);
                    i * 10
                },
                &mut |v| {
                    reported.push(v);
                    Ok(())
                },
            );
            assert_eq!(r, Ok(()));
            assert_eq!(reported, (0..20).map(|i| i * 10).collect::<Vec<_>>());
            let finished = finished.into_inner().unwrap();
            if at_once > 1 {
                assert_ne!(finished[0], 0, "{at_once} at once: {finished:?}");
                // No further than the window allows ahead of the slow one.
                let before = finished.iter().take_while(|&&i| i != 0).count();
                assert!(
                    before < super::AHEAD * at_once,
                    "{before} ahead: {finished:?}"
                );
            } else {
                assert_eq!(finished, (0..20).collect::<Vec<_>>());
            }
        }
    }

    /// A report that fails stops the run: nothing after it is reported, and the work taken
    /// stays within the window.
    #[test]
    fn a_failed_report_stops_the_work() {
        let started = Mutex::new(0);
        let mut reported = Vec::new();
        let r = in_order(
            1000,
            3,
            |i| {
                *started.lock().unwrap() += 1;
                i
            },
            &mut |v| {
                reported.push(v);
                if v == 5 { Err("full") } else { Ok(()) }
            },
        );
        assert_eq!(r, Err("full"));
        assert_eq!(reported, [0, 1, 2, 3, 4, 5]);
        assert!(*started.lock().unwrap() <= 6 + super::AHEAD * 3);
    }

    /// A panic in a piece of work reaches the caller.
    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| {
            let _: Result<(), ()> =
                in_order(50, 4, |i| assert!(i != 7, "work {i} failed"), &mut |_| {
                    Ok(())
                });
        });
        let msg = r.unwrap_err();
        let msg = msg
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(msg.contains("work 7 failed"), "{msg}");
    }

    #[test]
    fn threads_go_to_captures_first_and_all_to_a_single_one() {
        assert_eq!(split(1, 10), (1, 1));
        assert_eq!(split(2, 1), (1, 2));
        assert_eq!(split(2, 10), (2, 1));
        assert_eq!(split(8, 3), (3, 2));
        assert_eq!(split(16, 100), (16, 1));
        // `threads` is at least one by the time it gets here; zero captures never do.
        assert_eq!(split(0, 5), (1, 1));
    }
}
