//! Delayed operations: the fast path, wake-ups by key, expiry.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

#[tokio::test(start_paused = true)]
async fn an_operation_that_can_complete_never_watches() {
    let ops = DelayedOperations::default();
    let key = Watchers::default();
    let tries = AtomicUsize::new(0);
    let (done, waited) = ops
        .wait(
            [&key],
            Duration::from_secs(5),
            || Some(tries.fetch_add(1, Ordering::SeqCst)),
            || usize::MAX,
        )
        .await;
    assert_eq!((done, waited), (0, Duration::ZERO));
    assert_eq!(
        key.count.load(Ordering::SeqCst),
        0,
        "the fast path registered a watcher"
    );
    assert_eq!(ops.stats().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn an_event_on_a_watched_key_completes_it_and_others_do_not() {
    let ops = Arc::new(DelayedOperations::default());
    let (watched, other) = (Arc::new(Watchers::default()), Arc::new(Watchers::default()));
    let ready = Arc::new(AtomicBool::new(false));
    let tries = Arc::new(AtomicUsize::new(0));
    let task = {
        let (ops, watched, ready, tries) = (ops.clone(), watched.clone(), ready.clone(), tries.clone());
        tokio::spawn(async move {
            ops.wait(
                [&*watched],
                Duration::from_secs(30),
                || {
                    tries.fetch_add(1, Ordering::SeqCst);
                    ready.load(Ordering::SeqCst).then_some("completed")
                },
                || "expired",
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(ops.stats().waiting, 1);
    let before = tries.load(Ordering::SeqCst);
    other.wake();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(tries.load(Ordering::SeqCst), before, "an event on another key woke it");
    ready.store(true, Ordering::SeqCst);
    watched.wake();
    let (done, waited) = task.await.unwrap();
    assert_eq!(done, "completed");
    assert!(waited >= Duration::from_millis(20), "waited {waited:?}");
    let stats = ops.stats();
    assert_eq!((stats.waiting, stats.woken, stats.expired), (0, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn an_operation_expires_at_its_deadline() {
    let ops = DelayedOperations::default();
    let key = Watchers::default();
    let started = tokio::time::Instant::now();
    let (done, waited) = ops
        .wait([&key], Duration::from_millis(500), || None::<&str>, || "expired")
        .await;
    assert_eq!(done, "expired");
    assert!(waited >= Duration::from_millis(500));
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(ops.stats().expired, 1);
}
