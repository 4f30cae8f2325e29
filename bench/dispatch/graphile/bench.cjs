// graphile-worker baseline for bench/dispatch.sh: one worker process (concurrency C, a no-op
// task) and, in this process, P producers each calling addJob once per call (one transaction
// each) for the window. Reports jobs/s completed in the window and add→start latency, measured
// with the system-wide monotonic clock (process.hrtime) shared by both processes.
//
// Environment: GRAPHILE_DIR (npm prefix holding node_modules/graphile-worker), DATABASE_URL,
// BENCH_SECONDS, WARMUP_S, PRODUCERS, CONCURRENCY, OUT (JSON result path).
"use strict";

const path = require("path");
const fs = require("fs");
const { fork } = require("child_process");

const dir = process.env.GRAPHILE_DIR;
const load = (name) => require(path.join(dir, "node_modules", name));
const graphile = load("graphile-worker");
const pg = load("pg");
const version = load("graphile-worker/package.json").version;

const connectionString = process.env.DATABASE_URL;
const seconds = Number(process.env.BENCH_SECONDS || 10);
const warmupS = Number(process.env.WARMUP_S || 2);
const producers = Number(process.env.PRODUCERS || 64);
const concurrency = Number(process.env.CONCURRENCY || 64);

const now = () => process.hrtime.bigint();
const quiet = new graphile.Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});

function summary(samplesNs) {
  const ms = samplesNs.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  const n = ms.length;
  const rank = (pct) => ms[Math.min(n, Math.max(1, Math.ceil((pct / 100) * n))) - 1];
  if (n === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  return { count: n, mean: ms.reduce((a, b) => a + b, 0) / n, p50: rank(50), p90: rank(90), p99: rank(99), max: ms[n - 1] };
}

async function workerMain() {
  let window = null;
  const latencies = [];
  let succeededInWindow = 0;
  let succeeded = 0;
  let failed = 0;
  const runner = await graphile.run({
    connectionString,
    concurrency,
    maxPoolSize: concurrency + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quiet,
    taskList: {
      noop: async (payload) => {
        const started = now();
        const added = BigInt(payload.t);
        if (window && added >= window.start && added < window.end) latencies.push(started - added);
      },
    },
  });
  runner.events.on("job:success", () => {
    succeeded += 1;
    const at = now();
    if (window && at >= window.start && at < window.end) succeededInWindow += 1;
  });
  runner.events.on("job:error", () => { failed += 1; });
  process.on("message", async (message) => {
    if (message.type === "window") {
      window = { start: BigInt(message.start), end: BigInt(message.end) };
    } else if (message.type === "progress") {
      process.send({ type: "progress", succeeded, failed });
    } else if (message.type === "stop") {
      await runner.stop();
      process.send({ type: "stats", succeeded, succeededInWindow, failed, latency: summary(latencies) });
      process.exit(0);
    }
  });
  process.send({ type: "ready" });
}

function ask(child, type) {
  return new Promise((resolve) => {
    const wanted = type === "stop" ? "stats" : type;
    const listener = (message) => {
      if (message.type === wanted) {
        child.off("message", listener);
        resolve(message);
      }
    };
    child.on("message", listener);
    child.send({ type });
  });
}

async function produce(utils, window, counts) {
  while (now() < window.end) {
    const t = now();
    try {
      await utils.addJob("noop", { t: t.toString() });
      counts.added += 1;
    } catch (error) {
      counts.errors += 1;
      if (counts.errors === 1) console.error(`addJob failed: ${error.message}`);
    }
  }
}

async function main() {
  await graphile.runMigrations({ connectionString, logger: quiet });
  const child = fork(__filename, ["worker"], { stdio: "inherit" });
  await new Promise((resolve, reject) => {
    child.once("message", (m) => (m.type === "ready" ? resolve() : reject(new Error("bad start"))));
    child.once("exit", (code) => reject(new Error(`graphile worker exited with ${code}`)));
  });
  const pool = new pg.Pool({ connectionString, max: producers });
  pool.on("error", (error) => console.error(`producer pool: ${error.message}`));
  pool.on("connect", (client) => client.on("error", (error) => console.error(`producer client: ${error.message}`)));
  const utils = await graphile.makeWorkerUtils({ pgPool: pool, logger: quiet });
  const start = now() + BigInt(Math.round(warmupS * 1e9));
  const window = { start, end: start + BigInt(Math.round(seconds * 1e9)) };
  child.send({ type: "window", start: window.start.toString(), end: window.end.toString() });
  const counts = { added: 0, errors: 0 };
  await Promise.all(Array.from({ length: producers }, () => produce(utils, window, counts)));
  // Let the worker finish what was added (30 s at most) so nothing is left running.
  const drainUntil = Date.now() + 30000;
  let progress = await ask(child, "progress");
  while (progress.succeeded + progress.failed < counts.added && Date.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    progress = await ask(child, "progress");
  }
  const stats = await ask(child, "stop");
  await utils.release();
  await pool.end();
  const result = {
    status: "ok",
    version,
    producers,
    concurrency,
    seconds,
    added: counts.added,
    add_errors: counts.errors,
    completed: stats.succeededInWindow,
    failed: stats.failed,
    jobs_per_s: stats.succeededInWindow / seconds,
    latency_ms: stats.latency,
  };
  fs.writeFileSync(process.env.OUT, JSON.stringify(result, null, 2));
  console.log(
    `graphile-worker ${version}: ${result.jobs_per_s.toFixed(1)} jobs/s done, add→start p50=${stats.latency.p50.toFixed(2)}ms ` +
      `p99=${stats.latency.p99.toFixed(2)}ms (added ${counts.added}, add errors ${counts.errors}, failed ${stats.failed})`,
  );
}

const entry = process.argv[2] === "worker" ? workerMain : main;
entry().catch((error) => {
  console.error(`graphile bench failed: ${error.stack || error}`);
  process.exit(1);
});
