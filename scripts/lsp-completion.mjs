#!/usr/bin/env node
// Drives yaml-language-server over stdio LSP with schemas/flow.schema.json associated through the
// `yaml.schemas` setting (as an editor would), and checks that an editor gets what the schema promises:
//   (a) completion at an empty key inside a step item offers the step kinds send_sms, wait_for, if;
//   (b) completion inside a `send_sms:` mapping offers body and to;
//   (c) a step with the misspelt kind `send_smss:` gets a schema diagnostic on that line,
//       while the same flow spelt correctly gets none (the control).
// No dependencies beyond Node itself and the server.
//
// Usage: node scripts/lsp-completion.mjs <path to yaml-language-server bin> <path to flow.schema.json>
// Exit status: 0 all checks held, 1 a check failed, 2 the server could not be driven (crash, timeout).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const OVERALL_TIMEOUT_MS = 45_000; // the whole run; the caller adds its own hard limit on top
const REQUEST_TIMEOUT_MS = 15_000;
const DIAGNOSTICS_TIMEOUT_MS = 15_000;

const [serverBin, schemaPath] = process.argv.slice(2);
if (!serverBin || !schemaPath) {
  console.error('usage: lsp-completion.mjs <yaml-language-server bin> <flow.schema.json>');
  process.exit(2);
}
const schemaUri = pathToFileURL(path.resolve(schemaPath)).href;
const repoRoot = path.resolve(path.dirname(schemaPath), '..');
// In-memory documents (never written to disk): the server is told their text by didOpen.
const docDir = path.join(repoRoot, 'target', 'lsp-check');
const docUri = (name) => pathToFileURL(path.join(docDir, name)).href;

// ---------------------------------------------------------------------------------------------
// Minimal JSON-RPC over stdio with Content-Length framing.

const server = spawn(process.execPath, [serverBin, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
let serverStderr = '';
const serverLog = [];
const serverErrors = [];
server.stderr.on('data', (b) => { serverStderr += b.toString(); });
server.on('exit', (code, signal) => {
  if (!finished) fail(2, `yaml-language-server exited early (code ${code}, signal ${signal})`);
});

let finished = false;
function fail(code, message) {
  if (finished) return;
  finished = true;
  console.error(`lsp: FAIL: ${message}`);
  if (serverLog.length) console.error(`lsp: server log:\n  ${serverLog.slice(-20).join('\n  ')}`);
  if (serverStderr.trim()) console.error(`lsp: server stderr:\n${serverStderr.trim()}`);
  server.kill('SIGKILL');
  process.exit(code);
}
const overall = setTimeout(() => fail(2, `timed out after ${OVERALL_TIMEOUT_MS / 1000}s`), OVERALL_TIMEOUT_MS);

function send(msg) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
  server.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  server.stdin.write(body);
}

let nextId = 1;
const pending = new Map(); // id -> { resolve, reject, timer, method }
function request(method, params) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`no answer to ${method} within ${REQUEST_TIMEOUT_MS / 1000}s`));
    }, REQUEST_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer, method });
    send({ id, method, params });
  });
}
const notify = (method, params) => send({ method, params });

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Diagnostics: every publishDiagnostics is recorded; waiters are woken on each one.
const diagnostics = new Map(); // uri -> array of publishes (each an array of diagnostics)
const diagnosticWaiters = [];
function waitForDiagnostics(uri, predicate, what) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = (diagnostics.get(uri) || []).find(predicate);
      if (found) { resolve(found); return true; }
      return false;
    };
    if (check()) return;
    const waiter = { check };
    const timer = setTimeout(() => {
      diagnosticWaiters.splice(diagnosticWaiters.indexOf(waiter), 1);
      reject(new Error(`no ${what} for ${uri} within ${DIAGNOSTICS_TIMEOUT_MS / 1000}s; got ${JSON.stringify(diagnostics.get(uri) || [])}`));
    }, DIAGNOSTICS_TIMEOUT_MS);
    waiter.check = () => { if (check()) { clearTimeout(timer); return true; } return false; };
    diagnosticWaiters.push(waiter);
  });
}

