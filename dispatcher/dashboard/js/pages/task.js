// One task: its state (re-read every 2 s until it ends), why it is pending, the attempt's
// timeline and timings, every attempt (given-up ones with their node and reason), and its result — fetched only when asked for, since it may be large.
// Cancel while it runs; retry (a new task with the same request) once it ended.

import { ApiError, api, request } from '../api.js';
import { badge, busy, errorNotice, facts, fill, h, notice, statusBadge, table, toast } from '../dom.js';
import { energy, ms, short, when } from '../format.js';

const POLL_MS = 2000;
const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'];
const SHOWN_BYTES = 64 * 1024;

function timeline(task) {
  const steps = [
    ['Issued', task.issued],
    ['Assigned to a node', task.assigned],
    [FINAL.includes(task.status) ? `Ended: ${task.status}` : 'Not ended yet', task.finished],
  ];
  return h('ol', { class: 'timeline', 'aria-label': `Attempt ${task.attempt} timeline` },
    steps.map(([label, at]) => h('li', {}, h('strong', { text: label }), ' ', h('span', { class: 'muted', text: at ? when(at) : '—' }))));
}

function details(task) {
  const t = task.timings;
  return h('div', { class: 'grid2' },
    h('section', { class: 'panel' },
      facts([
        ['State', statusBadge(task.status)],
        ['Function', h('a', { href: `#/functions/${task.functionId}`, text: task.functionId })],
        ['Attempt', String(task.attempt)],
        ['Node', task.node ? h('code', { text: task.node }) : '—'],
        ['HTTP status', task.httpStatus ? String(task.httpStatus) : '—'],
        task.error ? ['Error', h('span', {}, badge(task.error.kind, 'bad'), ' ', task.error.message)] : null,
        ['Energy', energy(task.energyWh, task.cpuSeconds)],
      ]),
      task.pendingReason ? notice('warn', h('strong', { text: 'Waiting: ' }), task.pendingReason) : null),
    h('section', { class: 'panel' },
      h('h2', { text: `Attempt ${task.attempt}` }),
      timeline(task),
      facts([
        ['Queue wait', ms(t.queueMs)],
        ['Start-up', ms(t.initMs)],
        ['Execution', ms(t.execMs)],
        ['Total', ms(t.totalMs)],
        ['Container', t.warm === null || t.warm === undefined ? '—' : t.warm ? 'warm' : 'cold start'],
        ['Limits', `${task.capabilities.timeout} s · ${task.capabilities.cpuCount || 'any'} CPU · ${task.capabilities.memSize || 'any'} MB`],
      ])));
}

function attemptsTable(attempts) {
  return h('section', { class: 'panel', 'aria-labelledby': 'attempts-title' },
    h('h2', { id: 'attempts-title', text: 'Attempts' }),
    table([
      { label: 'Attempt', num: true, cell: (a) => String(a.attempt) },
      { label: 'State', cell: (a) => (a.state === 'given_up' ? badge('given up', 'warn') : statusBadge(a.state)) },
      { label: 'Node', cell: (a) => (a.nodeId ? h('code', { text: short(a.nodeId) }) : '—') },
      { label: 'Assigned', cell: (a) => (a.assignedAt ? when(a.assignedAt) : '—') },
      { label: 'Ended', cell: (a) => (a.endedAt ? when(a.endedAt) : '—') },
      { label: 'Why it ended', cell: (a) => a.reason || '—' },
    ], attempts, { caption: 'Oldest first; a worker fault, a lost node or an expired lease gives an attempt up and queues the next' }));
}

async function loadResult(id, out) {
  const response = await request(`/v1/task/${id}/result`);
  if (response.status === 202) {
    fill(out, notice('info', 'No result yet: the task has not ended.'));
    return;
  }
  const type = response.headers.get('content-type') || '';
  if (!response.headers.get('X-Canopy-Task-Id')) {
    fill(out, errorNotice(new ApiError(response.status, await response.json().catch(() => null)), 'No response'));
    return;
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = /^text\/|json|xml/i.test(type) || !type
    ? new TextDecoder().decode(bytes.slice(0, SHOWN_BYTES))
    : `(${bytes.length} bytes of ${type})`;
  fill(out,
    facts([['HTTP status', String(response.status)], ['Content type', type || '—'], ['Size', `${bytes.length} bytes`]]),
    h('pre', { class: 'output', 'aria-label': 'Result body', text }));
}

export async function render(root, route) {
  const id = route.params.id;
  const body = h('div');
  const out = h('div', { 'aria-live': 'polite' });
  const result = h('div', { 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', class: 'danger', text: 'Cancel task' });
  const show = h('button', { type: 'button', class: 'secondary', text: 'Show result' });
  const retry = h('button', { type: 'button', class: 'secondary', text: 'Retry', hidden: true });
  retry.addEventListener('click', () => busy(retry, async () => {
    const made = await api(`/v1/task/${id}/retry`, { method: 'POST' });
    toast('Retried as a new task');
    location.hash = `#/tasks/${made.id}`;
  }, out));
  show.addEventListener('click', () => busy(show, () => loadResult(id, result), result));
  cancel.addEventListener('click', () => busy(cancel, async () => {
    await api(`/v1/task/${id}/cancel`, { method: 'POST' });
    toast('Task cancelled');
    await refresh();
  }, out));
  fill(root,
    h('p', {}, h('a', { href: '#/tasks', text: '← Tasks' })),
    h('h1', {}, 'Task ', h('code', { text: id })),
    out, body,
    h('div', { class: 'actions' }, cancel, retry, show),
    h('section', { 'aria-label': 'Result' }, result));

  let timer = null;
  let ended = false;
  async function refresh() {
    const [task, attempts] = await Promise.all([api(`/v1/task/${id}`), api(`/v1/task/${id}/attempts`)]);
    fill(body, details(task), attemptsTable(attempts));
    ended = FINAL.includes(task.status);
    cancel.hidden = ended;
    retry.hidden = !ended;
    if (ended) clearInterval(timer);
  }
  await refresh();
  if (!ended) timer = setInterval(() => refresh().catch((error) => fill(out, errorNotice(error))), POLL_MS);
  return () => clearInterval(timer);
}
