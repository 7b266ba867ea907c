//! Running an import: the file is read back from its stored chunks and parsed as it streams
//! (never whole in memory), each batch of rows committed with the import's progress, so a
//! crash resumes after the last whole batch and never writes a row twice. All-or-nothing
//! imports first check every row, and write only when none is bad.
//!
//! The parser is synchronous (the `csv` crate); the job runs on a blocking thread and calls
//! the store through the runtime's handle, so a large file never holds an async worker.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio::runtime::Handle;

use super::mapping::{self, Target};
use super::model::{Import, ImportCounts, ImportMode, ImportPhase, ImportStatus, ReportRow};
use super::resolve::file_key;
use super::rows::RowReader;
use crate::model::Tenant;
use crate::ports::{AudienceStore, ImportBatch, StoreError};

/// Rows committed together.
pub const BATCH_ROWS: usize = 1_000;
/// The most rows an import's report keeps (a file of nothing but bad rows counts them all).
pub const MAX_REPORT_ROWS: usize = 10_000;
/// How long a worker holds an import between two batches before another may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_secs(15);

/// Why a job stopped before the import was final.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another worker took the import over")]
    LeaseLost,
}

/// The file's bytes, a stored chunk at a time.
struct Chunks<'a> {
    store: &'a dyn AudienceStore,
    handle: &'a Handle,
    tenant_id: &'a str,
    import_id: &'a str,
    next: u64,
    buffer: Vec<u8>,
    at: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buffer.len() {
            let chunk = self
                .handle
                .block_on(
                    self.store
                        .import_chunk(self.tenant_id, self.import_id, self.next),
                )
                .map_err(std::io::Error::other)?;
            let Some(chunk) = chunk else { return Ok(0) };
            self.next += 1;
            self.buffer = chunk;
            self.at = 0;
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The separator of a file whose first line is `first_line`: the most frequent of `,`, `;`
/// and tab outside quotes (spreadsheets in much of Europe write `;`).
pub fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let mut quoted = false;
    let mut counts = [0usize; 3];
    for &b in first_line {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3)
        .max_by_key(|&i| (counts[i], usize::from(i == 0)))
        .unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// A CSV reader over `input` with the separator its first chunk suggests.
pub fn csv_reader<R: Read>(first_chunk: &[u8], input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(first_chunk))
        .flexible(true)
        .from_reader(input)
}

/// The cells of a record as text; a cell that is not UTF-8 fails the row.
pub fn cells(record: &csv::ByteRecord) -> Result<Vec<&str>, usize> {
    record
        .iter()
        .enumerate()
        .map(|(i, cell)| std::str::from_utf8(cell).map_err(|_| i))
        .collect()
}

/// Runs (or resumes) a claimed import to its end; answers it as finished.
pub fn run(
    store: Arc<dyn AudienceStore>,
    handle: Handle,
    tenant: Tenant,
    mut import: Import,
    mut done_rows: u64,
) -> Result<Import, JobError> {
    let import_id = import.id.clone();
    let tags = import.options.tags.clone();
    let first = handle
        .block_on(store.import_chunk(&tenant.id, &import_id, 0))?
        .unwrap_or_default();
    loop {
        let chunks = Chunks {
            store: store.as_ref(),
            handle: &handle,
            tenant_id: &tenant.id,
            import_id: &import_id,
            next: 0,
            buffer: Vec::new(),
            at: 0,
        };
        let mut reader = csv_reader(&first, chunks);
        let (headers, targets) = match columns(&tenant, &import, &mut reader) {
            Ok(p) => p,
            Err(reason) => return fail(store.as_ref(), &handle, &tenant.id, import, reason),
        };
        let rows = RowReader {
            headers: &headers,
            targets: &targets,
            country: &tenant.country,
            declared: &tenant.custom_fields,
            tags: &tags,
        };
        import = read_rows(
            store.as_ref(),
            &handle,
            &tenant.id,
            import,
            &mut reader,
            &rows,
            done_rows,
        )?;
        if import.phase == ImportPhase::Checking {
            if import.counts.failed > 0 {
                let reason = format!(
                    "{} of {} rows cannot be imported (see the report); nothing was imported",
                    import.counts.failed, import.counts.read
                );
                return fail(store.as_ref(), &handle, &tenant.id, import, reason);
            }
            // Every row reads: write them, from the first.
            let rows_read = import.counts.read;
            import.phase = ImportPhase::Writing;
            import.counts = ImportCounts::default();
            import = commit(
                store.as_ref(),
                &handle,
                &tenant.id,
                &import,
                rows_read,
                0,
                Vec::new(),
                &[],
            )?;
            done_rows = 0;
            continue;
        }
        import.status = ImportStatus::Completed;
        import.finished_at = Some(Timestamp::now());
        handle.block_on(store.finish_import(&tenant.id, &import))?;
        return Ok(import);
    }
}