// Settings the server pulls with workspace/configuration (sections: yaml, http, [yaml], editor;
// see settingsHandlers.js doPullConfiguration in the package). The schema is associated with the
// test documents by the `yaml.schemas` setting: key = schema URI, value = glob(s) of documents.
const settings = {
  yaml: {
    validate: true,
    completion: true,
    hover: true,
    schemas: { [schemaUri]: ['target/lsp-check/*.yaml'] },
    schemaStore: { enable: false }, // no catalogue download: the only schema in play is ours
  },
  http: { proxy: '', proxyStrictSSL: false },
  '[yaml]': {},
  editor: {},
};
let configurationServed;
const configurationPulled = new Promise((resolve) => { configurationServed = resolve; });

function onServerRequest(msg) {
  switch (msg.method) {
    case 'workspace/configuration': {
      const result = msg.params.items.map((item) => (item.section in settings ? settings[item.section] : null));
      send({ id: msg.id, result });
      if (msg.params.items.some((item) => item.section === 'yaml')) configurationServed();
      return;
    }
    case 'client/registerCapability':
    case 'client/unregisterCapability':
    case 'window/workDoneProgress/create':
    case 'workspace/codeLens/refresh':
      send({ id: msg.id, result: null });
      return;
    default:
      send({ id: msg.id, error: { code: -32601, message: `client does not handle ${msg.method}` } });
  }
}

function onMessage(msg) {
  if (msg.id !== undefined && msg.method === undefined) {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
    else p.resolve(msg.result);
  } else if (msg.id !== undefined) {
    onServerRequest(msg);
  } else if (msg.method === 'textDocument/publishDiagnostics') {
    const list = diagnostics.get(msg.params.uri) || [];
    list.push(msg.params.diagnostics);
    diagnostics.set(msg.params.uri, list);
    for (const w of [...diagnosticWaiters]) {
      if (w.check()) diagnosticWaiters.splice(diagnosticWaiters.indexOf(w), 1);
    }
  } else if (msg.method === 'window/logMessage' || msg.method === 'window/showMessage') {
    serverLog.push(msg.params.message);
  } else if (msg.method === 'telemetry/event' && msg.params?.properties?.error) {
    // The server reports exceptions it swallowed (e.g. inside completion) as telemetry only.
    serverErrors.push(`${msg.params.name}: ${msg.params.properties.error}`);
  }
}

let buffer = Buffer.alloc(0);
server.stdout.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const headerEnd = buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const header = buffer.subarray(0, headerEnd).toString('ascii');
    const m = /Content-Length: *(\d+)/i.exec(header);
    if (!m) { fail(2, `bad LSP header from server: ${JSON.stringify(header)}`); return; }
    const length = Number(m[1]);
    if (buffer.length < headerEnd + 4 + length) return;
    const body = buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
    buffer = buffer.subarray(headerEnd + 4 + length);
    onMessage(JSON.parse(body));
  }
});

// ---------------------------------------------------------------------------------------------
// The checks.

const HEAD = 'id: demo\ntrigger: { event: lead.created }\nsteps:\n';

function open(name, text) {
  const uri = docUri(name);
  notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
  return uri;
}

async function labelsAt(name, text) {
  // The cursor goes at the end of the text (which ends in the indentation of an empty key).
  const lines = text.split('\n');
  const position = { line: lines.length - 1, character: lines[lines.length - 1].length };
  const uri = open(name, text);
  const errorsBefore = serverErrors.length;
  const result = await request('textDocument/completion', { textDocument: { uri }, position });
  const items = Array.isArray(result) ? result : (result?.items ?? []);
  const errors = serverErrors.slice(errorsBefore);
  return { labels: items.map((item) => item.label), errors };
}

