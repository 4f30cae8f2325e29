// API keys: create (the key is shown once), rotate (a new key, the old one revoked), revoke.

import { api } from '../api.js';
import { busy, errorNotice, field, fill, h, markInvalid, notice, table, toast } from '../dom.js';
import { ago, when } from '../format.js';

function shownOnce(out, made, verb) {
  fill(out, notice('ok',
    h('p', {}, h('strong', { text: `Key “${made.name}” ${verb}.` }), ' Copy it now: it is shown only once and cannot be read again.'),
    h('code', { class: 'secret', 'aria-label': 'The new API key', text: made.key })));
}

export async function render(root) {
  const out = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const name = h('input', { name: 'name', maxlength: '64', placeholder: 'ci', autocomplete: 'off' });
  const create = h('button', { type: 'submit', text: 'Create key' });
  const form = h('form', { class: 'inline', 'aria-label': 'New API key' }, field('Name', name), create);

  async function reload() {
    const keys = await api('/v1/user/apiKey');
    fill(list, table([
      { label: 'Name', cell: (k) => h('strong', { text: k.name }) },
      { label: 'Starts with', cell: (k) => h('code', { text: `${k.prefix}…` }) },
      { label: 'Created', cell: (k) => when(k.createdAt) },
      { label: 'Last used', cell: (k) => (k.lastUsedAt ? ago(k.lastUsedAt) : 'never') },
      { label: 'Actions', cell: (k) => actions(k) },
    ], keys, { empty: 'No API keys. Scripts, the CLI and workers sign in with one.' }));
  }

  function actions(key) {
    const rotate = h('button', { type: 'button', class: 'secondary', text: 'Rotate', 'aria-label': `Rotate key ${key.name}` });
    const revoke = h('button', { type: 'button', class: 'danger', text: 'Revoke', 'aria-label': `Revoke key ${key.name}` });
    rotate.addEventListener('click', () => {
      if (!window.confirm(`Rotate key ${key.name}? The current key stops working at once.`)) return;
      busy(rotate, async () => {
        shownOnce(out, await api(`/v1/user/apiKey/${key.id}/rotate`, { method: 'POST' }), 'rotated');
        await reload();
      }, out);
    });
    revoke.addEventListener('click', () => {
      if (!window.confirm(`Revoke key ${key.name}? Anything using it is refused from now on.`)) return;
      busy(revoke, async () => {
        await api(`/v1/user/apiKey/${key.id}`, { method: 'DELETE' });
        toast(`Key ${key.name} revoked`);
        await reload();
      }, out);
    });
    return h('div', { class: 'actions' }, rotate, revoke);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(create, async () => {
      try {
        const body = name.value.trim() ? { name: name.value.trim() } : {};
        shownOnce(out, await api('/v1/user/apiKey', { method: 'POST', json: body }), 'created');
        markInvalid(form, {});
        form.reset();
        await reload();
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not created'));
      }
    });
  });
  fill(root, h('h1', { text: 'API keys' }),
    h('p', { class: 'muted', text: 'A key trades for an access token at POST /v1/auth/apiKey. Rotating or revoking one ends every token made from it at once.' }),
    form, out, list);
  await reload();
  return null;
}
