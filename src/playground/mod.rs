//! `coordinator try`: the whole bot in a terminal. The real router, store, worker and renderer
//! run against a temporary SQLite database and a simulated clock; interactions are built as
//! Discord's client would send them and answered in process, and what the worker would send
//! is captured ([`transport::Capture`]) and shown instead. Nothing connects anywhere.
//!
//! [`Playground::run_line`] runs one line of the grammar in [`parse`]; `wait` steps the worker
//! through every instant something falls due, so days pass in moments.

pub mod guild;
pub mod interactions;
pub mod parse;
pub mod terminal;
pub mod transcript;
pub mod transport;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde_json::Value;
use serenity::all::Interaction;

use crate::app::App;
use crate::clock::{Clock, ManualClock};
use crate::discord::router;
use crate::domain::ids::GuildId;
use crate::store::{Db, StoreError};
use crate::worker::Worker;

use guild::Member;
use interactions::{Caller, OptionValue};
use parse::{Command, Line, LineError};
use transcript::View;
use transport::{Capture, Captured, Ids};

/// Why the playground could not start or go on (a line's own mistakes are [`LineError`]s,
/// shown and passed over).
#[derive(Debug, thiserror::Error)]
pub enum PlaygroundError {
    #[error("cannot create the playground's temporary directory: {0}")]
    TempDir(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {path}: {source}")]
    Script {
        path: String,
        source: std::io::Error,
    },
    #[error("terminal: {0}")]
    Terminal(String),
}

/// Monday 1 June 2026, 09:00 UTC: every playground starts here, so transcripts repeat.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A message the playground has shown: the worker's posts and DMs, and replies.
#[derive(Debug, Clone)]
struct Shown {
    id: u64,
    channel: u64,
    /// The recipient of a direct message.
    dm_user: Option<u64>,
    /// A private (ephemeral) reply: only this member sees it.
    private_to: Option<u64>,
    body: Value,
    at: DateTime<Utc>,
}

impl Shown {
    fn visible_to(&self, member: u64) -> bool {
        self.dm_user.is_none_or(|u| u == member) && self.private_to.is_none_or(|u| u == member)
    }
}

/// A form (modal) open for a member: submitted with `form field:value …`.
#[derive(Debug, Clone)]
struct OpenForm {
    caller: Caller,
    custom_id: String,
    /// `(custom_id, label, required, prefilled value)`.
    fields: Vec<(String, String, bool, String)>,
    /// The message whose button opened it, which Discord sends back with the form.
    message: Option<Value>,
}

/// What one line did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The transcript of the line: replies, and what the worker posted meanwhile.
    pub text: String,
    pub quit: bool,
    /// The line could not be read or done (its one-line explanation is in `text`).
    pub refused: bool,
}

/// The playground: a pretend guild, its bot, and a clock that only `wait` moves.
pub struct Playground {
    app: Arc<App>,
    worker: Worker,
    clock: ManualClock,
    ids: Arc<Ids>,
    capture: Arc<Capture>,
    actor: Member,
    channel: u64,
    shown: Vec<Shown>,
    form: Option<OpenForm>,
    /// How many messages the worker has posted (edits not counted).
    pub posted: usize,
    /// How many worker steps have run.
    pub steps: usize,
    /// The guild's time zone, for showing times (read again after every command).
    zone: chrono_tz::Tz,
    /// Removed (with the database in it) when the playground is dropped.
    dir: Option<tempfile::TempDir>,
}

