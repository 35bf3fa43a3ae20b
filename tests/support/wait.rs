//! Polling until something holds, for what the fake Discord cannot wait on by itself (the
//! database, a child process, the HTTP listener, metrics).

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] checks again.
pub const POLL: Duration = Duration::from_millis(20);

/// What one check found: done, with a value; or not yet, with what it saw (for the panic).
pub trait Progress {
    type Value;
    fn progress(self) -> Result<Self::Value, String>;
}

impl Progress for bool {
    type Value = ();
    fn progress(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err(String::new())
        }
    }
}

impl<T> Progress for Option<T> {
    type Value = T;
    fn progress(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

/// `Err` says what was seen instead, and ends up in the panic message.
impl<T> Progress for Result<T, String> {
    type Value = T;
    fn progress(self) -> Result<T, String> {
        self
    }
}

/// Runs `check` every [`POLL`] until it reports done and returns its value; after `timeout`,
/// panics naming `what` it waited for and what the last check saw.
pub async fn eventually<F, Fut>(
    what: &str,
    timeout: Duration,
    check: F,
) -> <Fut::Output as Progress>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Progress,
{
    eventually_every(what, timeout, POLL, check).await
}

/// [`eventually`], checking every `every` (for checks that are costly, or that move a clock).
pub async fn eventually_every<F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> <Fut::Output as Progress>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Progress,
{
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match check().await.progress() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            if seen.is_empty() {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen}");
        }
        tokio::time::sleep(every).await;
    }
}
