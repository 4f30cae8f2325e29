// Overview: live task and node figures from /v1/stats/overview, refreshed every 5 seconds, over
// a window chosen in the URL (`#/overview?minutes=5`).

import { api } from '../api.js';
import { lineChart } from '../chart.js';
import { errorNotice, field, fill, h } from '../dom.js';
import { mb, ms } from '../format.js';

const POLL_MS = 5000;

function card(label, value, hint) {
  return h('div', { class: 'card' }, h('div', { class: 'label', text: label }), h('div', { class: 'value', text: String(value) }),
    hint ? h('div', { class: 'hint', text: hint }) : null);
}

function rate(perMinute) {
  return perMinute >= 10 ? perMinute.toFixed(0) : perMinute.toFixed(2);
}

function draw(body, data) {
  const labels = data.minutes.map((m) => new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  const sum = (key) => data.minutes.reduce((total, m) => total + m[key], 0);
  const { nodes, capacity, live, queueWaitMs: wait } = data;
  fill(body,
    h('p', { class: 'muted' },
      data.scope === 'all' ? 'The whole platform' : 'Your tasks and nodes',
      `, last ${data.windowMinutes} minutes · updated ${new Date(data.generatedAt).toLocaleTimeString()}`),
    h('h2', { text: 'Tasks' }),
    h('div', { class: 'cards' },
      card('Queued now', live.queued),
      card('Running now', live.running + live.assigned, live.assigned ? `${live.assigned} assigned, starting` : null),
      card('Succeeded', sum('succeeded')),
      card('Failed', sum('failed'), 'failed or timed out'),
      card('Queue wait p50', ms(wait.p50), `${wait.samples} tasks`),
      card('Queue wait p95', ms(wait.p95)),
      card('Dispatched', sum('assigned'), `${rate(data.dispatchPerMinute)} per minute on average`)),
    h('div', { class: 'grid2' },
      lineChart('Tasks per minute', labels, [
        { name: 'issued', values: data.minutes.map((m) => m.issued) },
        { name: 'succeeded', values: data.minutes.map((m) => m.succeeded) },
        { name: 'failed', values: data.minutes.map((m) => m.failed) },
      ]),
      lineChart('Dispatched per minute', labels, [{ name: 'assigned to a node', values: data.minutes.map((m) => m.assigned) }])),
    h('h2', { text: 'Nodes' }),
    h('div', { class: 'cards' },
      card('Connected', nodes.connected, `of ${nodes.total} registered`),
      card('Busy', nodes.busy),
      card('Idle', nodes.idle),
      card('Stale', nodes.stale, 'no heartbeat for 3 intervals'),
      card('Offline', nodes.offline),
      card('Disabled', nodes.disabled)),
    h('h2', { text: 'Capacity offered' }),
    h('div', { class: 'cards' },
      card('CPUs', capacity.cpus),
      card('Memory', mb(capacity.memoryMb)),
      card('Task slots', capacity.slots, `${capacity.runningTasks} in use`)),
    h('p', { class: 'muted' }, 'Energy per task (CPU time from its container times the node\'s power model) is on each task and function page; each node\'s energy source and carbon intensity are on the Nodes page.'));
}

const WINDOWS = [5, 15, 30, 60, 180];

export async function render(root, route) {
  const body = h('div', { 'aria-live': 'off' });
  const error = h('div');
  const asked = Number(route.query.get('minutes'));
  const minutes = WINDOWS.includes(asked) ? asked : 30;
  const windowSelect = h('select', { name: 'minutes' },
    WINDOWS.map((m) => h('option', { value: String(m), text: `last ${m} minutes`, selected: m === minutes })));
  windowSelect.addEventListener('change', () => {
    location.hash = `#/overview?minutes=${windowSelect.value}`;
  });
  fill(root, h('h1', { text: 'Overview' }),
    h('form', { class: 'inline', 'aria-label': 'Time window' }, field('Window', windowSelect)),
    error, body);
  let stopped = false;
  async function tick() {
    try {
      const data = await api(`/v1/stats/overview?minutes=${minutes}`);
      if (stopped) return;
      fill(error);
      draw(body, data);
    } catch (failure) {
      if (!stopped) fill(error, errorNotice(failure, 'Could not load the figures (retrying)'));
    }
  }
  await tick();
  const timer = setInterval(tick, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
