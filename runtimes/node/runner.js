'use strict';
// Canopy Node runner: serves the function in /app/handler.js over HTTP (docs/runtime-contract.md), or a
// Serverledge handler(params, context) named in /app/.canopy/serverledge.json (docs/serverledge.md).
// Standard library only and Node 18 compatible, because the offline image ships Debian bookworm's nodejs.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const APP_DIR = path.resolve(process.env.CANOPY_APP_DIR || '/app');
const HEALTH_PATH = '/__canopy/health';
const MAX_ERROR_HEADER = 1000;
const TEXT = 'text/plain; charset=utf-8';
// Written by the dispatcher's Serverledge facade into packages it builds.
const SERVERLEDGE_MANIFEST = '.canopy/serverledge.json';
const LOAD_PATH = '/__canopy/load';

// Kept for our own shutdown; handlers get a process.exit that throws (see below).
const exit = process.exit.bind(process);

class HandlerError extends Error {}

function describe(err) {
  if (err instanceof Error) return err.message ? `${err.name}: ${err.message}` : err.name;
  return `thrown value: ${String(err)}`;
}

// One printable-ASCII line, escaped the same way as the Python runner, so any HTTP client accepts it.
function headerSafe(message) {
  let out = '';
  for (const ch of message) {
    const code = ch.codePointAt(0);
    if (code >= 0x20 && code < 0x7f) out += ch;
    else if (code < 0x20 || code === 0x7f) out += ' ';
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return out.trim().slice(0, MAX_ERROR_HEADER);
}

// Imports handle() once at start; a broken entry point is reported per request, not fatal.
async function loadHandler() {
  const manifest = path.join(APP_DIR, SERVERLEDGE_MANIFEST);
  if (fs.existsSync(manifest)) return loadServerledge(manifest);
  const file = path.join(APP_DIR, 'handler.js');
  let mod;
  try {
    try {
      mod = require(file);
    } catch (err) {
      // A package.json with "type": "module" makes handler.js an ES module, which Node 18 cannot require.
      if (err.code !== 'ERR_REQUIRE_ESM') throw err;
      mod = await import(pathToFileURL(file).href);
    }
  } catch (err) {
    console.error(err);
    return { error: `loading handler.js failed: ${describe(err)}` };
  }
  const candidates = [mod, mod && mod.handle, mod && mod.default, mod && mod.default && mod.default.handle];
  const handle = candidates.find((c) => typeof c === 'function');
  if (!handle) return { error: 'handler.js does not export handle(request)' };
  return { handle };
}

// A function created through the Serverledge facade: the file named in the manifest exports
// handler(params, context) (module.exports = fn, or its `handler`/`default`), adapted to
// handle(request) (docs/serverledge.md). Unlike upstream, an async handler is awaited.
function loadServerledge(manifest) {
  let fn;
  try {
    const spec = JSON.parse(fs.readFileSync(manifest, 'utf8')).handler;
    const mod = require(path.join(APP_DIR, spec));
    fn = [mod, mod && mod.handler, mod && mod.default].find((c) => typeof c === 'function');
    if (!fn) return { error: `${spec} does not export handler(params, context)` };
  } catch (err) {
    console.error(err);
    return { error: `loading Serverledge handler failed: ${describe(err)}` };
  }
  const { AsyncLocalStorage } = require('node:async_hooks');
  const capture = new AsyncLocalStorage();
  // ReturnOutput: what this request's own code writes is captured, other requests' is not.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = (chunk, ...rest) => {
      const buffer = capture.getStore();
      if (!buffer) return write(chunk, ...rest);
      buffer.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      const done = rest.find((arg) => typeof arg === 'function');
      if (done) done();
      return true;
    };
  }
  const handle = async (request) => {
    const call = request.body.length ? request.json() : {};
    if (call === null || typeof call !== 'object' || Array.isArray(call)) {
      throw new HandlerError('the request body must be a JSON object with Params');
    }
    const params = call.Params || {};
    const buffer = call.ReturnOutput ? [] : null;
    const run = () => fn(params, {});
    const result = await (buffer ? capture.run(buffer, run) : run());
    const encoded = JSON.stringify(result === undefined ? null : result);
    return { status: 200, body: { Result: encoded, Output: buffer ? buffer.join('') : '' } };
  };
  return { handle };
}

function isBytes(v) {
  return Buffer.isBuffer(v) || v instanceof Uint8Array || v instanceof ArrayBuffer;
}

// Turns a returned body into bytes, choosing the content type the contract gives each kind.
function encodeBody(body) {
  if (body === undefined) return [Buffer.alloc(0), null];
  if (typeof body === 'string') return [Buffer.from(body, 'utf8'), TEXT];
  if (isBytes(body)) {
    const buf = body instanceof ArrayBuffer ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return [buf, 'application/octet-stream'];
  }
  let json;
  try {
    json = JSON.stringify(body);
  } catch (err) {
    throw new HandlerError(`handler returned a value that is not JSON: ${describe(err)}`);
  }
  if (json === undefined) throw new HandlerError(`handler returned a value that is not JSON: ${typeof body}`);
  return [Buffer.from(json, 'utf8'), 'application/json'];
}

function isResponseObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !isBytes(v) &&
    'body' in v && ('status' in v || 'headers' in v);
}