/// The headers of the file and what each column fills.
pub fn columns<R: Read>(
    tenant: &Tenant,
    import: &Import,
    reader: &mut csv::Reader<R>,
) -> Result<(Vec<String>, Vec<Target>), String> {
    let headers = reader
        .byte_headers()
        .map_err(|e| format!("the file's first line cannot be read: {e}"))?
        .clone();
    let headers: Vec<String> = cells(&headers)
        .map_err(|i| {
            format!(
                "header {} is not UTF-8 text (save the file as CSV UTF-8)",
                i + 1
            )
        })?
        .into_iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let targets = mapping::resolve(&headers, &import.options.mapping, &tenant.custom_fields)?;
    Ok((headers, targets))
}

/// Reads every row after the header, committing a batch each [`BATCH_ROWS`] rows; rows
/// before `done_rows` were committed by an earlier run and only rebuild what it saw.
fn read_rows<R: Read>(
    store: &dyn AudienceStore,
    handle: &Handle,
    tenant_id: &str,
    mut import: Import,
    reader: &mut csv::Reader<R>,
    rows: &RowReader<'_>,
    done_rows: u64,
) -> Result<Import, JobError> {
    let checking = import.phase == ImportPhase::Checking;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let (mut row, mut committed) = (0u64, done_rows);
    let (mut contacts, mut report) = (Vec::new(), Vec::new());
    let mut counts = import.counts;
    let mut reported = 0usize;
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| StoreError::Unavailable(format!("reading the file: {e}")))?;
        if !more {
            break;
        }
        let line = record.position().map_or(row + 2, csv::Position::line);
        let resumed = row < done_rows;
        row += 1;
        let read = match cells(&record) {
            Ok(cells) => rows.read(line, &cells),
            Err(i) => Err(vec![ReportRow {
                line,
                column: rows.headers.get(i).cloned().unwrap_or_default(),
                value: String::new(),
                reason: "not UTF-8 text (save the file as CSV UTF-8)".into(),
                result: "failed".into(),
            }]),
        };
        let outcome = match read {
            Ok(contact) => match file_key(&contact).and_then(|k| seen.get(k).map(|l| (k, *l))) {
                Some((_, first)) => Err(vec![ReportRow {
                    line,
                    column: String::new(),
                    value: file_key(&contact).unwrap_or_default().to_owned(),
                    reason: format!("repeats the contact of line {first}"),
                    result: "skipped".into(),
                }]),
                None => {
                    if let Some(key) = file_key(&contact) {
                        seen.insert(key.to_owned(), line);
                    }
                    Ok(contact)
                }
            },
            Err(errors) => Err(errors),
        };
        if resumed {
            continue;
        }
        counts.read += 1;
        match outcome {
            Ok(contact) if !checking => contacts.push((line, contact)),
            Ok(_) => {}
            Err(errors) => {
                if errors[0].result == "skipped" {
                    counts.skipped += 1;
                } else {
                    counts.failed += 1;
                }
                if reported < MAX_REPORT_ROWS {
                    reported += errors.len();
                    report.extend(errors);
                }
            }
        }
        if (row - committed) as usize >= BATCH_ROWS {
            import.counts = counts;
            import = commit(
                store,
                handle,
                tenant_id,
                &import,
                committed,
                row,
                std::mem::take(&mut contacts),
                &std::mem::take(&mut report),
            )?;
            counts = import.counts;
            committed = row;
        }
    }
    import.counts = counts;
    if row > committed || committed == 0 {
        import = commit(
            store, handle, tenant_id, &import, committed, row, contacts, &report,
        )?;
    }
    Ok(import)
}

#[allow(clippy::too_many_arguments)]
fn commit(
    store: &dyn AudienceStore,
    handle: &Handle,
    tenant_id: &str,
    import: &Import,
    expected_rows: u64,
    rows_after: u64,
    contacts: Vec<(u64, crate::model::Contact)>,
    report: &[ReportRow],
) -> Result<Import, JobError> {
    let batch = ImportBatch {
        expected_rows,
        rows_after,
        contacts,
        existing: import.options.existing,
        report,
        import,
    };
    handle
        .block_on(store.commit_import_batch(tenant_id, batch, Timestamp::now() + LEASE))?
        .ok_or(JobError::LeaseLost)
}

fn fail(
    store: &dyn AudienceStore,
    handle: &Handle,
    tenant_id: &str,
    mut import: Import,
    reason: String,
) -> Result<Import, JobError> {
    import.status = ImportStatus::Failed;
    import.error = Some(reason);
    import.finished_at = Some(Timestamp::now());
    handle.block_on(store.finish_import(tenant_id, &import))?;
    Ok(import)
}

/// The phase an import starts in.
pub fn first_phase(mode: ImportMode) -> ImportPhase {
    match mode {
        ImportMode::SkipBadRows => ImportPhase::Writing,
        ImportMode::AllOrNothing => ImportPhase::Checking,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_is_read_from_the_first_line() {
        assert_eq!(sniff_delimiter(b"name,phone\nx;y;z"), b',');
        assert_eq!(sniff_delimiter(b"name;phone;\"a,b\"\n"), b';');
        assert_eq!(sniff_delimiter(b"name\tphone\n"), b'\t');
        assert_eq!(sniff_delimiter(b"phone\n"), b',');
    }
}
