//! The schedule, pure: which fires are due at an instant. The daemon's alarm clock
//! (tokio-cron-scheduler, every minute in Asia/Ho_Chi_Minh) only asks this module; each due fire
//! is then claimed in the store as (job, slot), so two replicas never run the same fire, and
//! because only each job's latest slot is due, fires missed while the daemon was down run once
//! when it starts.
//!
//! Jobs:
//! - `pull`: an incremental pull every `pull_every_minutes`;
//! - `prefill:<period>`: the day after the period's cut-off at `prefill_at`, then again every
//!   `gate_retry_minutes` until one run got past the freshness gate (outcome `done`);
//! - `refresh:<period>`: every day at `refresh_at` after the pre-fill's day, until the period's
//!   last deadline (the duties'); then the period is left alone;
//! - `mail`: with e-mail configured, every day at `mail.at`: the reminders and digest due that
//!   day, for every period from its pre-fill to the day after its last deadline.

use crate::domain::{Instant, Period, PeriodKind};
use crate::duties::Duties;
use crate::settings::ScheduleSettings;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};

/// A fire's outcome when its run got past the gate (a pre-fill is then over).
pub const DONE: &str = "done";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Pull,
    Prefill(Period),
    Refresh(Period),
    Mail,
}

impl Job {
    /// The job's name in the store.
    pub fn name(&self) -> String {
        match self {
            Job::Pull => "pull".to_owned(),
            Job::Prefill(p) => format!("prefill:{}", p.id()),
            Job::Refresh(p) => format!("refresh:{}", p.id()),
            Job::Mail => "mail".to_owned(),
        }
    }
}

/// One due (or coming) fire of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub job: Job,
    pub slot: Instant,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pull_every: i64,
    prefill_at: NaiveTime,
    retry_every: i64,
    refresh_at: NaiveTime,
    kinds: Vec<PeriodKind>,
    /// Days after a period's cut-off of its last deadline (the longest of the duties).
    last_deadline_days: i64,
    /// When the day's reminders go, with e-mail configured.
    mail_at: Option<NaiveTime>,
}

fn local(day: NaiveDate, time: NaiveTime) -> Instant {
    Instant::from_local(day.and_time(time))
}

impl Schedule {
    pub fn new(settings: &ScheduleSettings, duties: &Duties) -> Result<Schedule, String> {
        Ok(Schedule {
            pull_every: i64::from(settings.pull_every_minutes.max(1)) * 60,
            prefill_at: settings.prefill_time()?,
            retry_every: i64::from(settings.gate_retry_minutes.max(1)) * 60,
            refresh_at: settings.refresh_time()?,
            kinds: settings.period_kinds()?.into_iter().flatten().collect(),
            last_deadline_days: duties
                .duties
                .iter()
                .map(|d| d.deadline_days)
                .max()
                .unwrap_or(0),
            mail_at: None,
        })
    }

    /// The daily `mail` job at `at` (ICT).
    pub fn with_mail(mut self, at: NaiveTime) -> Schedule {
        self.mail_at = Some(at);
        self
    }

    /// The periods whose reminders may be due at `now`: pre-filled, up to the day after their
    /// last deadline.
    pub fn mail_periods(&self, now: Instant) -> Vec<Period> {
        let year = now.to_local().date().year();
        let today = now.to_local().date();
        let mut out = Vec::new();
        for y in [year - 1, year] {
            for &kind in &self.kinds {
                if let Some(p) = Period::new(y, kind)
                    && self.prefill_start(&p) <= now
                    && today <= self.last_day(&p) + Duration::days(1)
                {
                    out.push(p);
                }
            }
        }
        out
    }

    /// When a period's pre-fill first fires: the day after its cut-off, at `prefill_at`.
    pub fn prefill_start(&self, period: &Period) -> Instant {
        local(period.last_day + Duration::days(1), self.prefill_at)
    }

    /// The last day a period is worked on: its last deadline.
    pub fn last_day(&self, period: &Period) -> NaiveDate {
        period.last_day + Duration::days(self.last_deadline_days.max(1))
    }