// [status, headers, body] for what handle() returned.
function toResponse(result) {
  let status = 200;
  let headers = {};
  let body = result;
  if (isResponseObject(result)) {
    status = result.status === undefined ? 200 : result.status;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new HandlerError(`response status must be an integer from 200 to 599, got ${String(status)}`);
    }
    const given = result.headers || {};
    if (typeof given !== 'object' || Array.isArray(given)) {
      throw new HandlerError('response headers must be an object of name -> value');
    }
    for (const [name, value] of Object.entries(given)) {
      try {
        http.validateHeaderName(name);
        http.validateHeaderValue(name, String(value));
      } catch {
        throw new HandlerError(`invalid response header ${JSON.stringify(name)}`);
      }
      headers[name] = String(value);
    }
    body = result.body;
  }
  const [data, contentType] = encodeBody(body);
  const names = Object.keys(headers).map((n) => n.toLowerCase());
  if (contentType && !names.includes('content-type')) headers['Content-Type'] = contentType;
  return [status, headers, data];
}

function makeRequest(req, body) {
  const url = req.url || '/';
  const q = url.indexOf('?');
  const query = q === -1 ? '' : url.slice(q + 1);
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method,
    path: q === -1 ? url : url.slice(0, q),
    query,
    // Object.fromEntries keeps the last value of a repeated name, as the contract asks.
    queryParams: Object.fromEntries(new URLSearchParams(query)),
    headers,
    body,
    text(encoding = 'utf8') {
      return body.toString(encoding);
    },
    json() {
      return JSON.parse(body.toString('utf8'));
    },
  };
}

function reply(res, status, headers, data) {
  // These statuses carry no body, and a stray one would break keep-alive framing.
  if (status === 204 || status === 304) data = Buffer.alloc(0);
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower !== 'content-length' && lower !== 'transfer-encoding' && lower !== 'connection') {
      res.setHeader(name, value);
    }
  }
  res.setHeader('Content-Length', data.length);
  res.writeHead(status);
  res.end(data);
}

function fail(res, message) {
  reply(res, 500, { 'Content-Type': TEXT, 'X-Canopy-Error': headerSafe(message) || 'error' },
    Buffer.from(`error: ${message}`, 'utf8'));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Kills every other process in the container (what a function spawned and left behind), so
// nothing outlives its task in a warm container that the next task of the function reuses.
// Only as the container's PID 1 (or when asked): on a host, "every other process" is the host's.
const REAP_STRAYS = process.pid === 1 || process.env.CANOPY_REAP_STRAYS === '1';
function reapStrays() {
  if (!REAP_STRAYS) return;
  const keep = new Set([process.pid, process.ppid, 1]);
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch (err) {
    return;
  }
  const killed = [];
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry) || keep.has(Number(entry))) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(Number(entry));
    } catch (err) {
      // Gone already, or not ours.
    }
  }
  // Node cannot waitpid (libuv collects its own children later), so wait, briefly, until each one
  // is dead (a zombie or gone): a SIGKILL takes effect when the process is next scheduled.
  const deadline = Date.now() + 100;
  for (const pid of killed) {
    while (Date.now() < deadline && !isDead(pid));
  }
}

function isDead(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch (err) {
    return true;
  }
}

async function serve(loaded, req, res) {
  const body = await readBody(req);
  const pathOnly = (req.url || '/').split('?', 1)[0];
  if (req.method === 'GET' && pathOnly === HEALTH_PATH) {
    return reply(res, 200, { 'Content-Type': TEXT }, Buffer.from('ok'));
  }
  if (req.method === 'POST' && pathOnly === LOAD_PATH && loaded.blank) {
    return load(loaded, res);
  }
  let response;
  try {
    if (!loaded.handle) throw new HandlerError(loaded.error);
    response = toResponse(await loaded.handle(makeRequest(req, body)));
  } catch (err) {
    if (!(err instanceof HandlerError)) console.error(err);
    response = null;
    fail(res, err instanceof HandlerError ? err.message : describe(err));
  }
  if (response) reply(res, ...response);
  // In the same tick as res.end(): the connection's next task cannot start (on 'finish' it could)
  // before what this one left running is gone.
  reapStrays();
}

// A blank container (CANOPY_BLANK=1) starts before its function is known; the worker puts the code
// under /app and then asks once to load it. It never loads another: a container that held one
// function's code is never given to another.
async function load(loaded, res) {
  if (loaded.loading) {
    return reply(res, 409, { 'Content-Type': TEXT }, Buffer.from('a function is already loaded'));
  }
  loaded.loading = true;
  Object.assign(loaded, await loadHandler());
  // A load error is answered per request, as for a container started with its code.
  reply(res, 200, { 'Content-Type': TEXT }, Buffer.from(loaded.handle ? 'loaded' : `error: ${loaded.error}`));
}

async function main() {
  // As PID 1 the default SIGTERM action is ignored; `docker stop` should not wait for SIGKILL.
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));
  // The runner never exits because of a handler: stray timers and promises only get logged.
  process.on('uncaughtException', (err) => console.error('uncaught exception in handler code:', err));
  process.on('unhandledRejection', (err) => console.error('unhandled rejection in handler code:', err));
  process.exit = (code) => {
    throw new Error(`process.exit(${code === undefined ? '' : code}) is not allowed in a handler`);
  };

  const loaded = process.env.CANOPY_BLANK === '1'
    ? { blank: true, error: 'no function is loaded in this container yet' }
    : await loadHandler();
  // noDelay: small responses must not wait for the client's delayed ACK (Nagle).
  const server = http.createServer({ noDelay: true }, (req, res) => {
    serve(loaded, req, res).catch((err) => {
      console.error(err);
      res.destroy();
    });
  });
  // The worker owns connection lifetimes; Node's 5 s idle close would race its pooled keep-alive reuse.
  server.keepAliveTimeout = 0;
  const port = Number(process.env.PORT || 8080);
  server.listen(port, '0.0.0.0', () => {
    console.error(`canopy node runner listening on :${server.address().port}`);
  });
}

main();
