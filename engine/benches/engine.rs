//! Engine micro-benchmarks: a compiled condition, a template render, and advancing a
//! 20-step flow in memory (the engine's share of a durable step).
//!
//! Run: `cargo bench -p stepwise-engine --bench engine` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed benchmark

use std::collections::BTreeMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use stepwise_engine::definition::load_flow;
use stepwise_engine::expr::{Bindings, Expr};
use stepwise_engine::model::{Event, Run, Tenant};
use stepwise_engine::ports::HttpResponse;
use stepwise_engine::ports::Response;
use stepwise_engine::runtime::{Pause, RunCx};
use stepwise_engine::template::Templates;
use stepwise_engine::testing::ana;

fn bindings() -> Bindings {
    let mut b = Bindings::empty();
    b.set(
        "event",
        json!({"type": "lead.created", "data": {"message": "Need a cleaning ASAP", "score": 72}}),
    );
    b.set("contact", serde_json::to_value(ana()).unwrap());
    b.set(
        "config",
        json!({"hot_keywords": ["urgent", "asap", "today"]}),
    );
    b
}

/// 20 steps: 8 `set`, 6 `if` (each with a `set` inside), 4 `send_sms`, 2 `tag`.
fn twenty_step_flow() -> String {
    let mut steps = String::new();
    for i in 0..8 {
        steps.push_str(&format!(
            "  - id: s{i}\n    set: {{ v{i}: 'event.data.score + {i}' }}\n"
        ));
    }
    for i in 0..3 {
        steps.push_str(&format!(
            "  - id: b{i}\n    if: 'vars.v{i} > 70 && contains_any(lower(event.data.message), config.hot_keywords)'\n    then:\n      - id: t{i}\n        set: {{ hot{i}: 'true' }}\n"
        ));
    }
    for i in 0..4 {
        steps.push_str(&format!(
            "  - id: m{i}\n    send_sms: {{ body: 'Hi {{{{contact.first_name}}}}, message {i}' }}\n"
        ));
    }
    steps
        .push_str("  - id: g0\n    tag: { add: [hot] }\n  - id: g1\n    tag: { remove: [cold] }\n");
    format!(
        "id: bench\npurpose: transactional\ntrigger: {{event: lead.created}}\n\
         config: {{type: object, properties: {{hot_keywords: {{type: array}}}}}}\nsteps:\n{steps}"
    )
}

/// 20 control steps: 10 `set` and 10 `if` whose conditions are false.
fn twenty_control_steps() -> String {
    let mut steps = String::new();
    for i in 0..10 {
        steps.push_str(&format!(
            "  - id: s{i}\n    set: {{ v{i}: 'event.data.score + {i}' }}\n"
        ));
        steps.push_str(&format!(
            "  - id: b{i}\n    if: 'vars.v{i} < 0'\n    then:\n      - stop: never\n"
        ));
    }
    format!("id: control\ntrigger: {{event: lead.created}}\nsteps:\n{steps}")
}

/// The same 20 control steps as a loop: a `for_each` over 10 items whose body is one `set`
/// and one `if` (plus the loop's own head and `next` per item).
fn loop_of_control_steps() -> String {
    "id: looped\ntrigger: {event: lead.created}\nsteps:\n  - id: each\n    for_each: '[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]'\n    do:\n      - id: s\n        set: { v: 'event.data.score + steps.each.item' }\n      - id: b\n        if: 'vars.v < 0'\n        then:\n          - stop: never\n".to_owned()
}

fn benches(c: &mut Criterion) {
    let condition = Expr::compile(
        "event.data.score >= 50 && contains_any(lower(event.data.message), config.hot_keywords)",
        &[],
    )
    .unwrap();
    let mut b = bindings();
    c.bench_function("condition/eval", |bench| {
        bench.iter(|| condition.eval_bool(&mut b).unwrap())
    });

    let mut templates = Templates::new(&BTreeMap::new()).unwrap();
    templates.add("sms", "Hi {{contact.first_name}}, thanks for contacting {{tenant.name}}! Book: {{config.link}}").unwrap();
    let data = json!({"contact": {"first_name": "Ana"}, "tenant": {"name": "Bright Smile"}, "config": {"link": "https://x.test/b"}});
    c.bench_function("template/render", |bench| {
        bench.iter(|| templates.render("sms", &data).unwrap())
    });

    let mut group = c.benchmark_group("flow");
    group.throughput(Throughput::Elements(20));
    for (name, yaml) in [
        ("advance_20_steps", twenty_step_flow()),
        ("advance_20_control_steps", twenty_control_steps()),
        ("advance_loop_10x2_control_steps", loop_of_control_steps()),
    ] {
        let (flow, _) = load_flow("bench.yaml", &yaml, None).unwrap();
        let tenant = Tenant::default();
        let now: jiff::Timestamp = "2026-06-01T15:00:00Z".parse().unwrap();
        let base_bindings = bindings();
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let run = Run::start(
                    "t",
                    "bench",
                    1,
                    "c1",
                    Event::new("lead.created", json!({})),
                    now,
                );
                let mut cx = RunCx {
                    flow: &flow,
                    tenant: &tenant,
                    run,
                    contact: ana(),
                    contact_read: ana(),
                    bindings: base_bindings.clone(),
                    records: Vec::new(),
                    contact_changed: false,
                    now,
                    link_scope: None,
                    tracked: Vec::new(),
                    picked_sender: None,
                    slot: None,
                    fresh_attempt: false,
                };
                loop {
                    match cx.advance() {
                        Pause::Call(request) => {
                            let ok = Ok(Response::Http(HttpResponse {
                                status: 200,
                                body: json!({"status": "sent"}),
                                sandbox: false,
                            }));
                            if cx.on_result(&request, ok).is_some() {
                                break;
                            }
                        }
                        Pause::Ended => break,
                        other => panic!("unexpected pause {other:?}"),
                    }
                }
                assert_eq!(cx.run.status, stepwise_engine::model::RunStatus::Completed);
            })
        });
    }
    group.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
