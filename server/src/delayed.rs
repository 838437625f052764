//! Delayed operations: requests that wait for something to happen, in one place.
//!
//! Kafka parks such requests in a purgatory (`DelayedOperationPurgatory`): each operation can try to
//! complete, is watched under the keys whose changes may complete it, and expires at its deadline.
//! Here an operation is an async wait built from the same three parts:
//! - `try_complete` builds the answer if the condition holds (enough bytes for a fetch, the high watermark
//!   past an `acks=all` batch),
//! - the [`Watchers`] of its keys (each partition owns one; a consumer group will own one) wake it when
//!   the key changes, and it tries again; completion is triggered by the event, never by polling,
//! - `on_expire` builds the answer at the deadline.
//!
//! The fast path takes no lock: an operation whose condition already holds completes before it watches
//! anything. A waiting operation registers itself on each key (a short per-key lock) and is woken once per
//! change; registrations of finished operations are weak and are dropped as the list is next touched.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::time::Instant;

use std::time::Duration;

use tokio::sync::Notify;

/// The operations waiting on one key.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    /// How many registrations the list holds (read without the lock by [`Watchers::wake`]).
    count: AtomicUsize,
    list: Mutex<Vec<Weak<Notify>>>,
}

impl Watchers {
    fn watch(&self, waiter: &Arc<Notify>) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        // Drop registrations of operations that finished without being woken, and our own earlier one.
        list.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(waiter)));
        list.push(Arc::downgrade(waiter));
        self.count.store(list.len(), Ordering::Release);
    }

    /// Wakes every operation waiting on this key (they re-check their condition). Cheap when none waits.
    pub(crate) fn wake(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let woken: Vec<Weak<Notify>> = {
            let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            self.count.store(0, Ordering::Release);
            std::mem::take(&mut *list)
        };
        for w in woken {
            if let Some(n) = w.upgrade() {
                n.notify_one();
            }
        }
    }
}

/// Counters of the delayed operations, for the metrics.
#[derive(Debug, Default)]
pub(crate) struct DelayedOperations {
    waiting: AtomicU64,
    woken: AtomicU64,
    expired: AtomicU64,
}

/// What the counters say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DelayedStats {
    /// Operations waiting now.
    pub(crate) waiting: u64,
    /// Wake-ups by an event on a watched key.
    pub(crate) woken: u64,
    /// Operations completed by their deadline.
    pub(crate) expired: u64,
}

impl DelayedOperations {
    /// Completes an operation: at once if `try_complete` succeeds, else when an event on one of `keys` lets
    /// it succeed, else with `on_expire` after `max_wait`. Returns the answer and how long it waited.
    pub(crate) async fn wait<'k, T, K>(
        &self,
        keys: K,
        max_wait: Duration,
        mut try_complete: impl FnMut() -> Option<T>,
        on_expire: impl FnOnce() -> T,
    ) -> (T, Duration)
    where
        K: IntoIterator<Item = &'k Watchers> + Clone,
    {
        if let Some(done) = try_complete() {
            return (done, Duration::ZERO);
        }
        if max_wait.is_zero() {
            return (on_expire(), Duration::ZERO);
        }
        // The clock is read only once the fast path failed.
        let started = Instant::now();
        let deadline = started + max_wait;
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Decrement(&self.waiting);
        let waiter = Arc::new(Notify::new());
        loop {
            // Watch before re-checking: an event in between leaves a permit in `waiter`, so none is missed.
            for w in keys.clone() {
                w.watch(&waiter);
            }
            if let Some(done) = try_complete() {
                return (done, started.elapsed());
            }
            tokio::select! {
                () = waiter.notified() => {
                    self.woken.fetch_add(1, Ordering::Relaxed);
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.expired.fetch_add(1, Ordering::Relaxed);
                    return (on_expire(), started.elapsed());
                }
            }
        }
    }

    pub(crate) fn stats(&self) -> DelayedStats {
        DelayedStats {
            waiting: self.waiting.load(Ordering::Relaxed),
            woken: self.woken.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
        }
    }
}

struct Decrement<'a>(&'a AtomicU64);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
