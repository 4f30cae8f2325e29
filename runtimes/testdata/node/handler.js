// Test fixture for runtimes/test-runtimes.sh: behaves as ?mode= (or the first path segment) asks.
// Modes: echo, binary, raise, unicode-raise, string, json, none, status, sleep (&seconds=N), fs, egress (&host=&port=),
// fork (leaves a child running), procs (the other processes in the container).
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

function canWrite(file) {
  try {
    fs.writeFileSync(file, 'x');
    fs.unlinkSync(file);
    return true;
  } catch {
    return false;
  }
}

function isZombie(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone meanwhile
  }
}

function connect(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.on('connect', () => { socket.destroy(); resolve({ connected: true }); });
    socket.on('timeout', () => { socket.destroy(); resolve({ connected: false, error: 'timed out' }); });
    socket.on('error', (err) => resolve({ connected: false, error: err.message }));
  });
}

async function handle(request) {
  const mode = request.queryParams.mode || request.path.split('/')[1] || 'echo';
  switch (mode) {
    case 'echo':
      return {
        status: 200,
        body: {
          method: request.method,
          path: request.path,
          query: request.query,
          queryParams: request.queryParams,
          contentType: request.headers['content-type'] || null,
          json: request.body.length ? request.json() : null,
        },
      };
    case 'binary': {
      const buf = Buffer.alloc(4096);
      for (let i = 0; i < buf.length; i++) buf[i] = i % 256;
      return buf;
    }
    case 'raise':
      throw new Error('boom requested');
    case 'unicode-raise':
      throw new RangeError('d\u00e9j\u00e0 vu \u2603\nsecond line');
    case 'string':
      return 'plain string';
    case 'json':
      return [1, 'two', { three: 3 }, null, true];
    case 'none':
      return undefined;
    case 'status':
      return { status: 201, headers: { 'X-Fixture': 'yes' }, body: 'created' };
    case 'sleep':
      await new Promise((r) => setTimeout(r, Number(request.queryParams.seconds || 1) * 1000));
      return 'slept';
    case 'fs':
      return {
        uid: process.getuid(), gid: process.getgid(), tmp: canWrite('/tmp/probe'),
        root: canWrite('/probe'), app: canWrite(path.join(__dirname, 'probe')),
      };
    case 'fork':
      spawn('sleep', ['300'], { stdio: 'ignore' });
      return 'forked';
    case 'procs':
      // Live ones only: the Node runner kills strays, and libuv collects its own children a moment
      // later, so a killed child may still be a zombie here (docs/runtime-contract.md).
      return fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).map(Number)
        .filter((p) => p !== process.pid && p !== 1 && !isZombie(p)).sort((a, b) => a - b);
    case 'egress':
      return connect(request.queryParams.host || '1.1.1.1', Number(request.queryParams.port || 80));
    default:
      return { status: 404, body: `unknown mode ${mode}` };
  }
}

module.exports = { handle };