impl Playground {
    /// A fresh playground: a temporary database, the guild configured (`mia` holds the manager
    /// role, reminders go to `#alerts`), `ada` typing in `#general`.
    pub async fn start() -> Result<Self, PlaygroundError> {
        let dir = tempfile::Builder::new()
            .prefix("coordinator-try-")
            .tempdir()
            .map_err(PlaygroundError::TempDir)?;
        let db = Db::connect_private_sqlite(&dir.path().join("playground.db")).await?;
        let clock = ManualClock::new(start_time());
        let app = Arc::new(App::new(db, Arc::new(clock.clone())));
        let ids = Arc::new(Ids::new(clock.clone()));
        let capture = Arc::new(Capture::new(Arc::clone(&ids)));
        let worker = Worker::new(Arc::clone(&app), capture.clone());
        let mut playground = Self {
            app,
            worker,
            clock,
            ids,
            capture,
            actor: guild::MEMBERS[0],
            channel: guild::GENERAL,
            shown: Vec::new(),
            form: None,
            posted: 0,
            steps: 0,
            zone: chrono_tz::Tz::UTC,
            dir: Some(dir),
        };
        for line in [
            "/config manager-role role:&manager",
            "/config alerts-channel channel:#alerts",
        ] {
            let outcome = playground.run_line(line).await;
            if outcome.refused {
                tracing::warn!(line, reply = %outcome.text, "the pretend guild's set-up was refused");
            }
        }
        playground.shown.clear();
        Ok(playground)
    }

    /// The store, for tests and benchmarks that set a scene directly.
    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Where the database and nothing else is kept.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Closes the database and removes the temporary directory.
    pub async fn close(mut self) {
        self.app.db.close().await;
        if let Some(dir) = self.dir.take() {
            if let Err(e) = dir.close() {
                tracing::warn!(error = %e, "could not remove the playground's temporary directory");
            }
        }
    }

    /// `ada #general Mon 09:00`: who is typing where, and when.
    pub fn prompt(&self) -> String {
        let view = self.view();
        format!(
            "{} {} {}",
            self.actor.name,
            self.where_label(self.channel),
            view.time(self.now())
        )
    }

    fn view(&self) -> View {
        View {
            zone: self.zone,
            now: self.now(),
        }
    }

    /// Reads the guild's time zone again (a command may have changed it).
    async fn refresh_zone(&mut self) {
        match self.app.db.guild_settings(GuildId::new(guild::GUILD)).await {
            Ok(settings) => self.zone = settings.timezone,
            Err(e) => tracing::warn!(error = %e, "could not read the guild's time zone"),
        }
    }

    fn where_label(&self, channel: u64) -> String {
        match guild::channel_name(channel) {
            Some(name) => format!("#{name}"),
            None => match self.capture.dm_user(channel).and_then(guild::member_by_id) {
                Some(member) => format!("DMs of @{}", member.name),
                None => format!("#channel-{channel}"),
            },
        }
    }

    fn caller(&self) -> Caller {
        Caller {
            member: self.actor,
            channel: self.channel,
            in_guild: true,
        }
    }

