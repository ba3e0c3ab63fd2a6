// bench/pouchdb/bench.js — the PouchDB reference of BENCHMARKS.md, driven by bench/sync.sh.
// Not part of the test suite. Only talks to 127.0.0.1.
//
//   node bench.js load   URL FILE.tsv      load "ID<TAB>JSON" lines into the remote db (_bulk_docs)
//   node bench.js pull   URL LOCALDIR      fresh leveldb PouchDB, replicate.from(URL), timed
//   node bench.js edit   LOCALDIR DEVICES MEASUREMENTS   edit DEVICES device docs, add test docs
//                                          holding MEASUREMENTS measurements (6 per test), locally
//   node bench.js push   LOCALDIR URL      replicate.to(URL), timed
//
// Each command prints one JSON line with its figures.
'use strict';
const fs = require('fs');
const readline = require('readline');
const crypto = require('crypto');
const PouchDB = require('pouchdb');

function loopbackOnly(url) {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
    throw new Error('only 127.0.0.1 URLs: ' + url);
  }
}

function report(o) {
  o.rss_at_end_mb = Math.round(process.memoryUsage().rss / 1048576);
  console.log(JSON.stringify(o));
}

async function load(url, file) {
  loopbackOnly(url);
  await fetch(url, { method: 'PUT' }); // create the db (412 if it exists)
  const t0 = Date.now();
  let batch = [], n = 0, bytes = 0;
  const flush = async () => {
    if (!batch.length) return;
    const body = JSON.stringify({ docs: batch });
    const r = await fetch(url + '/_bulk_docs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (r.status !== 201) throw new Error('bulk_docs: ' + r.status + ' ' + (await r.text()).slice(0, 200));
    const res = await r.json();
    for (const x of res) if (x.error) throw new Error('bulk_docs: ' + JSON.stringify(x));
    n += batch.length;
    batch = [];
  };
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    const data = line.slice(tab + 1);
    bytes += Buffer.byteLength(data);
    const doc = JSON.parse(data);
    doc._id = line.slice(0, tab);
    batch.push(doc);
    if (batch.length >= 2000) await flush();
  }
  await flush();
  const s = (Date.now() - t0) / 1000;
  report({ phase: 'load', docs: n, data_bytes: bytes, seconds: s, docs_per_s: Math.round(n / s) });
}

async function pull(url, dir) {
  loopbackOnly(url);
  const local = new PouchDB(dir);
  const t0 = Date.now();
  const res = await local.replicate.from(url); // PouchDB defaults: batch_size 100, batches_limit 10
  const s = (Date.now() - t0) / 1000;
  const info = await local.info();
  report({ phase: 'pull', docs_written: res.docs_written, doc_count: info.doc_count, seconds: s,
    docs_per_s: Math.round(res.docs_written / s), status: res.status });
  await local.close();
}

function uuid() { return crypto.randomUUID(); }

async function edit(dir, devices, measurements) {
  const local = new PouchDB(dir);
  const t0 = Date.now();
  // 1k device edits: the first DEVICES devices in key order get a new designation.
  const ds = await local.allDocs({ startkey: 'device:', endkey: 'device:\uffff', limit: devices, include_docs: true });
  const edited = ds.rows.map(r => Object.assign(r.doc, { designation: r.doc.designation + ' (geprüft)' }));
  await local.bulkDocs(edited);
  // New tests with 6 measurements each, on other devices, shaped like a test izy records.
  const others = await local.allDocs({ startkey: 'device:', endkey: 'device:\uffff', skip: devices, limit: Math.ceil(measurements / 6) });
  const m6 = [
    { kind: 'protective_conductor_resistance', value: 0.08, unit: 'Ω', parameters: { point: 'Gehäuse' }, limit: { max: 0.3, unit: 'Ω' }, result: 'pass' },
    { kind: 'protective_conductor_resistance', value: 0.09, unit: 'Ω', parameters: { point: 'Schraube' }, limit: { max: 0.3, unit: 'Ω' }, result: 'pass' },
    { kind: 'insulation_resistance', value: 250, unit: 'MΩ', parameters: { test_voltage: '500 V' }, limit: { min: 1, unit: 'MΩ' }, result: 'pass' },
    { kind: 'protective_conductor_current', value: 0.2, unit: 'mA', limit: { max: 3.5, unit: 'mA' }, result: 'pass' },
    { kind: 'touch_current', value: 0.05, unit: 'mA', limit: { max: 0.5, unit: 'mA' }, result: 'pass' },
    { kind: 'equivalent_leakage_current', value: 0.4, unit: 'mA', limit: { max: 3.5, unit: 'mA' }, result: 'pass' },
  ];
  let left = measurements;
  const tests = [];
  const today = new Date().toISOString().slice(0, 10);
  for (const r of others.rows) {
    if (left <= 0) break;
    const k = Math.min(6, left);
    left -= k;
    const id = uuid();
    tests.push({ _id: 'test:' + id, id, device_id: r.id.slice(7), date: today, standard: 'DIN VDE 0701-0702',
      visual_ok: true, functional_ok: true, measurements: m6.slice(0, k), result: 'pass', comment: '',
      next_due: today, created_at: new Date().toISOString() });
  }
  await local.bulkDocs(tests);
  report({ phase: 'edit', devices_edited: edited.length, tests: tests.length, measurements: measurements - left,
    seconds: (Date.now() - t0) / 1000 });
  await local.close();
}

async function push(dir, url) {
  loopbackOnly(url);
  const local = new PouchDB(dir);
  const t0 = Date.now();
  const res = await local.replicate.to(url);
  const s = (Date.now() - t0) / 1000;
  report({ phase: 'push', docs_read: res.docs_read, docs_written: res.docs_written, seconds: s, status: res.status });
  await local.close();
}

const [cmd, a, b, c] = process.argv.slice(2);
const run = { load: () => load(a, b), pull: () => pull(a, b), edit: () => edit(a, +b, +c), push: () => push(a, b) }[cmd];
if (!run) {
  console.error('usage: node bench.js load URL FILE | pull URL DIR | edit DIR DEVICES MEASUREMENTS | push DIR URL');
  process.exit(2);
}
run().catch(e => { console.error(e); process.exit(1); });
