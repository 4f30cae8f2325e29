// Building the page from data without ever parsing it as HTML: every text goes in as a text
// node, so a function name or a task's output can never become markup or script.

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` handlers, boolean and value
 * properties (`hidden`, `disabled`, `checked`, `value`, `selected`), anything else as an
 * attribute. `children`: nodes, strings, or arrays of them; null/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'polyline', 'line', 'text', 'title', 'g', 'rect'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (['hidden', 'disabled', 'checked', 'value', 'selected', 'required', 'multiple'].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
/** A unique id for label/control pairs. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled control with an optional hint (linked by aria-describedby, not part of the name). */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control, hintEl);
}

/** A checkbox with its label after it. */
export function checkbox(label, attrs = {}) {
  const box = h('input', { type: 'checkbox', ...attrs });
  return { box, el: h('label', { class: 'check' }, box, label) };
}

/** A notice box: kind is ok, warn, bad or info. */
export function notice(kind, ...children) {
  return h('div', { class: `notice ${kind}`, role: kind === 'bad' ? 'alert' : 'status' }, ...children);
}

/** An error (ApiError or any Error) as a readable notice with the API's code and field errors. */
export function errorNotice(error, context) {
  const errors = error.errors || [];
  return notice(
    'bad',
    h('strong', { text: context ? `${context}: ` : '' }),
    error.message || String(error),
    error.code ? h('span', { class: 'muted' }, ' (', h('code', { text: error.code }), ')') : null,
    errors.length ? h('ul', {}, errors.map((e) => h('li', {}, h('code', { text: e.field }), ' ', e.message))) : null,
  );
}

/** Marks the form controls named in an ApiError's field list as invalid. */
export function markInvalid(form, error) {
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  for (const { field: name } of error.errors || []) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (control) control.setAttribute('aria-invalid', 'true');
  }
}

/** A status badge: kind picks the colour. */
export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}`, text });
}

const STATUS_KIND = {
  succeeded: 'ok', running: 'info', assigned: 'info', queued: 'warn',
  failed: 'bad', timed_out: 'bad', cancelled: '',
  SUCCESS: 'ok', PENDING: 'warn', FAILED: 'bad',
  busy: 'info', idle: 'ok', stale: 'warn', offline: '', disabled: 'bad', 'paused by owner': 'warn',
};

export function statusBadge(status) {
  return badge(status, STATUS_KIND[status] ?? '');
}

/**
 * A table. `columns`: [{label, cell(row) → node|string, num?}]. Shows `empty` when there are
 * no rows.
 */
export function table(columns, rows, { caption, empty = 'Nothing here yet.' } = {}) {
  if (!rows.length) return h('div', { class: 'table-wrap' }, h('p', { class: 'empty', text: empty }));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      caption ? h('caption', { text: caption }) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null, text: c.label })))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(row)))))),
    ),
  );
}

/** Definition list of [term, value] pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [h('dt', { text: term }), h('dd', {}, value)]));
}

/** A short message in the corner, read out by screen readers. */
export function toast(message) {
  const box = document.getElementById('toast');
  const item = h('div', { text: message });
  box.append(item);
  setTimeout(() => item.remove(), 4000);
}

/** Runs `action` with the button disabled, showing failures in `target` (or as a toast). */
export async function busy(button, action, target) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    if (target) fill(target, errorNotice(error));
    else toast(`${error.message}${error.code ? ` (${error.code})` : ''}`);
  } finally {
    button.disabled = false;
  }
}
