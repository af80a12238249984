//! Capture clock faults: frame timestamps no capture clock can have given.
//!
//! A capture file can carry any 64-bit time: a zeroed or garbled record header, a pcapng
//! timestamp with its high bits set, a clock that stepped by decades. Every timer, RTT and
//! duration is a difference of frame times, so one such frame would give a connection a
//! 292-year RTT or expire every connection in the table. [`CaptureClock`] screens the times
//! before the engine sees them: a fault is counted, and the frame is analysed at the time of
//! the capture so far (its bytes still count; only its time is unusable). Faults that follow
//! one another's time (an interface of a pcapng file whose clock or `if_tsoffset` is off by
//! decades) keep their spacing from the first of them, so the RTTs and durations they show
//! among themselves survive.

use super::{Duration, Timestamp};

/// The earliest plausible frame time: the Unix epoch. Captures made with a clock that was never
/// set start here, so the epoch itself is accepted; anything before it is a fault.
pub const EARLIEST: Timestamp = Timestamp::EPOCH;
/// The first implausible frame time: 2100-01-01 00:00:00 UTC.
pub const LATEST: Timestamp = Timestamp::from_secs_nanos(4_102_444_800, 0);
/// The largest step from the capture's clock (the latest time accepted so far) that is believed
/// without confirmation: a year. Clocks that are set while capturing step by seconds or hours
/// (NTP, time zones mistaken for UTC), not by years.
pub const MAX_STEP: Duration = Duration::from_secs(365 * 86_400);

/// Frames held earlier are to be analysed now, in their order, before the frame checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// The time to analyse them at.
    pub at: Timestamp,
    /// Their times were faults (already counted), so `at` is not theirs.
    pub fault: bool,
}

/// What to do with one frame, from [`CaptureClock::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Frames held earlier to analyse first.
    pub release: Option<Release>,
    /// The time to analyse this frame at, or `None` to hold it (a copy) until a later verdict
    /// or [`CaptureClock::end`] releases it.
    pub at: Option<Timestamp>,
    /// This frame's time was a fault (counted), so `at` is not its own.
    pub fault: bool,
}

/// Screens frame times; see the module documentation.
///
/// A frame more than [`MAX_STEP`] ahead of the clock is held until the next frame tells what
/// it was: captures of different years concatenated into one file leap ahead for good (the
/// next frame is near the leap, and both keep their times), a garbled time leaps alone (the
/// next frame is back near the clock, and the held frame was a fault). Accepting the leap at
/// once would expire every connection and make every later frame a fault; refusing it would
/// misdate the first frame of the later capture. Frames before any plausible time are held
/// too, and released at the first plausible time.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaptureClock {
    /// The latest frame time accepted, once there is one.
    now: Option<Timestamp>,
    /// The time of the frame held because it leapt ahead.
    leap: Option<Timestamp>,
    /// The latest faulty time, and what to add to faulty times near it to place them on the
    /// capture's clock.
    fault_domain: Option<(Timestamp, Duration)>,
    /// Frames whose time was a fault.
    faults: u64,
}

impl CaptureClock {
    /// A clock that has seen no frame.
    pub const fn new() -> Self {
        CaptureClock {
            now: None,
            leap: None,
            fault_domain: None,
            faults: 0,
        }
    }

    /// Frames whose time was a fault so far.
    pub const fn faults(&self) -> u64 {
        self.faults
    }

    /// The latest plausible time accepted, once there is one.
    pub const fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// What to do with a frame stamped `ts`; see [`Verdict`].
    ///
    /// Plausible: from 1970 to 2099, not more than [`MAX_STEP`] before the latest time
    /// accepted (the connection table's clock never goes back, so a frame from years earlier
    /// would find every timer expired), and not more than [`MAX_STEP`] after it unless the
    /// next frame confirms the leap.
    #[inline]
    pub fn check(&mut self, ts: Timestamp) -> Verdict {
        // Nearly every frame: a plausible time within a step of the latest, with no leap
        // waiting for confirmation. Checked here, inline, at every frame; the rest below.
        if let Some(now) = self.now
            && self.leap.is_none()
            && (EARLIEST..LATEST).contains(&ts)
            && ts.since(now).abs() <= MAX_STEP
        {
            self.now = Some(now.max(ts));
            return Verdict {
                release: None,
                at: Some(ts),
                fault: false,
            };
        }
        self.check_any(ts)
    }

