// Tasks: server-side filters (function, state, node, issue time) and cursor paging over
// /v1/task/search, newest first. The filters live in the URL, so a view can be bookmarked.

import { api, query } from '../api.js';
import { busy, field, fill, h, statusBadge, table, toast } from '../dom.js';
import { ms, short, when } from '../format.js';

const STATES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'];
const LIVE = ['queued', 'assigned', 'running'];

function localInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function filterForm(route, functions) {
  const q = route.query;
  const fnSelect = h('select', { name: 'functionId' },
    h('option', { value: '', text: 'Any function' }),
    functions.map((f) => h('option', { value: f.id, text: f.name, selected: f.id === q.get('functionId') })));
  const status = h('select', { name: 'status' },
    h('option', { value: '', text: 'Any state' }),
    h('option', { value: LIVE.join(','), text: 'not finished', selected: q.get('status') === LIVE.join(',') }),
    STATES.map((s) => h('option', { value: s, text: s, selected: s === q.get('status') })));
  const node = h('input', { name: 'node', value: q.get('node') || '', placeholder: 'node id', size: '34', autocomplete: 'off' });
  const from = h('input', { name: 'from', type: 'datetime-local', value: localInput(q.get('from')) });
  const to = h('input', { name: 'to', type: 'datetime-local', value: localInput(q.get('to')) });
  const form = h('form', { class: 'inline', role: 'search', 'aria-label': 'Filter tasks' },
    field('Function', fnSelect), field('State', status), field('Node', node),
    field('Issued from', from), field('Issued before', to),
    h('button', { type: 'submit', text: 'Apply' }),
    h('button', { type: 'button', class: 'secondary', text: 'Clear', onclick: () => { location.hash = '#/tasks'; } }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const iso = (input) => (input.value ? new Date(input.value).toISOString() : '');
    location.hash = `#/tasks${query({ functionId: fnSelect.value, status: status.value, node: node.value.trim(), from: iso(from), to: iso(to) })}`;
  });
  return form;
}

function cancelButton(task, reload, out) {
  if (!LIVE.includes(task.status)) return null;
  const button = h('button', { type: 'button', class: 'danger', text: 'Cancel', 'aria-label': `Cancel task ${short(task.id)}` });
  button.addEventListener('click', () => busy(button, async () => {
    await api(`/v1/task/${task.id}/cancel`, { method: 'POST' });
    toast(`Task ${short(task.id)} cancelled`);
    await reload();
  }, out));
  return button;
}

export async function render(root, route) {
  const functions = await api('/v1/function/list?limit=1000');
  const out = h('div', { 'aria-live': 'polite' });
  const listBox = h('div');
  fill(root, h('h1', { text: 'Tasks' }), filterForm(route, functions), out, listBox);
  const filters = Object.fromEntries(['functionId', 'status', 'node', 'from', 'to'].map((k) => [k, route.query.get(k)]));
  const pages = [null];

  async function load(cursor) {
    const page = await api(`/v1/task/search${query({ ...filters, cursor, limit: 25 })}`);
    const reload = () => load(cursor);
    const columns = [
      { label: 'Task', cell: (t) => h('a', { href: `#/tasks/${t.id}`, class: 'mono', text: short(t.id), 'aria-label': `Task ${t.id}` }) },
      { label: 'Function', cell: (t) => h('a', { href: `#/functions/${t.functionId}`, text: t.functionName }) },
      { label: 'State', cell: (t) => statusBadge(t.status) },
      { label: 'HTTP', num: true, cell: (t) => (t.httpStatus === null || t.httpStatus === undefined ? '—' : String(t.httpStatus)) },
      { label: 'Attempt', num: true, cell: (t) => String(t.attempt) },
      { label: 'Node', cell: (t) => (t.node ? h('code', { text: short(t.node) }) : '—') },
      { label: 'Issued', cell: (t) => when(t.issuedAt) },
      { label: 'Queue', num: true, cell: (t) => ms(t.queueMs) },
      { label: 'Run', num: true, cell: (t) => ms(t.execMs) },
      { label: '', cell: (t) => cancelButton(t, reload, out) },
    ];
    const pager = h('div', { class: 'pager' },
      pages.length > 1 ? h('button', { type: 'button', class: 'secondary', text: 'Newer', onclick: () => { pages.pop(); load(pages[pages.length - 1]); } }) : null,
      page.next ? h('button', { type: 'button', class: 'secondary', text: 'Older', onclick: () => { pages.push(page.next); load(page.next); } }) : null);
    fill(listBox, table(columns, page.results, {
      caption: 'Newest first',
      empty: Object.values(filters).some(Boolean) ? 'No task matches these filters.' : 'No tasks yet: invoke a function from its page.',
    }), pager);
  }
  await load(null);
  return null;
}
