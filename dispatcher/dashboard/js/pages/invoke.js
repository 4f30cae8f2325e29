// The invoke form: runs a task of a function with a query string and a body, waits for the
// function's response (`Prefer: wait`) and shows it as text — never as HTML.

import { ApiError, request } from '../api.js';
import { errorNotice, facts, field, fill, h, notice } from '../dom.js';
import { ms } from '../format.js';

const SHOWN_BYTES = 64 * 1024;

function isText(type) {
  return !type || /^text\/|json|xml|javascript|x-www-form-urlencoded/i.test(type);
}

async function showResponse(out, response, started) {
  const taskId = response.headers.get('X-Canopy-Task-Id');
  const elapsed = performance.now() - started;
  if (taskId) {
    const type = response.headers.get('content-type') || '';
    const bytes = new Uint8Array(await response.arrayBuffer());
    let body = isText(type) ? new TextDecoder().decode(bytes.slice(0, SHOWN_BYTES)) : `(${bytes.length} bytes of ${type})`;
    if (/json/i.test(type)) {
      try {
        body = JSON.stringify(JSON.parse(body), null, 2);
      } catch {
        // Not valid JSON after all: show it as sent.
      }
    }
    fill(out,
      notice(response.status < 400 ? 'ok' : 'warn', `The function answered HTTP ${response.status}.`),
      facts([
        ['Task', h('a', { href: `#/tasks/${taskId}`, text: taskId })],
        ['Status', String(response.status)],
        ['Content type', type || '—'],
        ['Round trip', ms(elapsed)],
        response.headers.get('X-Canopy-Error') ? ['Error', response.headers.get('X-Canopy-Error')] : null,
      ]),
      h('pre', { class: 'output', 'aria-label': 'Response body', text: body }),
      bytes.length > SHOWN_BYTES ? h('p', { class: 'muted', text: `Showing the first ${SHOWN_BYTES} of ${bytes.length} bytes.` }) : null);
    return;
  }
  const data = await response.json().catch(() => null);
  if (response.status === 202 && data?.id) {
    fill(out, notice('info', `Still ${data.status} after the wait; it keeps going. `,
      h('a', { href: `#/tasks/${data.id}`, text: 'Follow the task' })));
    return;
  }
  fill(out, errorNotice(new ApiError(response.status, data), 'Not run'));
}

export function invokePanel(fn) {
  const out = h('div', { 'aria-live': 'polite' });
  const queryInput = h('input', { name: 'query', placeholder: 'name=Ada', autocomplete: 'off' });
  const body = h('textarea', { name: 'body', placeholder: '{"hello": "world"}', rows: '4' });
  const type = h('select', { name: 'contentType' },
    ['application/json', 'text/plain', 'application/octet-stream'].map((t) => h('option', { value: t, text: t })));
  const wait = h('input', { name: 'wait', type: 'number', min: '1', max: '60', value: '30' });
  const button = h('button', { type: 'submit', text: 'Invoke' });
  const form = h('form', { class: 'stack' },
    field('Query string', queryInput, 'Without the leading ?'),
    field('Body', body, 'Optional; sent as the request body.'),
    field('Content type', type),
    field('Wait for the response (s)', wait, '1–60; longer tasks keep running and can be followed.'),
    h('div', {}, button), out);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    fill(out, h('p', { class: 'muted', text: 'Running…' }));
    const q = queryInput.value.trim().replace(/^\?/, '');
    const headers = { prefer: `wait=${Math.min(60, Math.max(1, Number(wait.value) || 30))}` };
    const options = { method: 'POST', headers };
    if (body.value) {
      headers['content-type'] = type.value;
      options.body = body.value;
    }
    const started = performance.now();
    try {
      await showResponse(out, await request(`/v1/task/${fn.id}${q ? `?${q}` : ''}`, options), started);
    } catch (error) {
      fill(out, errorNotice(error, 'Not run'));
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'invoke-title' },
    h('h2', { id: 'invoke-title', text: 'Invoke' }), form);
}
