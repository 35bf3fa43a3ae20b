//! Who may run at the same time.
//!
//! The tests of one binary run on parallel threads. Tests that measure time (latency, a bound
//! on how long something takes, throughput, the soak's and crash tests' figures) must not
//! share the machine with other tests, or a busy moment elsewhere becomes their failure. So
//! every test that does real work holds a *turn* for as long as it runs:
//!
//! - a **shared** turn, a read guard on one global `tokio::sync::RwLock`. `FakeDiscord::start`
//!   and `TestBot::start*` take one and keep it for their lifetime, as do the process helpers
//!   and the CPU-heavy fuzz tests. Any number of shared turns run together.
//! - an **exclusive** turn, the write guard, which a timing test takes first thing. It waits
//!   until every shared turn has been given back, and no shared turn is handed out while it
//!   waits (tokio's `RwLock` is fair: requests are served in order), so it can neither start
//!   beside other tests nor be starved by them.
//!
//! A test holds one turn, however many bots or fakes it starts: a turn is registered under the
//! test's tokio runtime (each `#[tokio::test]` has its own), and any later request from the
//! same runtime gets that same turn. This is what makes the scheme deadlock-free: a timing test
//! starts its bot without taking a read guard next to its own write guard, and a test that
//! starts a second bot or fake midway never queues behind a waiting timing test while it holds
//! a turn itself. A runtime's turn ends when the last holder is dropped (the bot, the fake, the
//! fake's server task), at the latest when the test's runtime shuts down with its tasks.
//!
//! Code that cannot await (a plain `#[test]`, or a synchronous helper called from an async
//! test) uses the `_blocking` forms. `grep -rn 'turns::exclusive' tests` lists the timing tests.

use std::sync::{Arc, Mutex, Weak};

use tokio::runtime::{Handle, Id};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static TURNS: RwLock<()> = RwLock::const_new(());

/// How long an exclusive turn waits once granted before the test goes on: the tests that just
/// gave their turns back may still be winding down where no turn reaches (their runtime's
/// threads stopping, their SQLite connections closing on their own threads).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Where a runtime's turn is kept. Its own lock orders requests from one runtime, so two of
/// them at once still end up with one turn.
type Slot = Arc<tokio::sync::Mutex<Weak<Held>>>;

/// The slot of each runtime that has asked for a turn.
static HELD: Mutex<Vec<(Id, Slot)>> = Mutex::new(Vec::new());

/// The guards are only held, never read: dropping the last clone of a turn gives it back.
enum Held {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

/// A turn: the test runs while any clone of it lives.
#[derive(Clone)]
pub struct Turn(Arc<Held>);

fn slot(runtime: Id) -> Slot {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, slot)) = held.iter().find(|(id, _)| *id == runtime) {
        return Arc::clone(slot);
    }
    let slot = Arc::new(tokio::sync::Mutex::new(Weak::new()));
    held.push((runtime, Arc::clone(&slot)));
    slot
}

async fn shared_in(runtime: Id) -> Turn {
    let slot = slot(runtime);
    let mut held = slot.lock().await;
    if let Some(turn) = held.upgrade() {
        return Turn(turn);
    }
    let turn = Arc::new(Held::Shared(TURNS.read().await));
    *held = Arc::downgrade(&turn);
    Turn(turn)
}

/// A shared turn for the test running on this runtime (the one it holds, if it holds one).
pub async fn shared() -> Turn {
    shared_in(Handle::current().id()).await
}

/// [`shared`] for code that cannot await: a plain `#[test]`, or a synchronous helper called from
/// an async test (there it blocks the test's thread until the turn is granted).
pub fn shared_blocking() -> Turn {
    match Handle::try_current() {
        Ok(handle) => {
            let runtime = handle.id();
            // Waiting needs a thread outside the test's runtime, which may not be blocked in.
            std::thread::scope(|s| {
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("a runtime to wait for a turn on")
                        .block_on(shared_in(runtime))
                })
                .join()
                .expect("waiting for a turn")
            })
        }
        Err(_) => Turn(Arc::new(Held::Shared(TURNS.blocking_read()))),
    }
}

/// The exclusive turn, for a test that measures time. Take it before anything else in the test
/// (before any bot or fake Discord), and keep it to the end: `let _alone = exclusive().await;`.
pub async fn exclusive() -> Turn {
    let slot = slot(Handle::current().id());
    let mut held = slot.lock().await;
    assert!(
        held.upgrade().is_none(),
        "the exclusive turn must be taken before this test starts a bot or a fake Discord"
    );
    let turn = Arc::new(Held::Exclusive(TURNS.write().await));
    *held = Arc::downgrade(&turn);
    tokio::time::sleep(SETTLE).await;
    Turn(turn)
}

/// [`exclusive`] for a plain `#[test]`.
pub fn exclusive_blocking() -> Turn {
    assert!(
        Handle::try_current().is_err(),
        "in an async test, use `exclusive().await`"
    );
    let turn = Turn(Arc::new(Held::Exclusive(TURNS.blocking_write())));
    std::thread::sleep(SETTLE);
    turn
}
