//! `coordinator try`: the binary plays scripts in a pretend server, with no token, no config
//! and no network, and its transcript shows what the bot would post, where and when.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::support::process::BIN;

/// A run of the binary in empty directories: the current one, HOME and TMPDIR, with an empty
/// environment besides (no DISCORD_TOKEN, no DATABASE_URL).
struct Sandbox {
    cwd: tempfile::TempDir,
    home: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            cwd: tempfile::tempdir().expect("cwd"),
            home: tempfile::tempdir().expect("home"),
            tmp: tempfile::tempdir().expect("tmp"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.cwd.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("TMPDIR", self.tmp.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs `script` with `try --script` and returns the transcript.
    fn script(&self, script: &str) -> String {
        let path = self.home.path().join("script.txt");
        std::fs::write(&path, script).expect("write the script");
        let output = self
            .command(&["try", "--script", path.to_str().expect("utf-8 path")])
            .output()
            .expect("binary runs");
        std::fs::remove_file(&path).expect("remove the script");
        self.transcript(&output)
    }

    fn transcript(&self, output: &Output) -> String {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "exit {:?}: {stderr}",
            output.status
        );
        assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
        self.assert_nothing_left();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The temporary directory is gone, and nothing was written anywhere else.
    fn assert_nothing_left(&self) {
        for (name, dir) in [
            ("TMPDIR", self.tmp.path()),
            ("HOME", self.home.path()),
            ("the current directory", self.cwd.path()),
        ] {
            let left: Vec<String> = entries(dir);
            assert!(left.is_empty(), "{name} holds {left:?}");
        }
    }
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The lines of the message shown under `heading` (e.g. `#alerts · Tue 2 Jun 11:00`), the
/// first such message; panics with the transcript if there is none.
fn message<'a>(transcript: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = transcript.lines();
    if !lines.any(|line| line == heading || line.starts_with(&format!("{heading} · "))) {
        panic!("no message under {heading:?} in:\n{transcript}");
    }
    lines.take_while(|line| line.starts_with("  ")).collect()
}

fn count(transcript: &str, needle: &str) -> usize {
    transcript.matches(needle).count()
}

#[test]
fn the_week_example_shows_each_duty_at_its_time_in_its_channel() {
    let sandbox = Sandbox::new();
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/week.txt"))
        .expect("examples/week.txt");
    let t = sandbox.script(&script);
    // Monday: the first summary, then the day-before reminders (bob's by DM, as he asked).
    let summary = message(&t, "#standup · Mon 1 Jun 09:30").join("\n");
    assert!(summary.contains("Daily standup"), "{summary}");
    assert!(summary.contains("Missing: @alice, @bob"), "{summary}");
    let reminder = message(&t, "#alerts · Mon 1 Jun 12:00").join("\n");
    assert!(
        reminder.contains("⏰ #1 Draft the launch plan is due in a day (Tue 2 Jun 12:00) — @alice"),
        "{reminder}"
    );
    assert!(reminder.contains("[Mark #1 done]"), "{reminder}");
    assert!(message(&t, "DM to @bob · Mon 1 Jun 15:00")[0].contains("#2 Book the venue"));
    // Tuesday's standup: prompts by DM at 08:30, nudges at 09:00, check-ins, the summary.
    for who in ["@alice", "@bob"] {
        let prompt = message(&t, &format!("DM to {who} · Tue 2 Jun 08:30")).join("\n");
        assert!(prompt.contains("Time for your standup update"), "{prompt}");
        assert!(prompt.contains("[Check in] [Stop these DMs]"), "{prompt}");
        let nudge = message(&t, &format!("DM to {who} · Tue 2 Jun 09:00")).join("\n");
        assert!(nudge.contains("still missing"), "{nudge}");
    }
    assert!(t.contains("📝 The form “Standup check-in” opens for alice"));
    let saved = message(&t, "DM to @alice · Tue 2 Jun 09:05 · only alice sees this");
    assert!(saved[0].contains("Check-in saved"), "{saved:?}");
    let summary = message(&t, "#standup · Tue 2 Jun 09:30").join("\n");
    for part in [
        "Checked in: 2 of 2",
        "Yesterday: outlined the launch plan",
        "Blockers: no access to staging",
    ] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
    // A member's click on someone else's task is refused, privately; the assignee's works.
    let refused = message(&t, "#alerts · Tue 2 Jun 11:30 · only bob sees this");
    assert!(
        refused[0].contains("Only managers and the task's assignee"),
        "{refused:?}"
    );
    let done = message(&t, "#alerts · Tue 2 Jun 11:30 · only alice sees this");
    assert!(done[0].contains("✅ #1 Draft the launch plan is done (marked by @alice)"));
    assert!(t.contains("[Mark #1 done (disabled)]"));
    // The overdue alert, in the channel and by DM, then the escalation a day later.
    let overdue = message(&t, "#alerts · Tue 2 Jun 15:00").join("\n");
    assert!(
        overdue.contains("🚨 #2 Book the venue is overdue"),
        "{overdue}"
    );
    assert!(message(&t, "DM to @bob · Tue 2 Jun 15:00")[0].contains("🚨 #2 Book the venue"));
    let escalation = message(&t, "#alerts · Wed 3 Jun 15:00").join("\n");
    assert!(
        escalation.contains("🚨🚨 #2 Book the venue is still not done")
            && escalation.contains("Escalated to &manager."),
        "{escalation}"
    );
    // The recurring report comes back for next week once done.
    assert!(t.contains("It repeats — next: #5 Send the weekly report, due Fri 12 Jun 16:00"));
    // Each duty once: Tuesday's nudges, say, are not repeated by a later step.
    assert_eq!(count(&t, "DM to @alice · Tue 2 Jun 09:00\n"), 1);
    assert_eq!(
        count(&t, "🚨🚨 #2 Book the venue is still not done"),
        4,
        "channel, DM, and the two edits once done"
    );
    assert_worker_messages_in_time_order(&t);
}

/// Within each `wait`, the worker's messages come in time order, none after the time waited to.
fn assert_worker_messages_in_time_order(t: &str) {
    for wait in t.split(" › wait").skip(1) {
        let Some((body, _)) = wait.split_once("  ⏱ It is now ") else {
            continue;
        };
        let end = wait
            .split_once("  ⏱ It is now ")
            .map(|(_, rest)| rest.lines().next().unwrap_or("").trim_end_matches('.'))
            .unwrap_or("");
        let times: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with('#') || l.starts_with("DM to"))
            .filter_map(|l| l.split(" · ").nth(1))
            .collect();
        let parsed: Vec<chrono::NaiveDateTime> = times
            .iter()
            .chain(std::iter::once(&end))
            .map(|s| {
                chrono::NaiveDateTime::parse_from_str(&format!("2026 {s}"), "%Y %a %-d %b %H:%M")
                    .unwrap_or_else(|e| panic!("{s}: {e}"))
            })
            .collect();
        assert!(
            parsed.windows(2).all(|w| w[0] <= w[1]),
            "out of order: {times:?} then {end}"
        );
    }
}

#[test]
fn reminders_alerts_and_escalations_arrive_when_due_and_dms_are_marked() {
    let sandbox = Sandbox::new();
    let t = sandbox.script(
        "as alice\n\
         /notify reminders:dm\n\
         as mia\n\
         /task create title:\"Ship it\" due:\"in 2h\" assignee:@alice\n\
         wait 1d\n\
         wait 3h\n",
    );
    // The reminder an hour before goes to alice's DMs alone (she chose DMs)...
    let reminder = message(&t, "DM to @alice · Mon 1 Jun 10:00").join("\n");
    assert!(
        reminder.contains("⏰ #1 Ship it is due in an hour"),
        "{reminder}"
    );
    assert!(!t.contains("#alerts · Mon 1 Jun 10:00"), "{t}");
    // ...the overdue alert to the alerts channel and her DMs, the escalation a day later.
    assert!(message(&t, "#alerts · Mon 1 Jun 11:00")[0].contains("🚨 #1 Ship it is overdue"));
    assert!(message(&t, "DM to @alice · Mon 1 Jun 11:00")[0].contains("🚨 #1 Ship it"));
    let escalation = message(&t, "#alerts · Tue 2 Jun 11:00").join("\n");
    assert!(escalation.contains("Escalated to &manager"), "{escalation}");
    assert!(t.contains("  ⏱ It is now Tue 2 Jun 09:00."));
    assert!(t.contains("  ⏱ It is now Tue 2 Jun 12:00."));
    assert_eq!(count(&t, "🚨 #1 Ship it is overdue"), 2, "{t}");
    assert_eq!(count(&t, "🚨🚨 #1 Ship it"), 2, "{t}");
    assert_worker_messages_in_time_order(&t);
}

#[test]
fn buttons_act_with_the_rights_of_the_member_who_clicks() {
    let sandbox = Sandbox::new();
    let t = sandbox.script(
        "as mia\n\
         /task create title:\"Alice's job\" due:\"in 90m\" assignee:@alice\n\
         wait 30m\n\
         as bob\n\
         click Mark done\n\
         /task show task:1\n\
         as mia\n\
         click Mark done\n\
         click Mark done\n",
    );
    let refused = message(&t, "#alerts · Mon 1 Jun 09:30 · only bob sees this");
    assert!(
        refused[0].contains("Only managers and the task's assignee or creator"),
        "{refused:?}"
    );
    let shown = message(&t, "#general · Mon 1 Jun 09:30 · only bob sees this").join("\n");
    assert!(
        shown.contains("Status: To do"),
        "still open after bob's click: {shown}"
    );
    let done = message(&t, "#alerts · Mon 1 Jun 09:30 · only mia sees this");
    assert!(done[0].contains("is done (marked by @mia)"), "{done:?}");
    // The message's button is disabled now; the playground says so instead of pressing it.
    assert!(
        t.contains("✗ The button [Mark #1 done] is disabled now."),
        "{t}"
    );
}

#[test]
fn replies_show_who_sees_them() {
    let sandbox = Sandbox::new();
    let t = sandbox.script("/task create title:Plan\n/task list\nin #standup\n/standup roster\n");
    assert!(message(&t, "#general · Mon 1 Jun 09:00 · reply")[0].contains("Created #1 Plan"));
    assert!(t.contains("#general · Mon 1 Jun 09:00 · only ada sees this\n    │ Tasks"));
    assert!(
        t.contains("#standup · Mon 1 Jun 09:00 · only ada sees this"),
        "{t}"
    );
}

#[test]
fn the_standup_form_opens_and_is_filled_in_with_form() {
    let sandbox = Sandbox::new();
    let t = sandbox.script(
        "/standup schedule time:10:30 channel:#standup\n\
         /standup add user:@bob\n\
         wait 30m\n\
         as bob\n\
         click Check in\n\
         form today:\"tests\"\n\
         form yesterday:\"the API\" today:\"tests\" mood:great\n\
         form yesterday:\"the API\" today:\"tests\"\n\
         wait until 10:30\n",
    );
    assert!(message(&t, "DM to @bob · Mon 1 Jun 09:30")[0].contains("Time for your standup update"));
    assert!(t.contains("     yesterday — Yesterday (required)"), "{t}");
    assert!(t.contains("✗ The form needs yesterday:…"), "{t}");
    assert!(t.contains("✗ The form has no field \"mood\""), "{t}");
    assert!(
        message(&t, "DM to @bob · Mon 1 Jun 09:30 · only bob sees this")[0]
            .contains("Check-in saved")
    );
    let summary = message(&t, "#standup · Mon 1 Jun 10:30").join("\n");
    assert!(summary.contains("Yesterday: the API"), "{summary}");
}

#[test]
fn bad_lines_get_one_line_each_and_the_playground_carries_on() {
    let sandbox = Sandbox::new();
    let long = format!("/task create title:{}", "x".repeat(5_000));
    let t = sandbox.script(&format!(
        "as zed\n\
         /task create title:\"unclosed\n\
         wait -1h\n\
         {long}\n\
         /tsk list\n\
         /task create title:Plan assignee:@zed\n\
         /task create title:Plan colour:red\n\
         click Nothing\n\
         form today:x\n\
         wait until someday\n\
         /task create title:\"Still here\"\n"
    ));
    let errors: Vec<&str> = t.lines().filter(|l| l.starts_with("  ✗ ")).collect();
    assert_eq!(errors.len(), 10, "one line per bad line: {errors:#?}");
    let too_long = format!(
        "{} characters long; a line may have at most 4000",
        long.chars().count()
    );
    for (error, expected) in errors.iter().zip([
        "the members are ada, mia, alice, bob",
        "quote is not closed",
        "wait moves the clock forward",
        too_long.as_str(),
        "the commands are /task",
        "there is no member \"@zed\"",
        "its options are title, due",
        "No message ada can see has a [Nothing] button",
        "No form is open",
        "wait until \"someday\"",
    ]) {
        assert!(error.contains(expected), "{expected}: {error}");
    }
    assert!(t.contains("Created #1 Still here"), "{t}");
}

#[test]
fn interactive_use_reads_lines_from_a_pipe_too() {
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command(&["try"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"/task create title:\"Piped\" due:\"in 2h\"\nwait 1h\nquit\n")
            .expect("write lines");
    }
    let output = child.wait_with_output().expect("binary exits");
    let t = sandbox.transcript(&output);
    assert!(t.contains("One line is one action"), "{t}");
    assert!(t.contains("Created #1 Piped"), "{t}");
    assert!(
        message(&t, "#alerts · Mon 1 Jun 10:00")[0].contains("⏰ #1 Piped"),
        "{t}"
    );
}

#[tokio::test]
async fn tab_completes_what_discords_client_would_offer() {
    use coordinator::playground::Playground;
    let mut playground = Playground::start().await.expect("playground starts");
    for title in ["Write the plan", "Review the plan"] {
        let line = format!("/task create title:\"{title}\"");
        assert!(!playground.run_line(&line).await.refused, "{line}");
    }
    let (start, choices) = playground.complete("/task show task:", 16).await;
    assert_eq!(start, 11);
    let shown: Vec<&str> = choices.iter().map(|(shown, _)| shown.as_str()).collect();
    assert_eq!(
        shown,
        ["#2 Review the plan", "#1 Write the plan"],
        "{choices:?}"
    );
    assert!(choices.iter().any(|(_, r)| r == "task:1"), "{choices:?}");
    let (_, choices) = playground.complete("/task show task:Rev", 19).await;
    assert_eq!(choices.len(), 1, "{choices:?}");
    let (_, choices) = playground.complete("/ta", 3).await;
    assert_eq!(choices, [("/task ".to_string(), "/task ".to_string())]);
    let (_, choices) = playground.complete("/task cr", 8).await;
    assert_eq!(choices[0].1, "create ");
    let (_, choices) = playground.complete("/task create title:x as", 23).await;
    assert_eq!(choices[0].1, "assignee:");
    let (_, choices) = playground
        .complete("/task create title:x assignee:@b", 32)
        .await;
    assert_eq!(choices[0].1, "assignee:@bob");
    let (_, choices) = playground.complete("as a", 4).await;
    let names: Vec<&str> = choices.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(names, ["ada", "alice"]);
    let dir = playground
        .dir()
        .map(Path::to_path_buf)
        .expect("a temporary directory");
    assert!(dir.exists());
    playground.close().await;
    assert!(!dir.exists(), "removed at close");
}

#[test]
fn the_readme_shows_the_first_screen_of_the_week_as_it_reads() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let shown = readme
        .split_once("(`tests/process/playground.rs` checks that it still reads so):\n\n```\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block)
        .expect("the README shows the week's transcript");
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/week.txt"))
        .expect("examples/week.txt");
    let transcript = Sandbox::new().script(&script);
    assert!(
        transcript.starts_with(shown),
        "the README's transcript is out of date; it now begins:\n{}",
        transcript.lines().take(64).collect::<Vec<_>>().join("\n")
    );
}
