//! Reading what the in-process bot logs.
//!
//! `tracing` takes one global subscriber per process, and a test binary runs many tests, each
//! with its own bot, at once. So this module installs a single subscriber, the first time a
//! test asks for logs, and hands each event to the capture of the tokio runtime it was emitted
//! on: every `#[tokio::test]` has its own runtime, and the bot it starts runs its tasks there,
//! so a test reads its own bot's lines and no one else's, while other tests keep running.
//! Events on runtimes without a capture are dropped; with no capture open, every event is
//! disabled before it is even built, as if no subscriber were installed.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::runtime::{Handle, Id};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::Metadata;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt};

/// How captured events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, the event's fields under `fields`.
    Json,
    /// The human format without colours: `<time> <LEVEL> <target>: <message> key=value ...`.
    Text,
}

struct Capture {
    runtime: Id,
    format: Format,
    filter: EnvFilter,
    /// Also write every line to stderr as it comes.
    echo: bool,
    lines: Mutex<Vec<u8>>,
}

static CAPTURES: Mutex<Vec<Arc<Capture>>> = Mutex::new(Vec::new());

fn captures() -> std::sync::MutexGuard<'static, Vec<Arc<Capture>>> {
    CAPTURES.lock().unwrap_or_else(|e| e.into_inner())
}

/// The capture of the runtime this thread runs for, if it has one in `format`.
fn current(format: Format) -> Option<Arc<Capture>> {
    let runtime = Handle::try_current().ok()?.id();
    captures()
        .iter()
        .find(|c| c.runtime == runtime && c.format == format)
        .cloned()
}

/// What the calling test's bot logs from now until this is dropped.
pub struct Captured(Arc<Capture>);

impl Captured {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lines.lock().unwrap_or_else(|e| e.into_inner()))
            .into_owned()
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        captures().retain(|c| !Arc::ptr_eq(c, &self.0));
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Captures the events of the calling test's runtime that `filter` (a `RUST_LOG`-style filter,
/// e.g. `"info"` or `"warn,coordinator=info"`) lets through, written in `format`.
pub fn capture(format: Format, filter: &str, echo: bool) -> Captured {
    install();
    let capture = Arc::new(Capture {
        runtime: Handle::current().id(),
        format,
        filter: EnvFilter::builder().parse_lossy(filter),
        echo,
        lines: Mutex::new(Vec::new()),
    });
    {
        let mut all = captures();
        assert!(
            !all.iter().any(|c| c.runtime == capture.runtime),
            "one log capture per test"
        );
        all.push(Arc::clone(&capture));
    }
    // The most verbose level any capture wants is the level events are built at.
    tracing::callsite::rebuild_interest_cache();
    Captured(capture)
}

fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(Route(Format::Json))
                    .with_filter(Route(Format::Json)),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(Route(Format::Text))
                    .with_filter(Route(Format::Text)),
            );
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of this test binary");
    });
}

/// Filter and writer of one format's layer: both look up the current runtime's capture.
#[derive(Clone, Copy)]
struct Route(Format);

impl<S> Filter<S> for Route {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        current(self.0).is_some_and(|c| c.filter.enabled(meta, cx.clone()))
    }

    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        // Whether an event is wanted depends on the runtime emitting it.
        Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let all = captures();
        let wanted = all
            .iter()
            .filter(|c| c.format == self.0)
            .map(|c| c.filter.max_level_hint().unwrap_or(LevelFilter::TRACE));
        Some(wanted.max().unwrap_or(LevelFilter::OFF))
    }
}

impl<'a> MakeWriter<'a> for Route {
    type Writer = Sink;

    fn make_writer(&'a self) -> Sink {
        Sink(current(self.0))
    }
}

/// Appends to a capture; writes nowhere when the event's runtime has none.
struct Sink(Option<Arc<Capture>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(capture) = &self.0 {
            capture
                .lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            if capture.echo {
                let _ = std::io::stderr().write_all(buf);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
