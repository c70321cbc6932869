//! Ansible's linear ordering where another host could see the difference. Hosts run on their own
//! between sync points; at a sync point (a task that can observe other hosts, see
//! `TaskDef::is_sync_point`) no host starts the task before every host still in the play has
//! finished the tasks before it, and none goes past it before every host has finished it.
//!
//! Points are numbered in the order every host meets them, so a host that skips one (its tasks
//! ended early) counts as having passed it. A host that fails, is unreachable or is done leaves,
//! and no one waits for it any more.

use super::interrupt::Interrupt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Where a host stands: the last point it reached, or gone from the play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    At(u64),
    Left,
}

pub struct Lockstep {
    standings: watch::Sender<Vec<Standing>>,
    /// A host waiting at a point gives up its fork, so that hosts not started yet (more hosts
    /// than forks) can reach the point too.
    forks: Arc<Semaphore>,
    interrupt: Arc<Interrupt>,
}

/// The numbers of the points, in the order every host meets them: before a task, before and
/// after each handler of a flush at that task (a `meta: flush_handlers`, or the end of the tasks,
/// numbered as the task after the last), after the task.
#[derive(Debug, Clone, Copy)]
pub struct Points {
    stride: u64,
}

impl Points {
    pub fn new(handlers: usize) -> Points {
        Points {
            stride: 2 * handlers as u64 + 3,
        }
    }

    pub fn before_task(self, task: usize) -> u64 {
        1 + task as u64 * self.stride
    }

    pub fn before_handler(self, task: usize, handler: usize) -> u64 {
        self.before_task(task) + 1 + 2 * handler as u64
    }

    pub fn after_handler(self, task: usize, handler: usize) -> u64 {
        self.before_task(task) + 2 + 2 * handler as u64
    }

    pub fn after_task(self, task: usize) -> u64 {
        self.before_task(task) + self.stride - 1
    }
}

/// A host's place in the play, holding its fork while it works; gives both up when dropped.
pub struct Seat<'a> {
    lockstep: &'a Lockstep,
    pub number: usize,
    fork: Option<OwnedSemaphorePermit>,
}

impl<'a> Seat<'a> {
    /// Waits for a fork, then takes place `number`.
    pub async fn take(lockstep: &'a Lockstep, number: usize) -> Seat<'a> {
        let fork = Some(lockstep.fork().await);
        Seat {
            lockstep,
            number,
            fork,
        }
    }

    /// This host reached `point`: waits until every host still in the play has reached it.
    /// Returns false when the run was interrupted meanwhile.
    pub async fn arrive(&mut self, point: u64) -> bool {
        self.lockstep
            .arrive(self.number, point, &mut self.fork)
            .await
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        self.lockstep.leave(self.number);
    }
}

impl Lockstep {
    pub fn new(hosts: usize, forks: Arc<Semaphore>, interrupt: Arc<Interrupt>) -> Lockstep {
        Lockstep {
            standings: watch::Sender::new(vec![Standing::At(0); hosts]),
            forks,
            interrupt,
        }
    }

    async fn fork(&self) -> OwnedSemaphorePermit {
        self.forks
            .clone()
            .acquire_owned()
            .await
            .expect("the fork semaphore is never closed")
    }

    async fn arrive(
        &self,
        host: usize,
        point: u64,
        fork: &mut Option<OwnedSemaphorePermit>,
    ) -> bool {
        self.standings.send_modify(|s| {
            if let Standing::At(p) = s[host] {
                s[host] = Standing::At(p.max(point));
            }
        });
        let reached = |s: &Vec<Standing>| {
            s.iter().all(|st| match st {
                Standing::At(p) => *p >= point,
                Standing::Left => true,
            })
        };
        if reached(&self.standings.borrow()) {
            return true;
        }
        fork.take();
        let mut changes = self.standings.subscribe();
        loop {
            if self.interrupt.signal().is_some() {
                return false;
            }
            // The interrupt flag has no waker of its own: look at it now and then.
            match tokio::time::timeout(Duration::from_millis(200), changes.wait_for(reached)).await
            {
                Ok(Ok(_)) => break,
                Ok(Err(_)) => unreachable!("the sender lives in self"),
                Err(_) => continue,
            }
        }
        *fork = Some(self.fork().await);
        // Getting a fork back can take long with more hosts than forks.
        self.interrupt.signal().is_none()
    }

