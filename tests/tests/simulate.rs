//! End to end: the real `stepwise simulate` on the documented examples, checking the
//! behaviours the flow language promises (follow-ups, goals, opt-outs, quiet hours, DST).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `stepwise` binary built in the same target directory as this test.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(format!("stepwise{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} missing: build the workspace (cargo nextest run --workspace does)",
        bin.display()
    );
    bin
}

/// The example config file of an example flow (`speed-to-lead.yaml` → `speed-to-lead`).
fn config_of(flow: &str) -> &str {
    flow.trim_end_matches(".yaml")
}

/// Simulates an example with `--json`; returns the timeline entries.
fn simulate(flow: &str, event: &str, extra: &[&str]) -> Vec<Value> {
    let ex = "docs/examples";
    let out = Command::new(binary())
        .current_dir(root())
        .args([
            "simulate",
            &format!("{ex}/{flow}"),
            "--event",
            &format!("{ex}/events/{event}"),
            "--json",
        ])
        .args(["--config", &format!("{ex}/config/{}.json", config_of(flow))])
        .args(extra)
        .output()
        .expect("run stepwise");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn sent(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .filter(|e| e["kind"] == "sent")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["offset"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const BRIGHT_SMILE: [&str; 2] = ["--tenant", "docs/examples/tenants/bright-smile.json"];

#[test]
fn speed_to_lead_replies_at_once_and_follows_up_after_15_minutes() {
    let start = ["--start", "2026-11-23T10:00:00-05:00"];
    let entries = simulate(
        "speed-to-lead.yaml",
        "lead.json",
        &[&BRIGHT_SMILE[..], &start].concat(),
    );
    assert_eq!(
        sent(&entries),
        [
            ("first_reply".into(), "+0s".into()),
            ("follow_up".into(), "+15m".into())
        ]
    );
    let text = entries
        .iter()
        .find(|e| e["step"] == "first_reply" && e["kind"] == "sent")
        .unwrap()["text"]
        .clone();
    assert!(
        text.as_str()
            .unwrap()
            .starts_with("Hi Ana, thanks for reaching out to Bright Smile Dental!")
    );
}

#[test]
fn booking_before_15_minutes_ends_the_run_without_a_follow_up() {
    let args = [
        &BRIGHT_SMILE[..],
        &[
            "--start",
            "2026-11-23T10:00:00-05:00",
            "--at",
            "appointment.booked@+10m",
        ],
    ]
    .concat();
    let entries = simulate("speed-to-lead.yaml", "lead.json", &args);
    assert_eq!(sent(&entries), [("first_reply".into(), "+0s".into())]);
    let end = entries.last().unwrap();
    assert_eq!(
        (
            end["kind"].as_str(),
            end["status"].as_str(),
            end["offset"].as_str()
        ),
        (Some("ended"), Some("cancelled"), Some("+10m"))
    );
}

#[test]
fn an_opted_out_contact_gets_no_sms_and_the_timeline_says_why() {
    let args = [
        &BRIGHT_SMILE[..],
        &[
            "--contact",
            "docs/examples/contacts/opted-out.json",
            "--start",
            "2026-11-23T10:00:00-05:00",
        ],
    ]
    .concat();
    let entries = simulate("speed-to-lead.yaml", "lead.json", &args);
    assert!(sent(&entries).is_empty());
    let suppressed: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] == "suppressed")
        .collect();
    assert_eq!(suppressed.len(), 2, "first reply and follow-up");
    assert!(
        suppressed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("opted out of SMS")
    );
}

#[test]
fn a_late_lead_gets_its_marketing_sms_at_8_the_next_morning() {
    let args = [&BRIGHT_SMILE[..], &["--start", "2026-11-23T23:10:00-05:00"]].concat();
    let entries = simulate("speed-to-lead.yaml", "lead.json", &args);
    let hold = entries
        .iter()
        .find(|e| e["kind"] == "quiet_hold")
        .expect("a quiet-hours hold");
    assert_eq!(hold["until"], "2026-11-24T13:00:00Z", "08:00 EST");
    let first = entries.iter().find(|e| e["kind"] == "sent").unwrap();
    assert_eq!(
        (first["step"].as_str(), first["local"].as_str()),
        (Some("first_reply"), Some("Tue 2026-11-24 08:00 EST"))
    );
}

#[test]
fn a_contact_three_hours_behind_is_held_to_their_own_8am() {
    let args = [
        &BRIGHT_SMILE[..],
        &[
            "--contact",
            "docs/examples/contacts/pacific.json",
            "--start",
            "2026-11-23T09:30:00-05:00",
        ],
    ]
    .concat();
    let entries = simulate("speed-to-lead.yaml", "lead.json", &args);
    let first = entries.iter().find(|e| e["kind"] == "sent").unwrap();
    assert_eq!(
        first["at"], "2026-11-23T16:00:00Z",
        "08:00 in Los Angeles, 11:00 at the business"
    );
    let hold = entries.iter().find(|e| e["kind"] == "quiet_hold").unwrap();
    assert!(
        hold["reason"]
            .as_str()
            .unwrap()
            .contains("America/Los_Angeles, the contact's zone")
    );
}

#[test]
fn a_reminder_across_the_march_dst_change_keeps_its_wall_clock_time() {
    let args = [
        "--tenant",
        "docs/examples/tenants/chicago-dental.json",
        "--start",
        "2026-03-01T12:00:00-06:00",
    ];
    let entries = simulate("appointment-reminder.yaml", "appointment.json", &args);
    let sends: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "sent")
        .map(|e| (e["step"].as_str().unwrap(), e["local"].as_str().unwrap()))
        .collect();
    // The appointment is Sun 2026-03-08 10:00 CDT, the first day of daylight-saving time.
    assert_eq!(
        sends,
        [
            ("reminder_24h", "Sat 2026-03-07 10:00 CST"),
            ("reminder_2h", "Sun 2026-03-08 08:00 CDT")
        ]
    );
}

#[test]
fn the_drip_sends_three_messages_over_five_days() {
    let args = [
        "--tenant",
        "docs/examples/tenants/chicago-dental.json",
        "--start",
        "2026-03-02T12:00:00-06:00",
    ];
    let entries = simulate("drip.yaml", "newsletter.json", &args);
    assert_eq!(
        sent(&entries),
        [
            ("welcome".into(), "+0s".into()),
            ("tips".into(), "+2d".into()),
            ("offer".into(), "+5d".into())
        ]
    );
}

#[test]
fn text_output_is_one_readable_line_per_happening() {
    let out = Command::new(binary())
        .current_dir(root())
        .args([
            "simulate",
            "docs/examples/speed-to-lead.yaml",
            "--event",
            "docs/examples/events/lead.json",
        ])
        .args([
            "--config",
            "docs/examples/config/speed-to-lead.json",
            "--tenant",
            "docs/examples/tenants/bright-smile.json",
        ])
        .args(["--start", "2026-11-23T10:00:00-05:00"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("Mon 2026-11-23 10:00 EST      +0s  first_reply  sent sms to +15125550100 (1 segment, GSM-7): \"Hi Ana"), "{text}");
    assert!(lines.last().unwrap().contains("run completed"), "{text}");
}
