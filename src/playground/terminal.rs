//! The interactive playground: rustyline for line editing, in-memory history (nothing is
//! written to the home directory) and Tab completion that asks the playground, whose
//! autocomplete goes through the router as Discord's client's would.

use std::sync::{Arc, Mutex, MutexGuard};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::MemHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Editor, Helper};
use tokio::runtime::Handle;

use super::{help, Playground, PlaygroundError};

/// Shared by the line loop and the completer; only one of them runs at a time (completion
/// happens while a line is being typed, lines run after it is entered).
type Shared = Arc<Mutex<Playground>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Playground> {
    // A panic mid-line leaves the playground as the store has it: still usable.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

struct LineHelper {
    playground: Shared,
    runtime: Handle,
}

impl Completer for LineHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let playground = lock(&self.playground);
        let (start, pairs) = self.runtime.block_on(playground.complete(line, pos));
        Ok((
            start,
            pairs
                .into_iter()
                .map(|(display, replacement)| Pair {
                    display,
                    replacement,
                })
                .collect(),
        ))
    }
}

impl Hinter for LineHelper {
    type Hint = String;
}
impl Highlighter for LineHelper {}
impl Validator for LineHelper {}
impl Helper for LineHelper {}

/// Reads lines until `quit`, Ctrl-D or Ctrl-C; the temporary database goes with the playground.
pub async fn interactive() -> Result<(), PlaygroundError> {
    let playground = Playground::start().await?;
    println!(
        "Coordinator playground: a pretend server, a temporary database, a clock that only \
         `wait` moves. Nothing is sent to Discord.\n{}",
        help()
    );
    // At the prompt rustyline reads Ctrl-C as a key and ends the playground cleanly; while a
    // line runs, the signal is taken here instead of killing the process before its temporary
    // directory is removed.
    tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let shared: Shared = Arc::new(Mutex::new(playground));
    let runtime = Handle::current();
    let lines = Arc::clone(&shared);
    // rustyline blocks on the terminal; the playground's async work runs on the runtime.
    let result = tokio::task::spawn_blocking(move || read_lines(lines, runtime))
        .await
        .map_err(|e| PlaygroundError::Terminal(e.to_string()))
        .and_then(|r| r);
    let playground = match Arc::try_unwrap(shared) {
        Ok(mutex) => mutex.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(_) => return result,
    };
    playground.close().await;
    result
}

fn read_lines(shared: Shared, runtime: Handle) -> Result<(), PlaygroundError> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(true)
        .build();
    let terminal = |e: ReadlineError| PlaygroundError::Terminal(e.to_string());
    let mut editor: Editor<LineHelper, MemHistory> =
        Editor::with_history(config, MemHistory::new()).map_err(terminal)?;
    editor.set_helper(Some(LineHelper {
        playground: Arc::clone(&shared),
        runtime: runtime.clone(),
    }));
    loop {
        let prompt = {
            let playground = lock(&shared);
            format!("{} › ", playground.prompt())
        };
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => return Ok(()),
            Err(e) => return Err(terminal(e)),
        };
        let outcome = {
            let mut playground = lock(&shared);
            runtime.block_on(playground.run_line(&line))
        };
        print!("{}", outcome.text);
        if outcome.quit {
            return Ok(());
        }
    }
}