    /// Runs one line and returns its transcript.
    pub async fn run_line(&mut self, line: &str) -> Outcome {
        let mut out = Outcome::default();
        let parsed = match parse::parse_line(line) {
            Ok(parsed) => parsed,
            Err(LineError(message)) => {
                out.text = format!("  ✗ {message}\n");
                out.refused = true;
                return out;
            }
        };
        let result = match parsed {
            Line::Nothing => Ok(()),
            Line::Help => {
                out.text = help();
                Ok(())
            }
            Line::Quit => {
                out.quit = true;
                Ok(())
            }
            Line::As(member) => {
                self.actor = member;
                let _ = writeln!(out.text, "  (you are now {})", describe(member));
                Ok(())
            }
            Line::In(channel) => {
                self.channel = channel;
                let _ = writeln!(
                    out.text,
                    "  (you now type in {})",
                    self.where_label(channel)
                );
                Ok(())
            }
            Line::Command(command) => self.command(&command, &mut out.text).await,
            Line::Click(label) => self.click(&label, &mut out.text).await,
            Line::Form(fields) => self.submit_form(fields, &mut out.text).await,
            Line::Wait(by) => {
                let target = self.now() + by;
                self.wait_until(target, &mut out.text).await
            }
            Line::WaitUntil(when) => match self.read_until(&when).await {
                Ok(target) => self.wait_until(target, &mut out.text).await,
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            let _ = writeln!(out.text, "  ✗ {e}");
            out.refused = true;
        }
        out
    }

    /// `09:00` is the next 09:00; anything else is read as a due date is.
    async fn read_until(&self, when: &str) -> Result<DateTime<Utc>, LineError> {
        let view = self.view();
        let now = self.now();
        if let Ok(time) = NaiveTime::parse_from_str(when, "%H:%M") {
            let local = now.with_timezone(&view.zone);
            let mut day = local.date_naive();
            for _ in 0..3 {
                if let Some(at) = view
                    .zone
                    .from_local_datetime(&day.and_time(time))
                    .earliest()
                    .map(|at| at.with_timezone(&Utc))
                    .filter(|at| *at > now)
                {
                    return Ok(at);
                }
                day = day.succ_opt().unwrap_or(day);
            }
        }
        let target = crate::domain::dates::parse_due(when, now, view.zone)
            .map_err(|e| LineError(format!("wait until {when:?}: {e}")))?;
        if target - now > Duration::days(parse::MAX_WAIT_DAYS) {
            return Err(LineError(format!(
                "One wait moves the clock at most {} days.",
                parse::MAX_WAIT_DAYS
            )));
        }
        Ok(target)
    }

    async fn command(&mut self, command: &Command, out: &mut String) -> Result<(), LineError> {
        let caller = self.caller();
        let interaction = interactions::command(
            &caller,
            self.ids.next(),
            command.name,
            command.sub,
            &command.options,
            None,
        )
        .map_err(LineError)?;
        self.interact(&interaction, caller, None, out).await
    }

    /// Sends one interaction through the router, shows its answer, then lets the worker send
    /// what the interaction queued (as the running bot's worker, woken by the write, would).
    async fn interact(
        &mut self,
        interaction: &Interaction,
        caller: Caller,
        from_message: Option<u64>,
        out: &mut String,
    ) -> Result<(), LineError> {
        let Some(answer) = router::handle(&self.app, interaction).await else {
            return Ok(());
        };
        self.refresh_zone().await;
        let response = serde_json::to_value(&answer.response).unwrap_or_default();
        let view = self.view();
        let data = response.get("data").cloned().unwrap_or(Value::Null);
        match response.get("type").and_then(Value::as_u64) {
            // A message in reply.
            Some(4) => {
                let private = data
                    .get("flags")
                    .and_then(Value::as_u64)
                    .is_some_and(|f| f & 64 != 0);
                let shown = Shown {
                    id: self.ids.next(),
                    channel: caller.channel,
                    dm_user: (!caller.in_guild).then_some(caller.member.id),
                    private_to: private.then_some(caller.member.id),
                    body: data,
                    at: self.now(),
                };
                let heading = if private {
                    format!("only {} sees this", caller.member.name)
                } else {
                    "reply".to_string()
                };
                self.show(&shown, &heading, &view, out);
                self.shown.push(shown);
            }
            // The clicked message itself changes.
            Some(7) => {
                if let Some(index) =
                    from_message.and_then(|id| self.shown.iter().rposition(|s| s.id == id))
                {
                    merge(&mut self.shown[index].body, &data);
                    let shown = self.shown[index].clone();
                    self.show(&shown, "the message now reads", &view, out);
                }
            }
            // A form opens.
            Some(9) => self.open_form(caller, &data, from_message, out),
            _ => {}
        }
        self.step(out).await.map(|_| ())
    }

    fn open_form(&mut self, caller: Caller, data: &Value, from: Option<u64>, out: &mut String) {
        let fields: Vec<(String, String, bool, String)> = data
            .get("components")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|row| {
                row.get("components")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|input| {
                let text = |key: &str| {
                    input
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (
                    text("custom_id"),
                    text("label"),
                    input
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    text("value"),
                )
            })
            .collect();
        let title = data.get("title").and_then(Value::as_str).unwrap_or("Form");
        let _ = writeln!(
            out,
            "  📝 The form “{title}” opens for {} (nothing is sent until it is submitted):",
            caller.member.name
        );
        for (id, label, required, value) in &fields {
            let need = if *required { " (required)" } else { "" };
            let filled = if value.is_empty() {
                String::new()
            } else {
                format!(", filled in: {value:?}")
            };
            let _ = writeln!(out, "     {id} — {label}{need}{filled}");
        }
        let example: Vec<String> = fields
            .iter()
            .map(|(id, ..)| format!("{id}:\"…\""))
            .collect();
        let _ = writeln!(out, "  Submit it with: form {}", example.join(" "));
        let message = from.and_then(|id| self.shown.iter().rev().find(|s| s.id == id));
        let message = message
            .map(|s| interactions::message_json(s.id, s.channel, &s.body, &s.at.to_rfc3339()));
        self.form = Some(OpenForm {
            caller,
            custom_id: data
                .get("custom_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            fields,
            message,
        });
    }

    async fn submit_form(
        &mut self,
        typed: Vec<(String, String)>,
        out: &mut String,
    ) -> Result<(), LineError> {
        let Some(form) = self.form.clone() else {
            return Err(LineError(
                "No form is open: click Check in, or /checkin with no options, opens one.".into(),
            ));
        };
        if form.caller.member.id != self.actor.id {
            return Err(LineError(format!(
                "The open form is {}'s: as {} first, to fill it in.",
                form.caller.member.name, form.caller.member.name
            )));
        }
        let names: Vec<&str> = form.fields.iter().map(|f| f.0.as_str()).collect();
        if let Some((unknown, _)) = typed.iter().find(|(n, _)| !names.contains(&n.as_str())) {
            return Err(LineError(format!(
                "The form has no field {unknown:?}; its fields are {}.",
                names.join(", ")
            )));
        }
        let mut values = Vec::new();
        for (id, label, required, prefilled) in &form.fields {
            let value = typed
                .iter()
                .find(|(n, _)| n == id)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| prefilled.clone());
            if *required && value.trim().is_empty() {
                return Err(LineError(format!(
                    "The form needs {id}:… ({label}); Discord would not submit it without."
                )));
            }
            values.push((id.clone(), value));
        }
        self.form = None;
        let interaction = interactions::form(
            &form.caller,
            self.ids.next(),
            &form.custom_id,
            &values,
            form.message,
        )
        .map_err(LineError)?;
        self.interact(&interaction, form.caller, None, out).await
    }

    /// Presses the button labelled `label` on the newest message the acting member can see
    /// that has one. `Mark done` also finds `Mark 3 done` when only one such button is there.
    async fn click(&mut self, label: &str, out: &mut String) -> Result<(), LineError> {
        let wanted = label.trim().to_lowercase();
        let loose = without_numbers(&wanted);
        let me = self.actor.id;
        let mut disabled_seen = None;
        let mut found = None;
        for shown in self.shown.iter().rev().filter(|s| s.visible_to(me)) {
            let buttons: Vec<transcript::Button> = transcript::buttons(&shown.body)
                .into_iter()
                .flatten()
                .collect();
            let exact: Vec<&transcript::Button> = buttons
                .iter()
                .filter(|b| b.label.to_lowercase() == wanted)
                .collect();
            let matching = if exact.is_empty() {
                buttons
                    .iter()
                    .filter(|b| without_numbers(&b.label.to_lowercase()) == loose)
                    .collect()
            } else {
                exact
            };
            let enabled: Vec<&transcript::Button> =
                matching.iter().copied().filter(|b| !b.disabled).collect();
            if enabled.is_empty() {
                if let Some(b) = matching.first() {
                    disabled_seen.get_or_insert_with(|| b.label.clone());
                }
                continue;
            }
            if enabled.len() > 1 {
                let labels: Vec<String> = enabled
                    .iter()
                    .map(|b| format!("click {}", b.label))
                    .collect();
                return Err(LineError(format!(
                    "The newest message with that button has {}: say which ({}).",
                    enabled.len(),
                    labels.join(", ")
                )));
            }
            found = Some((shown.clone(), enabled[0].custom_id.clone()));
            break;
        }
        let Some((message, custom_id)) = found else {
            return Err(LineError(match disabled_seen {
                Some(label) => format!("The button [{label}] is disabled now."),
                None => format!(
                    "No message {} can see has a [{}] button.",
                    self.actor.name,
                    label.trim()
                ),
            }));
        };
        let caller = Caller {
            member: self.actor,
            channel: message.channel,
            in_guild: message.dm_user.is_none(),
        };
        let json = interactions::message_json(
            message.id,
            message.channel,
            &message.body,
            &message.at.to_rfc3339(),
        );
        let interaction =
            interactions::button(&caller, self.ids.next(), &custom_id, json).map_err(LineError)?;
        self.interact(&interaction, caller, Some(message.id), out)
            .await
    }

    /// One worker step at the current instant, and what it sent; returns when something next
    /// falls due.
    async fn step(&mut self, out: &mut String) -> Result<Option<DateTime<Utc>>, LineError> {
        let outcome = self
            .worker
            .step(self.now())
            .await
            .map_err(|e| LineError(format!("the duties worker failed: {e}")))?;
        self.steps += 1;
        self.show_captured(out);
        Ok(outcome.next_due)
    }

    /// Moves the clock to `target`, stepping the worker at every instant something falls due
    /// in between, so each message shows at the time it would have been sent.
    async fn wait_until(
        &mut self,
        target: DateTime<Utc>,
        out: &mut String,
    ) -> Result<(), LineError> {
        let store = |e: StoreError| LineError(format!("the store failed: {e}"));
        let mut last: Option<DateTime<Utc>> = None;
        let mut steps_at_last = 0;
        let mut next = self.app.db.next_wake().await.map_err(store)?;
        while let Some(due) = next {
            let at = due.max(self.now());
            if at > target {
                break;
            }
            // One step can make more due at the same instant (a standup stage's channel
            // message once its DMs are out), as the running worker's next turn would take;
            // something a step can never clear must not hold the clock still.
            if last == Some(at) {
                steps_at_last += 1;
                if steps_at_last > STEPS_PER_INSTANT {
                    tracing::warn!(%at, "something due stays due after several steps; moving on");
                    break;
                }
            } else {
                last = Some(at);
                steps_at_last = 0;
            }
            self.clock.set(at);
            next = self.step(out).await?;
        }
        self.clock.set(target);
        self.step(out).await?;
        let view = self.view();
        let _ = writeln!(out, "  ⏱ It is now {}.", view.time(target));
        Ok(())
    }

    /// Shows (and keeps, for clicks) what the worker sent since the last call.
    fn show_captured(&mut self, out: &mut String) {
        let captured = self.capture.drain();
        if captured.is_empty() {
            return;
        }
        let view = self.view();
        for Captured {
            message_id,
            channel_id,
            dm_user,
            edits,
            body,
        } in captured
        {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            match edits {
                Some(id) => {
                    let Some(index) = self.shown.iter().rposition(|s| s.id == id) else {
                        continue;
                    };
                    merge(&mut self.shown[index].body, &body);
                    let shown = self.shown[index].clone();
                    let heading = format!("edited (posted {})", view.time(shown.at));
                    self.show(&shown, &heading, &view, out);
                }
                None => {
                    let shown = Shown {
                        id: message_id,
                        channel: channel_id,
                        dm_user,
                        private_to: None,
                        body,
                        at: self.now(),
                    };
                    self.posted += 1;
                    self.show(&shown, "", &view, out);
                    self.shown.push(shown);
                }
            }
        }
        // Only the newest messages can matter for a click; a long wait must not grow this.
        if self.shown.len() > KEEP_SHOWN {
            self.shown.drain(..self.shown.len() - KEEP_SHOWN);
        }
    }

    fn show(&self, shown: &Shown, heading: &str, view: &View, out: &mut String) {
        let place = match shown.dm_user.and_then(guild::member_by_id) {
            Some(member) => format!("DM to @{}", member.name),
            None => self.where_label(shown.channel),
        };
        let mut line = format!("{place} · {}", view.time(self.now()));
        if !heading.is_empty() {
            line.push_str(" · ");
            line.push_str(heading);
        }
        let _ = writeln!(out, "{line}");
        for text in transcript::message_lines(&shown.body, view) {
            let _ = writeln!(out, "{text}");
        }
    }

    /// Completion for the line typed so far (up to `pos`): where the replaced word starts, and
    /// `(shown, replacement)` pairs. Option values that Discord completes come from the router,
    /// exactly as the client's autocomplete would.
    pub async fn complete(&self, line: &str, pos: usize) -> (usize, Vec<(String, String)>) {
        let before = line.get(..pos).unwrap_or(line);
        let start = word_start(before);
        let word = &before[start..];
        let earlier: Vec<&str> = before[..start].split_whitespace().collect();
        let pairs = |items: Vec<String>| -> Vec<(String, String)> {
            items
                .into_iter()
                .filter(|item| item.to_lowercase().starts_with(&word.to_lowercase()))
                .map(|item| (item.clone(), item))
                .collect()
        };
        if !before.trim_start().starts_with('/') {
            let items = match earlier.first().map(|w| w.to_ascii_lowercase()) {
                None => ["as ", "in ", "click ", "form ", "wait ", "help", "quit"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(parse::command_names().iter().map(|n| format!("/{n} ")))
                    .collect(),
                Some(first) if earlier.len() == 1 => match first.as_str() {
                    "as" => guild::MEMBERS.iter().map(|m| m.name.to_string()).collect(),
                    "in" => guild::CHANNELS
                        .iter()
                        .map(|(n, _)| format!("#{n}"))
                        .collect(),
                    "wait" => ["until ", "30m", "2h", "1d", "1w"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    "click" => {
                        return (start, pairs(self.visible_labels()));
                    }
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            return (start, pairs(items));
        }
        if earlier.is_empty() {
            let items = parse::command_names()
                .iter()
                .map(|n| format!("/{n} "))
                .collect();
            return (start, pairs(items));
        }
        let name = earlier[0].trim_start_matches('/').to_ascii_lowercase();
        let subs = parse::subcommands(&name);
        if !subs.is_empty() && earlier.len() == 1 {
            return (start, pairs(subs.iter().map(|s| format!("{s} ")).collect()));
        }
        let sub = if subs.is_empty() {
            None
        } else {
            subs.iter()
                .copied()
                .find(|s| earlier.get(1).is_some_and(|w| w.eq_ignore_ascii_case(s)))
        };
        let Some(spec) = crate::discord::registry::find(&name, sub) else {
            return (start, Vec::new());
        };
        let Some((option, typed)) = word.split_once(':') else {
            let items = spec
                .options
                .iter()
                .filter(|o| !before.contains(&format!(" {}:", o.name)))
                .map(|o| format!("{}:", o.name))
                .collect();
            return (start, pairs(items));
        };
        let Some(option_spec) = spec.options.iter().find(|o| o.name == option) else {
            return (start, Vec::new());
        };
        let typed = typed.trim_start_matches('"');
        let values: Vec<(String, String)> = match option_spec.kind {
            crate::discord::registry::Kind::User => guild::MEMBERS
                .iter()
                .map(|m| (format!("@{}", m.name), format!("@{}", m.name)))
                .collect(),
            crate::discord::registry::Kind::Channel => guild::CHANNELS
                .iter()
                .map(|(n, _)| (format!("#{n}"), format!("#{n}")))
                .collect(),
            crate::discord::registry::Kind::Role => guild::ROLES
                .iter()
                .map(|(n, _)| (format!("&{n}"), format!("&{n}")))
                .collect(),
            crate::discord::registry::Kind::Bool => ["true", "false"]
                .iter()
                .map(|s| (s.to_string(), s.to_string()))
                .collect(),
            _ if !option_spec.choices.is_empty() => option_spec
                .choices
                .iter()
                .map(|s| (s.to_string(), s.to_string()))
                .collect(),
            _ if option_spec.autocomplete => {
                return (
                    start,
                    self.autocomplete(spec, &earlier, option, typed)
                        .await
                        .into_iter()
                        .map(|(shown, value)| (shown, format!("{option}:{}", quoted(&value))))
                        .collect(),
                );
            }
            _ => Vec::new(),
        };
        let pairs = values
            .into_iter()
            .filter(|(_, v)| v.to_lowercase().starts_with(&typed.to_lowercase()))
            .map(|(shown, value)| (shown, format!("{option}:{}", quoted(&value))))
            .collect();
        (start, pairs)
    }

    /// Asks the router for the choices Discord's client would show under `option`.
    async fn autocomplete(
        &self,
        spec: &crate::discord::registry::CommandSpec,
        earlier: &[&str],
        option: &str,
        typed: &str,
    ) -> Vec<(String, String)> {
        // The options typed before, as far as they read; the focused one is sent as text.
        let mut options: Vec<(String, OptionValue)> = Vec::new();
        for word in earlier.iter().skip(if spec.sub.is_some() { 2 } else { 1 }) {
            if let Some((name, value)) = word.split_once(':') {
                if let Some(o) = spec.options.iter().find(|o| o.name == name) {
                    if let Ok(value) = parse::option_value(o, value.trim_matches('"')) {
                        options.push((name.to_string(), value));
                    }
                }
            }
        }
        let Ok(interaction) = interactions::command(
            &self.caller(),
            self.ids.next(),
            spec.name,
            spec.sub,
            &options,
            Some((option, typed)),
        ) else {
            return Vec::new();
        };
        let Some(answer) = router::handle(&self.app, &interaction).await else {
            return Vec::new();
        };
        let response = serde_json::to_value(&answer.response).unwrap_or_default();
        response
            .pointer("/data/choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|choice| {
                let name = choice.get("name")?.as_str()?.to_string();
                let value = match choice.get("value")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((name, value))
            })
            .collect()
    }

    /// The labels of the buttons the acting member can see, newest first, each once.
    fn visible_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for shown in self
            .shown
            .iter()
            .rev()
            .filter(|s| s.visible_to(self.actor.id))
        {
            for button in transcript::buttons(&shown.body).into_iter().flatten() {
                if !button.disabled && !labels.contains(&button.label) {
                    labels.push(button.label);
                }
            }
        }
        labels
    }
}

/// How many worker steps may run at one simulated instant before `wait` moves on.
const STEPS_PER_INSTANT: usize = 10;

/// How many of the newest messages are kept for `click`.
const KEEP_SHOWN: usize = 500;

/// A completed value, quoted when it holds a space.
fn quoted(value: &str) -> String {
    if value.contains(char::is_whitespace) {
        format!("\"{}\"", value.replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

/// Where the word being typed starts: after the last space outside quotes.
fn word_start(before: &str) -> usize {
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in before.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => start = i + c.len_utf8(),
            _ => {}
        }
    }
    start
}

/// `mark #3 done` → `mark done`, `next ▶` → `next`: a label without its task number or arrows.
fn without_numbers(label: &str) -> String {
    label
        .split_whitespace()
        .filter(|w| {
            !w.trim_start_matches('#')
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Applies a message edit (content, embeds, components) to a shown message.
fn merge(body: &mut Value, edit: &Value) {
    for key in ["content", "embeds", "components"] {
        if let Some(value) = edit.get(key) {
            if !value.is_null() {
                body[key] = value.clone();
            }
        }
    }
}

fn describe(member: Member) -> String {
    let rights = if member.permissions & guild::ADMINISTRATOR != 0 {
        ", an administrator"
    } else if member.roles.contains(&guild::MANAGER_ROLE) {
        ", a manager (&manager)"
    } else {
        ", a member"
    };
    format!("@{}{rights}", member.name)
}

/// The `help` text.
pub fn help() -> String {
    let members: Vec<String> = guild::MEMBERS.iter().map(|m| describe(*m)).collect();
    format!(
        "  One line is one action:\n\
         \x20   /task create title:\"Write the plan\" due:\"tomorrow 9am\" assignee:@bob\n\
         \x20       a slash command, as Discord's client sends it: options name:value, quotes\n\
         \x20       for spaces, @name for members, #name for channels, &name for roles\n\
         \x20   as bob             act as another member from now on\n\
         \x20   in #standup        type in another channel from now on\n\
         \x20   click Mark done    press the button with that label on the newest message\n\
         \x20                      you can see that has one\n\
         \x20   form today:tests   fill in and submit the form a button opened\n\
         \x20   wait 2h, wait 1d, wait until 09:00, wait until friday 17:00\n\
         \x20                      move the clock; everything the bot posts meanwhile shows\n\
         \x20   help, quit\n\
         \x20 Tab completes commands, options, members, and task numbers as Discord would.\n\
         \x20 Members: {}.\n\
         \x20 Channels: {}; reminders and alerts go to #alerts. /help lists the bot's commands.\n",
        members.join("; "),
        guild::channel_names()
    )
}

/// Runs a script: every line echoed after the prompt, then its transcript.
pub async fn run_script(text: &str) -> Result<String, PlaygroundError> {
    let mut playground = Playground::start().await?;
    let mut out = String::new();
    let mut in_comment = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            in_comment = false;
            continue;
        }
        // A script's comments stay in its transcript, a block of them set apart.
        if trimmed.starts_with('#') {
            let gap = if in_comment || out.is_empty() {
                ""
            } else {
                "\n"
            };
            let _ = writeln!(out, "{gap}{trimmed}");
            in_comment = true;
            continue;
        }
        in_comment = false;
        let prompt = playground.prompt();
        let _ = writeln!(out, "\n{prompt} › {trimmed}");
        let outcome = playground.run_line(line).await;
        out.push_str(&outcome.text);
        if outcome.quit {
            break;
        }
    }
    playground.close().await;
    Ok(out)
}

/// `coordinator try [--script FILE]`.
pub async fn main(script: Option<&Path>) -> Result<(), PlaygroundError> {
    match script {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| PlaygroundError::Script {
                path: path.display().to_string(),
                source,
            })?;
            // Ctrl-C drops the playground, and with it the temporary directory.
            tokio::select! {
                transcript = run_script(&text) => {
                    print!("{}", transcript?);
                    Ok(())
                }
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        None => terminal::interactive().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_without_their_numbers() {
        assert_eq!(without_numbers("mark 3 done"), "mark done");
        assert_eq!(without_numbers("mark #3 done"), "mark done");
        assert_eq!(without_numbers("snooze 1h"), "snooze 1h");
        assert_eq!(without_numbers("next ▶"), "next");
    }

    #[test]
    fn the_word_being_typed_starts_after_the_last_space_outside_quotes() {
        assert_eq!(word_start("/task show task:"), 11);
        assert_eq!(word_start(r#"/task create title:"a b"#), 13);
    }
}
