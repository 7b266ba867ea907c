//! The guides run as written (docs/audiences.md, docs/team.md, docs/conversations.md,
//! docs/templates.md, docs/usage.md): each page's `sh` blocks, in
//! order, in one bash session against the real binary (SQLite), with `API` and `KEY` (a
//! tenant admin key) set; where a block is followed at once by an output block, what the
//! commands printed must be that output. The usage guide's server runs with the plans file
//! the page shows (its first `yaml` block).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::audience::zone_at;
use common::client::Client;
use common::start_server_with;

/// A fenced block of the page: its info string and its text.
struct Block {
    info: String,
    text: String,
    /// Only blank lines lie between it and the block before.
    follows: bool,
}

fn blocks(page: &str) -> Vec<Block> {
    let (mut blocks, mut current, mut gap_is_blank) = (Vec::new(), None::<Block>, false);
    for line in page.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                current = Some(Block {
                    info: info.trim().to_owned(),
                    text: String::new(),
                    follows: gap_is_blank,
                });
            }
            (Some(_), Some(_)) => {
                blocks.push(current.take().unwrap());
                gap_is_blank = true;
            }
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => gap_is_blank &= line.trim().is_empty(),
        }
    }
    blocks
}

/// Runs `docs/<page>` against a fresh server; it has at least `at_least` `sh` blocks.
async fn runs_as_written(page: &str, at_least: usize) {
    runs_with_plans(page, at_least, false).await;
}

/// [`runs_as_written`], the server started with the page's first `yaml` block as its plans
/// file when `plans`.
async fn runs_with_plans(page: &str, at_least: usize, plans: bool) {
    let place = common::place::Place::sqlite("guides");
    let path = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
    let blocks = blocks(&std::fs::read_to_string(path).unwrap());
    let plans_file = place.dir.join("plans.yaml");
    let mut env = Vec::new();
    if plans {
        let yaml = blocks
            .iter()
            .find(|b| b.info == "yaml")
            .expect("a yaml block");
        std::fs::write(&plans_file, &yaml.text).unwrap();
        env.push(("STEPWISE_PLANS", plans_file.to_str().unwrap()));
    }
    let (_server, base) = start_server_with(&place.dir, &place.backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("guide").await;
    // The pages' marketing texts would wait for the morning at night in the business's zone
    // (quiet hours, as docs/compliance.md says): the guides' business is where it is midday.
    let zone = serde_json::json!({"timezone": zone_at(12)});
    let set = api.patch("/v1/settings", &key, &zone).await;
    assert_eq!(set.status, 200, "{}", set.body);
    const MARK: &str = "@@ block @@";
    let mut script = String::from("set -euo pipefail\n");
    let mut expected = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        if block.info != "sh" {
            continue;
        }
        script.push_str(&block.text);
        script.push_str(&format!("echo '{MARK}'\n"));
        let output = blocks
            .get(i + 1)
            .filter(|next| next.follows && ["json", "csv", ""].contains(&next.info.as_str()));
        expected.push(output.map(|o| o.text.trim().to_owned()));
    }
    assert!(expected.len() >= at_least, "{} sh blocks", expected.len());
    // Bounded: a page whose commands wait for something that never comes fails, not hangs.
    let ran = std::process::Command::new("timeout")
        .args(["300", "bash", "-c"])
        .arg(&script)
        .current_dir(&place.dir)
        .env("API", &base)
        .env("KEY", &key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "the commands of docs/{page} failed: {}\n{stdout}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let printed: Vec<&str> = stdout.split(MARK).map(str::trim).collect();
    for (n, want) in expected.iter().enumerate() {
        if let Some(want) = want {
            assert_eq!(printed[n], want, "sh block {} of docs/{page}", n + 1);
        }
    }
    place.finish().await;
}

#[tokio::test]
async fn the_audiences_guide_runs_as_written() {
    runs_as_written("audiences.md", 6).await;
}

#[tokio::test]
async fn the_inbox_guide_runs_as_written() {
    runs_as_written("conversations.md", 8).await;
}

#[tokio::test]
async fn the_templates_guide_runs_as_written() {
    runs_as_written("templates.md", 4).await;
}

#[tokio::test]
async fn the_usage_guide_runs_as_written() {
    runs_with_plans("usage.md", 2, true).await;
}

#[tokio::test]
async fn the_team_guide_runs_as_written() {
    runs_as_written("team.md", 5).await;
}
