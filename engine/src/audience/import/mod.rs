//! Contact imports from CSV: the upload is stored in chunks as it arrives (never whole in
//! memory) and fingerprinted, so the same file with the same options is one import; a
//! worker then maps the columns, reads and normalises every row, dedupes within the file
//! and against stored contacts, and commits batches with their progress (see [`job`]).

pub mod job;
pub mod mapping;
mod model;
pub mod resolve;
pub mod rows;
pub mod worker;

use sha2::{Digest, Sha256};

pub use model::{
    Import, ImportCounts, ImportMode, ImportOptions, ImportPhase, ImportStatus, OnExisting,
    ReportRow,
};

use crate::model::Tenant;

/// The largest file an import takes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The size of a stored chunk of a file.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Rows a preview reads.
pub const PREVIEW_ROWS: usize = 10;

/// A new import with these options, queued once its upload is whole.
pub fn new_import(options: ImportOptions, now: jiff::Timestamp) -> Import {
    Import {
        id: format!("imp_{}", uuid::Uuid::now_v7().simple()),
        status: ImportStatus::Queued,
        phase: job::first_phase(options.mode),
        options,
        mapping: Vec::new(),
        counts: ImportCounts::default(),
        bytes: 0,
        error: None,
        created_at: now,
        finished_at: None,
    }
}

/// Checks the options a caller gave (tags bounded).
pub fn check_options(options: &ImportOptions) -> Result<(), String> {
    if options.tags.len() > 10
        || options
            .tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 64)
    {
        return Err("tags: at most 10, each 1 to 64 characters".into());
    }
    Ok(())
}

/// The fingerprint of an upload: its bytes, then its options.
#[derive(Debug, Default)]
pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(mut self, options: &ImportOptions) -> String {
        self.0.update(b"\0options\0");
        self.0
            .update(serde_json::to_vec(options).unwrap_or_default());
        hex::encode(self.0.finalize())
    }
}

/// What an import of a file beginning with `head` would do: the mapping and the first rows
/// read, each a contact or its errors; or why it cannot start. `whole` says whether `head`
/// is the whole file; when not, its last, perhaps cut, line is left out.
pub fn preview(
    tenant: &Tenant,
    import: &Import,
    head: &[u8],
    whole: bool,
) -> Result<(Vec<mapping::ColumnMapping>, Vec<serde_json::Value>), String> {
    let head = match head.iter().rposition(|&b| b == b'\n') {
        Some(end) if !whole => &head[..=end],
        _ => head,
    };
    let mut reader = job::csv_reader(head, head);
    let (headers, targets) = job::columns(tenant, import, &mut reader)?;
    let rows = rows::RowReader {
        headers: &headers,
        targets: &targets,
        country: &tenant.country,
        declared: &tenant.custom_fields,
        tags: &import.options.tags,
    };
    let mut record = csv::ByteRecord::new();
    let mut shown = Vec::new();
    while shown.len() < PREVIEW_ROWS && reader.read_byte_record(&mut record).unwrap_or(false) {
        let line = record.position().map_or(0, csv::Position::line);
        let row = match job::cells(&record) {
            Ok(cells) => match rows.read(line, &cells) {
                Ok(contact) => serde_json::json!({"line": line, "contact": contact}),
                Err(errors) => serde_json::json!({"line": line, "errors": errors}),
            },
            Err(_) => serde_json::json!({"line": line, "errors": [{"reason": "not UTF-8 text"}]}),
        };
        shown.push(row);
    }
    Ok((mapping::shown(&headers, &targets), shown))
}