let failures = 0;
function expectLabels(what, { labels, errors }, wanted) {
  const missing = wanted.filter((w) => !labels.includes(w));
  console.log(`lsp: completion ${what}: ${labels.length} labels: ${labels.join(', ')}`);
  for (const e of errors) {
    // message and the first stack frames are enough to locate the cause
    console.log(`lsp: server error during completion ${what}: ${e.split('\n').slice(0, 4).map((l) => l.trim()).join(' | ')}`);
  }
  if (missing.length) {
    console.log(`lsp: FAIL completion ${what}: missing ${missing.join(', ')}`);
    failures++;
  } else if (errors.length) {
    console.log(`lsp: FAIL completion ${what}: the server hit an error computing it`);
    failures++;
  } else {
    console.log(`lsp: ok   completion ${what} offers ${wanted.join(', ')}`);
  }
}

async function main() {
  const init = await request('initialize', {
    processId: process.pid,
    clientInfo: { name: 'stepwise-schema-check' },
    rootUri: pathToFileURL(repoRoot).href,
    workspaceFolders: [{ uri: pathToFileURL(repoRoot).href, name: path.basename(repoRoot) }],
    capabilities: {
      workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } },
      textDocument: {
        synchronization: { dynamicRegistration: false },
        completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] } },
        publishDiagnostics: { relatedInformation: false },
      },
    },
  });
  const info = init.serverInfo ?? {};
  console.log(`lsp: ${info.name ?? 'server'} ${info.version ?? '?'}; schema ${schemaUri} via yaml.schemas`);
  notify('initialized', {});
  await withTimeout(configurationPulled, REQUEST_TIMEOUT_MS, 'server never pulled workspace/configuration');

  // (c) first: a schema diagnostic on the bad document also proves the settings took effect and
  // the schema loaded, before any completion is asked for.
  const badText = `${HEAD}  - id: hello\n    send_smss: { body: "Hi {{contact.first_name}}" }\n`;
  const badLine = 4;
  const badUri = open('unknown-kind.yaml', badText);
  const bad = await waitForDiagnostics(badUri, (ds) => ds.length > 0, 'diagnostics');
  for (const d of bad) {
    console.log(`lsp: diagnostic unknown-kind.yaml:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message.replace(/\s+/g, ' ')} [${d.source ?? ''}]`);
  }
  if (bad.some((d) => d.range.start.line === badLine)) {
    console.log(`lsp: ok   send_smss: gets ${bad.length} diagnostic(s), one on line ${badLine + 1}`);
  } else {
    console.log(`lsp: FAIL send_smss: no diagnostic on line ${badLine + 1} (the send_smss line)`);
    failures++;
  }
  const goodUri = open('control.yaml', `${HEAD}  - id: hello\n    send_sms: { body: "Hi {{contact.first_name}}" }\n`);
  const good = await waitForDiagnostics(goodUri, () => true, 'diagnostics publish');
  if (good.length === 0) {
    console.log('lsp: ok   the same flow spelt send_sms: gets 0 diagnostics');
  } else {
    console.log(`lsp: FAIL control flow gets diagnostics: ${JSON.stringify(good)}`);
    failures++;
  }

  // (a) an empty key inside a step item: the step kinds are offered.
  expectLabels('in a step item', await labelsAt('step-key.yaml', `${HEAD}  - id: x\n    `), ['send_sms', 'wait_for', 'if']);
  // (b) inside send_sms: its fields are offered.
  expectLabels('in send_sms', await labelsAt('send-sms-key.yaml', `${HEAD}  - id: x\n    send_sms:\n      `), ['body', 'to']);

  await request('shutdown', null);
  notify('exit', null);
  finished = true;
  clearTimeout(overall);
  const killer = setTimeout(() => server.kill('SIGKILL'), 2_000);
  server.on('exit', () => clearTimeout(killer));
  console.log(failures ? `lsp: ${failures} check(s) failed` : 'lsp: all checks passed');
  process.exitCode = failures ? 1 : 0;
}

main().catch((err) => fail(2, err.message));
