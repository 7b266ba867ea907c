//! Feeds arbitrary bytes to the flow loader and validator: they must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let report = stepwise_engine::definition::validate("fuzz.yaml", text);
        for d in report.diagnostics {
            assert!(d.line >= 1 && d.column >= 1);
        }
    }
});
