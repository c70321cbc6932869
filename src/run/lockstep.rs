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

/// The point before task `index` of the task file.
pub fn before_task(index: usize) -> u64 {
    2 * index as u64 + 1
}

/// The point after task `index`.
pub fn after_task(index: usize) -> u64 {
    2 * index as u64 + 2
}

/// The point before the handlers notified during the tasks run, at the end of the play.
pub fn before_final_handlers(task_count: usize) -> u64 {
    before_task(task_count)
}

impl Lockstep {
    pub fn new(hosts: usize, forks: Arc<Semaphore>, interrupt: Arc<Interrupt>) -> Lockstep {
        Lockstep {
            standings: watch::Sender::new(vec![Standing::At(0); hosts]),
            forks,
            interrupt,
        }
    }

    pub async fn fork(&self) -> OwnedSemaphorePermit {
        self.forks
            .clone()
            .acquire_owned()
            .await
            .expect("the fork semaphore is never closed")
    }

    /// Host `host` reached `point`: waits until every host still in the play has reached it.
    /// Returns false when the run was interrupted while waiting.
    pub async fn arrive(
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
        true
    }

    /// Host `host` is out of the play (done, failed, unreachable or interrupted).
    pub fn leave(&self, host: usize) {
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

    #[tokio::test]
    async fn no_host_passes_a_point_before_all_reached_it() {
        let l = lockstep(3, 3);
        let done_before = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for host in 0..3 {
            let (l, done_before) = (l.clone(), done_before.clone());
            handles.push(tokio::spawn(async move {
                let mut fork = Some(l.fork().await);
                tokio::time::sleep(Duration::from_millis(50 * host as u64)).await;
                done_before.fetch_add(1, Ordering::SeqCst);
                assert!(l.arrive(host, before_task(1), &mut fork).await);
                let seen = done_before.load(Ordering::SeqCst);
                l.leave(host);
                seen
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
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move {
                let mut fork = Some(l.fork().await);
                l.arrive(0, before_task(2), &mut fork).await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        l.leave(1);
        assert!(waiter.await.unwrap());
        assert_eq!(l.first_in_play(), Some(0));
    }

    #[tokio::test]
    async fn more_hosts_than_forks_do_not_deadlock() {
        let l = lockstep(3, 1);
        let mut handles = Vec::new();
        for host in 0..3 {
            let l = l.clone();
            handles.push(tokio::spawn(async move {
                let mut fork = Some(l.fork().await);
                assert!(l.arrive(host, before_task(0), &mut fork).await);
                assert!(l.arrive(host, after_task(0), &mut fork).await);
                assert!(fork.is_some());
                l.leave(host);
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
        let mut fork = Some(l.fork().await);
        interrupt.request(super::super::interrupt::Signal::Int);
        assert!(!l.arrive(0, before_task(0), &mut fork).await);
    }
}