    /// Host `host` is out of the play (done, failed, unreachable or interrupted).
    fn leave(&self, host: usize) {
        self.standings.send_modify(|s| s[host] = Standing::Left);
    }

    /// The first host still in the play, in the play's order: where a `run_once` task runs.
    pub fn first_in_play(&self) -> Option<usize> {
        self.standings
            .borrow()
            .iter()
            .position(|s| *s != Standing::Left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn lockstep(hosts: usize, forks: usize) -> Arc<Lockstep> {
        Arc::new(Lockstep::new(
            hosts,
            Arc::new(Semaphore::new(forks)),
            Arc::new(Interrupt::default()),
        ))
    }

    const POINTS: Points = Points { stride: 7 };

    #[test]
    fn points_come_in_the_order_hosts_meet_them() {
        let p = Points::new(2);
        let order = [
            p.before_task(0),
            p.after_task(0),
            p.before_task(1),
            p.before_handler(1, 0),
            p.after_handler(1, 0),
            p.before_handler(1, 1),
            p.after_handler(1, 1),
            p.after_task(1),
            p.before_task(2),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(order[0] > 0, "0 is where every host starts");
    }

    #[tokio::test]
    async fn no_host_passes_a_point_before_all_reached_it() {
        let l = lockstep(3, 3);
        let done_before = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for host in 0..3 {
            let (l, done_before) = (l.clone(), done_before.clone());
            handles.push(tokio::spawn(async move {
                let mut seat = Seat::take(&l, host).await;
                tokio::time::sleep(Duration::from_millis(50 * host as u64)).await;
                done_before.fetch_add(1, Ordering::SeqCst);
                assert!(seat.arrive(POINTS.before_task(1)).await);
                done_before.load(Ordering::SeqCst)
            }));
        }
        for h in handles {
            assert_eq!(
                h.await.unwrap(),
                3,
                "a host went on before the others arrived"
            );
        }
    }

    #[tokio::test]
    async fn a_host_that_leaves_is_not_waited_for() {
        let l = lockstep(2, 2);
        let other = Seat::take(&l, 1).await;
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move {
                let mut seat = Seat::take(&l, 0).await;
                seat.arrive(POINTS.before_task(2)).await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        assert_eq!(l.first_in_play(), Some(0));
        drop(other);
        assert!(waiter.await.unwrap());
        assert_eq!(l.first_in_play(), None, "both seats are given up");
    }

    #[tokio::test]
    async fn more_hosts_than_forks_do_not_deadlock() {
        let l = lockstep(3, 1);
        let mut handles = Vec::new();
        for host in 0..3 {
            let l = l.clone();
            handles.push(tokio::spawn(async move {
                let mut seat = Seat::take(&l, host).await;
                assert!(seat.arrive(POINTS.before_task(0)).await);
                assert!(seat.arrive(POINTS.after_task(0)).await);
                assert!(seat.fork.is_some());
            }));
        }
        for h in handles {
            tokio::time::timeout(Duration::from_secs(5), h)
                .await
                .expect("deadlock")
                .unwrap();
        }
    }

    #[tokio::test]
    async fn an_interrupt_ends_the_wait() {
        let interrupt = Arc::new(Interrupt::default());
        let l = Lockstep::new(2, Arc::new(Semaphore::new(2)), interrupt.clone());
        let mut seat = Seat::take(&l, 0).await;
        interrupt.request(super::super::interrupt::Signal::Int);
        assert!(!seat.arrive(POINTS.before_task(0)).await);
    }
}