    /// [`Self::check`] for any time and any state of the clock.
    fn check_any(&mut self, ts: Timestamp) -> Verdict {
        let in_range = (EARLIEST..LATEST).contains(&ts);
        let Some(now) = self.now else {
            if !in_range {
                self.faults = self.faults.saturating_add(1);
                return Verdict {
                    release: None,
                    at: None,
                    fault: true,
                };
            }
            self.now = Some(ts);
            // Frames held before any plausible time (if any) take this one's.
            return Verdict {
                release: Some(Release {
                    at: ts,
                    fault: true,
                }),
                at: Some(ts),
                fault: false,
            };
        };
        let mut release = None;
        if let Some(leap) = self.leap.take() {
            if in_range && ts.since(leap).abs() <= MAX_STEP {
                self.now = Some(leap.max(ts));
                return Verdict {
                    release: Some(Release {
                        at: leap,
                        fault: false,
                    }),
                    at: Some(ts),
                    fault: false,
                };
            }
            release = Some(Release {
                at: self.fault(leap, now),
                fault: true,
            });
        }
        let step = ts.since(now);
        if !in_range || step < -MAX_STEP {
            return Verdict {
                release,
                at: Some(self.fault(ts, now)),
                fault: true,
            };
        }
        if step > MAX_STEP {
            self.leap = Some(ts);
            return Verdict {
                release,
                at: None,
                fault: false,
            };
        }
        self.now = Some(now.max(ts));
        Verdict {
            release,
            at: Some(ts),
            fault: false,
        }
    }

    /// Counts the faulty time `ts` and returns the time to analyse its frame at: `now`, or as
    /// far from it as `ts` is from the previous fault when that one was near.
    fn fault(&mut self, ts: Timestamp, now: Timestamp) -> Timestamp {
        self.faults = self.faults.saturating_add(1);
        let placed = self
            .fault_domain
            .filter(|(last, _)| ts.since(*last).abs() <= MAX_STEP)
            .map(|(_, shift)| ts + shift)
            .filter(|t| t.since(now).abs() <= MAX_STEP && (EARLIEST..LATEST).contains(t));
        let at = match placed {
            Some(t) => t,
            None => {
                // A new run of faults starts at the capture's time; a shift that does not fit
                // (times 292 years apart) leaves every fault of the run at the capture's time.
                self.fault_domain = ts.checked_since(now).map(|d| (ts, -d));
                now
            }
        };
        if let Some((last, _)) = self.fault_domain.as_mut() {
            *last = ts;
        }
        self.now = Some(now.max(at));
        at
    }

