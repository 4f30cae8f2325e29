// One function: facts, details editor, pause, delete (with undo), capabilities and verification
// editors, code upload, builds with their logs, and the invoke form.

import { api, request } from '../api.js';
import { ApiError } from '../api.js';
import { badge, busy, checkbox, errorNotice, facts, field, fill, h, markInvalid, notice, statusBadge, table, toast } from '../dom.js';
import { energy, when } from '../format.js';
import { deletedPage, editForm, logButton } from './function_edit.js';
import { invokePanel } from './invoke.js';

const ENTRY = { py: 'handler.py', js: 'handler.js' };

function capabilitiesForm(id, caps) {
  const out = h('div', { 'aria-live': 'polite' });
  const num = (name, value, min, max) => h('input', { name, type: 'number', value: String(value), min: String(min), max: String(max), required: true });
  const inputs = {
    timeout: num('timeout', caps.timeout, 10, 120),
    cpuCount: num('cpuCount', caps.cpuCount, 0, 4),
    memSize: num('memSize', caps.memSize, 0, 2048),
    networkLatency: num('networkLatency', caps.networkLatency, 0, 60000),
  };
  const privileged = checkbox('Needs a privileged container (an admin must approve your account)', { name: 'privileged', checked: caps.privileged });
  const volunteers = checkbox("May run on other accounts' volunteer nodes", { name: 'volunteers', checked: caps.volunteers });
  const button = h('button', { type: 'submit', text: 'Save capabilities' });
  const form = h('form', { class: 'stack' },
    field('Timeout (s)', inputs.timeout, '10–120'),
    field('CPUs', inputs.cpuCount, '0 = any, up to 4'),
    field('Memory (MB)', inputs.memSize, '0 = any, up to 2048'),
    field('Latency bound (ms)', inputs.networkLatency, '0 = any'),
    privileged.el, volunteers.el, h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, Number(el.value)]));
      body.privileged = privileged.box.checked;
      body.volunteers = volunteers.box.checked;
      try {
        await api(`/v1/function/${id}/capabilities`, { method: 'POST', json: body });
        markInvalid(form, {});
        fill(out, notice('ok', 'Capabilities saved; new tasks use them.'));
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not saved'));
      }
    });
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'caps-title' }, h('h2', { id: 'caps-title', text: 'Capabilities' }), form);
}

// k-of-n result verification (docs/security.md): runs on nodes of `quorum` different owners.
function verificationForm(id, current) {
  const out = h('div', { 'aria-live': 'polite' });
  const quorum = h('input', { name: 'quorum', type: 'number', value: String(current.quorum), min: '0', max: '5', required: true });
  const maxRuns = h('input', { name: 'maxRuns', type: 'number', value: String(current.maxRuns), min: '0', max: '10', required: true });
  const button = h('button', { type: 'submit', text: 'Save verification' });
  const form = h('form', { class: 'stack' },
    field('Quorum', quorum, '0 = off; 2–5 agreeing answers from nodes of different owners'),
    field('Most runs', maxRuns, 'the quorum to 10; 0 = twice the quorum'),
    h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        const saved = await api(`/v1/function/${id}/verification`, { method: 'PUT', json: { quorum: Number(quorum.value), maxRuns: Number(maxRuns.value) } });
        maxRuns.value = String(saved.maxRuns);
        markInvalid(form, {});
        fill(out, notice('ok', saved.quorum ? `New tasks need ${saved.quorum} agreeing answers (at most ${saved.maxRuns} runs).` : 'Verification is off for new tasks.'));
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not saved'));
      }
    });
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'verify-title' }, h('h2', { id: 'verify-title', text: 'Result verification' }), form);
}

function uploadForm(fn, onUploaded) {
  const out = h('div', { 'aria-live': 'polite' });
  const file = h('input', { name: 'archive', type: 'file', accept: '.zip,.tar.gz,.tgz,application/zip,application/gzip', required: true });
  const button = h('button', { type: 'submit', text: 'Upload code' });
  const entry = ENTRY[fn.lang];
  const form = h('form', { class: 'stack' },
    field('Code package', file, `A zip or tar.gz of the function's folder${entry ? `, with ${entry} at its root` : ''}; at most 50 MiB.`),
    h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    busy(button, async () => {
      const type = /\.zip$/i.test(chosen.name) ? 'application/zip' : 'application/gzip';
      const response = await request(`/v1/build/${fn.id}`, { method: 'POST', body: chosen, headers: { 'content-type': type } });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        fill(out, errorNotice(new ApiError(response.status, data), 'Upload refused'));
        return;
      }
      fill(out, notice('ok', `Build ${data.id.slice(0, 8)} created from ${chosen.name}.`));
      form.reset();
      await onUploaded();
    }, out);
  });
  return form;
}