    /// The periods being worked on at `now`: pre-filled, not past their last deadline.
    pub fn active_periods(&self, now: Instant) -> Vec<Period> {
        let year = now.to_local().date().year();
        let mut out = Vec::new();
        for y in [year - 1, year] {
            for &kind in &self.kinds {
                let Some(p) = Period::new(y, kind) else {
                    continue;
                };
                let end = local(self.last_day(&p), NaiveTime::MIN).0 + 86_400;
                if self.prefill_start(&p) <= now && now.0 < end {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The fires due at `now`: each job's latest slot not after `now`. `prefilled` tells whether a
    /// period's pre-fill is over (a fire of it ended `done`).
    pub fn due(&self, now: Instant, prefilled: impl Fn(&Period) -> bool) -> Vec<Fire> {
        let mut out = vec![Fire {
            job: Job::Pull,
            slot: Instant(now.0.div_euclid(self.pull_every) * self.pull_every),
        }];
        if let Some(at) = self.mail_at {
            let today = now.to_local().date();
            let slot = if local(today, at) <= now {
                local(today, at)
            } else {
                local(today - Duration::days(1), at)
            };
            out.push(Fire {
                job: Job::Mail,
                slot,
            });
        }
        for p in self.active_periods(now) {
            let start = self.prefill_start(&p);
            if !prefilled(&p) {
                let k = (now.0 - start.0).div_euclid(self.retry_every);
                out.push(Fire {
                    job: Job::Prefill(p),
                    slot: Instant(start.0 + k * self.retry_every),
                });
                continue;
            }
            let today = now.to_local().date();
            let first = start.to_local().date() + Duration::days(1);
            let mut day = today.min(self.last_day(&p));
            if local(day, self.refresh_at) > now {
                day -= Duration::days(1);
            }
            if day >= first {
                out.push(Fire {
                    job: Job::Refresh(p),
                    slot: local(day, self.refresh_at),
                });
            }
        }
        out
    }

    /// The next fires after `now`, for the operator: the next pull, and each active or coming
    /// period's next pre-fill or refresh.
    pub fn next(&self, now: Instant, prefilled: impl Fn(&Period) -> bool) -> Vec<Fire> {
        let mut out = vec![Fire {
            job: Job::Pull,
            slot: Instant((now.0.div_euclid(self.pull_every) + 1) * self.pull_every),
        }];
        if let Some(at) = self.mail_at {
            let today = now.to_local().date();
            let day = if local(today, at) > now {
                today
            } else {
                today + Duration::days(1)
            };
            out.push(Fire {
                job: Job::Mail,
                slot: local(day, at),
            });
        }
        let year = now.to_local().date().year();
        let mut periods: Vec<Period> = [year, year + 1]
            .into_iter()
            .flat_map(|y| self.kinds.iter().filter_map(move |&k| Period::new(y, k)))
            .filter(|p| {
                let end = local(self.last_day(p), NaiveTime::MIN).0 + 86_400;
                now.0 < end
            })
            .collect();
        periods.sort_by_key(|p| p.last_day);
        for p in periods {
            let start = self.prefill_start(&p);
            if start > now {
                out.push(Fire {
                    job: Job::Prefill(p),
                    slot: start,
                });
                break;
            }
            if !prefilled(&p) {
                let k = (now.0 - start.0).div_euclid(self.retry_every) + 1;
                out.push(Fire {
                    job: Job::Prefill(p),
                    slot: Instant(start.0 + k * self.retry_every),
                });
            } else {
                let mut day = now.to_local().date();
                if local(day, self.refresh_at) <= now {
                    day += Duration::days(1);
                }
                if day <= self.last_day(&p) {
                    out.push(Fire {
                        job: Job::Refresh(p),
                        slot: local(day, self.refresh_at),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule::new(&ScheduleSettings::default(), &Duties::builtin()).unwrap()
    }

    fn at(s: &str) -> Instant {
        Instant::parse(s).unwrap()
    }

    fn jobs(fires: &[Fire]) -> Vec<(String, Instant)> {
        fires.iter().map(|f| (f.job.name(), f.slot)).collect()
    }

    #[test]
    fn the_prefill_is_due_the_morning_after_the_cut_off_then_hourly_until_done() {
        let s = schedule();
        // 2023-Q3 ends 14/09; its pre-fill is 15/09 07:00 ICT.
        let before = s.due(at("2023-09-15T06:59:00+07:00"), |_| false);
        assert_eq!(
            jobs(&before),
            [("pull".to_owned(), at("2023-09-15T06:45:00+07:00"))]
        );
        let due = s.due(at("2023-09-15T07:00:30+07:00"), |_| false);
        assert!(jobs(&due).contains(&(
            "prefill:2023-Q3".to_owned(),
            at("2023-09-15T07:00:00+07:00")
        )));
        // Down from 07:30 to 12:10: one fire, at the latest slot.
        let late = s.due(at("2023-09-15T12:10:00+07:00"), |_| false);
        assert!(jobs(&late).contains(&(
            "prefill:2023-Q3".to_owned(),
            at("2023-09-15T12:00:00+07:00")
        )));
        // Once done, refreshes daily from the next day until the last deadline (19/09).
        let done = s.due(at("2023-09-15T12:10:00+07:00"), |_| true);
        assert_eq!(
            done.len(),
            1,
            "no refresh on the pre-fill's own day: {done:?}"
        );
        let next_day = s.due(at("2023-09-16T07:05:00+07:00"), |_| true);
        assert!(jobs(&next_day).contains(&(
            "refresh:2023-Q3".to_owned(),
            at("2023-09-16T07:00:00+07:00")
        )));
        let last = s.due(at("2023-09-19T23:00:00+07:00"), |_| true);
        assert!(jobs(&last).contains(&(
            "refresh:2023-Q3".to_owned(),
            at("2023-09-19T07:00:00+07:00")
        )));
        let after = s.due(at("2023-09-20T08:00:00+07:00"), |_| true);
        assert_eq!(after.len(), 1, "then the period is left alone: {after:?}");
    }

    #[test]
    fn the_mail_job_fires_daily_at_its_time_and_covers_the_day_after_the_last_deadline() {
        let s = schedule().with_mail(NaiveTime::from_hms_opt(8, 0, 0).unwrap());
        let due = s.due(at("2023-09-16T07:59:00+07:00"), |_| true);
        assert!(jobs(&due).contains(&("mail".to_owned(), at("2023-09-15T08:00:00+07:00"))));
        let due = s.due(at("2023-09-16T08:00:00+07:00"), |_| true);
        assert!(jobs(&due).contains(&("mail".to_owned(), at("2023-09-16T08:00:00+07:00"))));
        // 2023-Q3: pre-filled 15/09, last deadline 19/09: reminders through 20/09.
        let q3: Period = "2023-Q3".parse().unwrap();
        assert!(
            !s.mail_periods(at("2023-09-15T06:00:00+07:00"))
                .contains(&q3)
        );
        assert!(
            s.mail_periods(at("2023-09-20T08:00:00+07:00"))
                .contains(&q3)
        );
        assert!(
            !s.mail_periods(at("2023-09-21T08:00:00+07:00"))
                .contains(&q3)
        );
        assert!(
            schedule()
                .due(at("2023-09-16T08:00:00+07:00"), |_| true)
                .iter()
                .all(|f| f.job != Job::Mail)
        );
    }

    #[test]
    fn the_next_fires_are_listed_for_the_operator() {
        let s = schedule();
        let next = s.next(at("2023-08-01T10:00:00+07:00"), |_| false);
        assert_eq!(
            jobs(&next),
            [
                ("pull".to_owned(), at("2023-08-01T10:15:00+07:00")),
                (
                    "prefill:2023-Q3".to_owned(),
                    at("2023-09-15T07:00:00+07:00")
                ),
            ]
        );
        let next = s.next(at("2023-09-16T08:00:00+07:00"), |_| true);
        assert!(jobs(&next).contains(&(
            "refresh:2023-Q3".to_owned(),
            at("2023-09-17T07:00:00+07:00")
        )));
    }
}