    /// The capture ended: the time to analyse the frames still held at, if any (a lone leap
    /// at the very end is a fault; frames that never saw a plausible time take the epoch).
    pub fn end(&mut self) -> Release {
        let at = match (self.leap.take(), self.now) {
            (Some(leap), Some(now)) => self.fault(leap, now),
            (_, now) => now.unwrap_or(EARLIEST),
        };
        Release { at, fault: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_secs_nanos(1_700_000_000, 0);

    /// The time each frame is analysed at, in the order they are analysed (held frames come
    /// out before the frame that released them), and the faults counted.
    fn run(times: &[Timestamp]) -> (Vec<(usize, Timestamp)>, u64) {
        let mut c = CaptureClock::new();
        let (mut out, mut held) = (Vec::new(), Vec::new());
        for (i, &t) in times.iter().enumerate() {
            let v = c.check(t);
            if let Some(r) = v.release {
                out.extend(held.drain(..).map(|h| (h, r.at)));
            }
            match v.at {
                Some(at) => out.push((i, at)),
                None => held.push(i),
            }
        }
        let r = c.end();
        out.extend(held.drain(..).map(|h| (h, r.at)));
        (out, c.faults())
    }

    fn in_order(times: &[Timestamp]) -> Vec<(usize, Timestamp)> {
        times.iter().copied().enumerate().collect()
    }

    #[test]
    fn plausible_times_pass_unchanged() {
        let later = T0.add(Duration::from_secs(10));
        let earlier = T0.sub(Duration::from_secs(3600));
        let times = [
            T0,
            later,
            earlier,
            later,
            LATEST.sub(Duration::from_nanos(1)),
        ];
        assert_eq!(run(&times[..4]), (in_order(&times[..4]), 0));
        let times = [EARLIEST, EARLIEST.add(MAX_STEP)];
        assert_eq!(run(&times), (in_order(&times), 0));
    }

    #[test]
    fn out_of_range_times_take_the_capture_time() {
        let too_late = Timestamp::from_secs_nanos(16_725_225_600, 0); // 2500
        let (out, faults) = run(&[T0, Timestamp::MIN, too_late, Timestamp::MAX, LATEST]);
        assert_eq!(out, in_order(&[T0; 5]));
        assert_eq!(faults, 4);
    }

    #[test]
    fn frames_before_any_plausible_time_wait_for_one() {
        let next = T0.add(Duration::from_secs(1));
        let (out, faults) = run(&[Timestamp::from_nanos(-1), Timestamp::MAX, T0, next]);
        assert_eq!(out, [(0, T0), (1, T0), (2, T0), (3, next)]);
        assert_eq!(faults, 2);
        let (out, faults) = run(&[Timestamp::MIN]);
        assert_eq!((out, faults), (vec![(0, EARLIEST)], 1));
    }

    #[test]
    fn faults_near_one_another_keep_their_spacing() {
        // An interface whose clock says 1969, interleaved with one that says 2023.
        let off = |ms: i64| Timestamp::from_secs_nanos(-505, 0).add(Duration::from_millis(ms));
        let ms = |ms: i64| T0.add(Duration::from_millis(ms));
        let (out, faults) = run(&[T0, off(0), ms(1), off(3), ms(2), off(40)]);
        let want = [ms(0), ms(0), ms(1), ms(3), ms(2), ms(40)];
        assert_eq!(out, in_order(&want));
        assert_eq!(faults, 3);
        // Far from the previous fault, or from the capture's time once shifted: a new run.
        let (out, _) = run(&[T0, off(0), Timestamp::MIN, off(5), ms(10), Timestamp::MAX]);
        let want = [ms(0), ms(0), ms(0), ms(0), ms(10), ms(10)];
        assert_eq!(out, in_order(&want));
    }

    #[test]
    fn a_step_back_of_more_than_a_year_is_a_fault() {
        let (out, faults) = run(&[T0, Timestamp::EPOCH, T0.sub(MAX_STEP), T0]);
        assert_eq!(out, [(0, T0), (1, T0), (2, T0.sub(MAX_STEP)), (3, T0)]);
        assert_eq!(faults, 1);
    }

    #[test]
    fn a_lone_leap_ahead_is_a_fault_and_a_confirmed_one_moves_the_clock() {
        let ahead = T0.add(MAX_STEP.saturating_mul(20));
        let next = T0.add(Duration::from_secs(1));
        let (out, faults) = run(&[T0, ahead, next]);
        assert_eq!(out, [(0, T0), (1, T0), (2, next)]);
        assert_eq!(faults, 1);
        // Two captures six years apart in one file: every frame keeps its time.
        let times = [T0, ahead, ahead.add(Duration::from_secs(1))];
        assert_eq!(run(&times), (in_order(&times), 0));
        // The epoch first, then a capture in 2023.
        let times = [Timestamp::EPOCH, T0, next];
        assert_eq!(run(&times), (in_order(&times), 0));
        // A leap at the very end, and a leap followed by a fault.
        assert_eq!(run(&[T0, ahead]), (vec![(0, T0), (1, T0)], 1));
        let (out, faults) = run(&[T0, ahead, Timestamp::MIN, next]);
        assert_eq!(out, [(0, T0), (1, T0), (2, T0), (3, next)]);
        assert_eq!(faults, 2);
    }
}