async function buildsTable(id) {
  const builds = await api(`/v1/build/list?functionId=${id}&limit=10`);
  const log = h('div');
  return h('div', {}, table([
    { label: 'Build', cell: (b) => h('code', { text: b.id.slice(0, 8) }) },
    { label: 'Status', cell: (b) => statusBadge(b.status) },
    { label: 'Uploaded', cell: (b) => when(b.createdAt) },
    { label: 'Log', cell: (b) => logButton(b.id, log) },
  ], builds.results, { caption: `${builds.totalCount} builds, newest first`, empty: 'No builds yet: upload the code to run this function.' }), log);
}

export async function render(root, route) {
  const id = route.params.id;
  const [fn, tags, usage, verification] = await Promise.all([api(`/v1/function/${id}`), api('/v1/tag/list'),
    api(`/v1/function/${id}/metrics`), api(`/v1/function/${id}/verification`)]);
  const out = h('div', { 'aria-live': 'polite' });
  const state = h('span', {}, fn.paused ? badge('paused', 'warn') : badge('active', 'ok'));
  const pause = h('button', { type: 'button', class: 'secondary', text: fn.paused ? 'Resume' : 'Pause' });
  pause.addEventListener('click', () => busy(pause, async () => {
    await api(`/v1/function/${id}/togglePause`, { method: 'POST' });
    fn.paused = !fn.paused;
    fill(state, fn.paused ? badge('paused', 'warn') : badge('active', 'ok'));
    pause.textContent = fn.paused ? 'Resume' : 'Pause';
    toast(fn.paused ? `${fn.name} paused: new tasks are refused, queued ones held` : `${fn.name} resumed`);
  }, out));
  const remove = h('button', { type: 'button', class: 'danger', text: 'Delete' });
  remove.addEventListener('click', () => {
    if (!window.confirm(`Delete function ${fn.name}? You can restore it from the page that follows.`)) return;
    busy(remove, async () => {
      await api(`/v1/function/${id}`, { method: 'DELETE' });
      toast(`${fn.name} deleted`);
      deletedPage(root, fn, () => render(root, route));
    }, out);
  });
  const builds = h('div');
  const reloadBuilds = async () => fill(builds, await buildsTable(id));

  fill(root,
    h('p', {}, h('a', { href: '#/functions', text: '← Functions' })),
    h('h1', { text: fn.name }),
    out,
    h('section', { class: 'panel' },
      facts([
        ['Id', h('code', { text: fn.id })],
        ['Description', fn.description || '—'],
        ['Language', fn.lang],
        ['Tags', fn.tags.length ? fn.tags.map((t) => [badge(t.name), ' ']) : '—'],
        ['State', state],
        ['Tasks', h('span', {}, `${fn.metrics.todaysTasks} today · ${fn.metrics.pendingTasks} pending · ${fn.metrics.completedTasks} completed · `,
          h('a', { href: `#/tasks?functionId=${fn.id}`, text: 'see tasks' }))],
        ['Energy', usage.measuredTasks ? `${energy(usage.energyWh, usage.cpuSeconds)} over ${usage.measuredTasks} measured tasks` : 'no measured task yet'],
        ['Created', when(fn.createdAt)],
      ]),
      h('div', { class: 'actions' }, pause, remove)),
    h('div', { class: 'grid2' },
      invokePanel(fn),
      h('section', { class: 'panel', 'aria-labelledby': 'code-title' },
        h('h2', { id: 'code-title', text: 'Code and builds' }), uploadForm(fn, reloadBuilds), builds)),
    h('div', { class: 'grid2' }, editForm(fn, tags, () => render(root, route)), capabilitiesForm(id, fn.capabilities)),
    h('div', { class: 'grid2' }, verificationForm(id, verification)));
  await reloadBuilds();
  return null;
}
