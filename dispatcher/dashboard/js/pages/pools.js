// Admin: pools of accounts whose nodes run each other's tasks (docs/security.md): create one
// with its members, change the members, delete it.

import { api } from '../api.js';
import { busy, errorNotice, field, fill, h, markInvalid, table, toast } from '../dom.js';
import { when } from '../format.js';

function memberSelect(accounts, chosen, label) {
  const select = h('select', { name: 'members', multiple: true, size: String(Math.min(6, Math.max(3, accounts.length))), 'aria-label': label },
    accounts.map((a) => h('option', { value: a.id, text: a.email, selected: chosen.has(a.id) })));
  return select;
}

function chosenIds(select) {
  return [...select.selectedOptions].map((option) => option.value);
}

function createForm(accounts, reload) {
  const out = h('div', { 'aria-live': 'polite' });
  const name = h('input', { name: 'name', required: true, maxlength: '64' });
  const description = h('input', { name: 'description', maxlength: '256' });
  const members = memberSelect(accounts, new Set(), null);
  const button = h('button', { type: 'submit', text: 'Create pool' });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'pool-create-title' },
    h('h3', { id: 'pool-create-title', text: 'New pool' }),
    field('Pool name', name, 'Letters and digits only.'),
    field('Pool description', description),
    field('Members', members, 'Ctrl/⌘-click to pick several accounts.'),
    h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = { name: name.value.trim(), members: chosenIds(members) };
      if (description.value.trim()) body.description = description.value.trim();
      try {
        await api('/v1/admin/pool', { method: 'POST', json: body });
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not created'));
        return;
      }
      toast(`Pool ${body.name} created`);
      await reload();
    });
  });
  return form;
}

function membersEditor(pool, accounts, reload, out) {
  const select = memberSelect(accounts, new Set(pool.members), `Members of ${pool.name}`);
  const save = h('button', { type: 'button', class: 'secondary', text: 'Save members', 'aria-label': `Save members of ${pool.name}` });
  save.addEventListener('click', () => busy(save, async () => {
    await api(`/v1/admin/pool/${pool.id}/members`, { method: 'PUT', json: { members: chosenIds(select) } });
    toast(`Members of ${pool.name} saved`);
    await reload();
  }, out));
  return h('div', { class: 'stack' }, select, save);
}

function deleteButton(pool, reload, out) {
  const button = h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete pool ${pool.name}` });
  button.addEventListener('click', () => {
    if (!window.confirm(`Delete pool ${pool.name}? Its members' nodes stop running each other's tasks.`)) return;
    busy(button, async () => {
      await api(`/v1/admin/pool/${pool.id}`, { method: 'DELETE' });
      toast(`Pool ${pool.name} deleted`);
      await reload();
    }, out);
  });
  return button;
}

/** The pools panel; `accounts` come from the admin's account list (id and email). */
export async function poolsPanel(accounts) {
  const out = h('div', { 'aria-live': 'polite' });
  const body = h('div');
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'pools-title' },
    h('h2', { id: 'pools-title', text: 'Pools' }),
    h('p', { class: 'muted', text: "The nodes of a pool's members run each other's tasks; otherwise a node runs only its owner's tasks (and volunteered nodes those of functions that allow volunteers)." }),
    out, body);
  async function reload() {
    const pools = await api('/v1/admin/pool/list');
    const email = new Map(accounts.map((a) => [a.id, a.email]));
    fill(body, table([
      { label: 'Pool', cell: (p) => h('div', {}, h('strong', { text: p.name }), h('br'), h('span', { class: 'muted', text: p.description })) },
      { label: 'Members', cell: (p) => (p.members.length ? p.members.map((id) => email.get(id) || id.slice(0, 8)).join(', ') : '—') },
      { label: 'Change members', cell: (p) => membersEditor(p, accounts, reload, out) },
      { label: 'Created', cell: (p) => when(p.createdAt) },
      { label: 'Actions', cell: (p) => deleteButton(p, reload, out) },
    ], pools.results, { empty: 'No pools yet.' }), createForm(accounts, reload));
  }
  await reload();
  return panel;
}
