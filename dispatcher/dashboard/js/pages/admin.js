// Admin: system health (database, replicas, sweeper), every account (enable/disable, privileged
// approval, quota), and the pools of accounts whose nodes run each other's tasks.
// The data comes from admin-only endpoints: a normal account gets the API's 403, shown as such.

import { api, query } from '../api.js';
import { badge, busy, errorNotice, facts, fill, h, notice, table, toast } from '../dom.js';
import { ms, when } from '../format.js';
import { currentAccount } from '../session.js';
import { poolsPanel } from './pools.js';
import { quotaEditor } from './quota.js';

const POLL_MS = 5000;

function healthPanel(health) {
  const q = health.queue;
  return h('section', { class: 'panel', 'aria-labelledby': 'health-title' },
    h('h2', { id: 'health-title' }, 'System health ', health.healthy ? badge('healthy', 'ok') : badge('attention', 'bad')),
    facts([
      ['Database', `answers in ${ms(health.database.latencyMs)} · pool ${health.database.poolSize} (${health.database.poolIdle} idle)`],
      ['Queue', `${q.queued} queued${q.oldestQueuedAgeS ? `, oldest ${Math.round(q.oldestQueuedAgeS)} s` : ''} · ${q.held} held by nodes`],
      ['Lease sweeper', q.overdueLeases ? badge(`${q.overdueLeases} leases overdue`, 'bad') : badge('keeping up', 'ok')],
      ['Workers on this replica', String(health.localConnections)],
    ]),
    table([
      { label: 'Replica', cell: (r) => h('code', { text: r.id }) },
      { label: 'State', cell: (r) => (r.live ? badge('live', 'ok') : badge('gone', 'bad')) },
      { label: 'Started', cell: (r) => when(r.startedAt) },
      { label: 'Last beat', num: true, cell: (r) => `${r.beatAgeS.toFixed(1)} s ago` },
    ], health.replicas, { caption: 'Dispatcher replicas', empty: 'No replica has beaten yet.' }));
}

function disableToggle(account, reload, out) {
  const label = account.disabled ? 'Enable' : 'Disable';
  const button = h('button', { type: 'button', class: account.disabled ? 'secondary' : 'danger', text: label, 'aria-label': `${label} ${account.email}` });
  button.addEventListener('click', () => {
    if (!account.disabled && !window.confirm(`Disable ${account.email}? Their sessions end at once and their API keys stop working until you enable the account again.`)) return;
    busy(button, async () => {
      await api(`/v1/admin/account/${account.id}/disabled`, { method: 'POST', json: { disabled: !account.disabled } });
      toast(`${account.email} ${account.disabled ? 'enabled' : 'disabled'}`);
      await reload();
    }, out);
  });
  return button;
}

function quotaButton(account, editor, reload, out) {
  const button = h('button', { type: 'button', class: 'secondary', text: 'Quota', 'aria-label': `Quota of ${account.email}` });
  button.addEventListener('click', () => busy(button, async () => {
    const close = async () => { fill(editor); await reload(); };
    fill(editor, await quotaEditor(account, close));
    editor.querySelector('input')?.focus();
  }, out));
  return button;
}

function privilegedToggle(account, reload, out) {
  const label = account.privilegedApproved ? 'Withdraw privileged' : 'Approve privileged';
  const button = h('button', { type: 'button', class: 'secondary', text: label, 'aria-label': `${label} for ${account.email}` });
  button.addEventListener('click', () => busy(button, async () => {
    await api(`/v1/admin/account/${account.id}/privileged`, { method: 'POST', json: { approved: !account.privilegedApproved } });
    toast(`${account.email}: privileged ${account.privilegedApproved ? 'withdrawn' : 'approved'}`);
    await reload();
  }, out));
  return button;
}

export async function render(root) {
  const out = h('div', { 'aria-live': 'polite' });
  const health = h('div');
  const accounts = h('div');
  const editor = h('div');
  const pools = h('div');
  fill(root, h('h1', { text: 'Admin' }), out, health, h('h2', { text: 'Accounts' }), accounts, editor, pools);

  try {
    fill(health, healthPanel(await api('/v1/admin/health')));
  } catch (error) {
    if (error.status === 403) {
      fill(root, h('h1', { text: 'Admin' }),
        notice('bad', h('strong', { text: 'Admins only. ' }), 'The API refused this account: ', error.message, ' (', h('code', { text: error.code }), ')'));
      return null;
    }
    throw error;
  }

  const pages = [null];
  async function load(cursor) {
    const page = await api(`/v1/admin/account/list${query({ cursor, limit: 50 })}`);
    const reload = () => load(cursor);
    fill(accounts, table([
      { label: 'Account', cell: (a) => h('div', {}, h('strong', { text: a.email }), h('br'), h('span', { class: 'muted', text: `${a.name} ${a.surname}` })) },
      { label: 'Role', cell: (a) => (a.role === 'admin' ? badge('admin', 'info') : 'user') },
      { label: 'State', cell: (a) => (a.disabled ? badge('disabled', 'bad') : a.activated ? badge('active', 'ok') : badge('not activated', 'warn')) },
      { label: '2FA', cell: (a) => (a.twofa ? 'on' : 'off') },
      { label: 'Functions', num: true, cell: (a) => String(a.functions) },
      { label: 'Nodes', num: true, cell: (a) => String(a.nodes) },
      { label: 'Since', cell: (a) => when(a.createdAt) },
      { label: 'Actions', cell: (a) => h('div', { class: 'actions' }, quotaButton(a, editor, reload, out), privilegedToggle(a, reload, out), a.id === currentAccount()?.id ? null : disableToggle(a, reload, out)) },
    ], page.results, { empty: 'No accounts.' }),
    h('div', { class: 'pager' },
      pages.length > 1 ? h('button', { type: 'button', class: 'secondary', text: 'Previous page', onclick: () => { pages.pop(); load(pages[pages.length - 1]); } }) : null,
      page.next ? h('button', { type: 'button', class: 'secondary', text: 'Next page', onclick: () => { pages.push(page.next); load(page.next); } }) : null));
  }
  await load(null);
  // Pools name members by email: the first page of accounts covers a small platform; others show ids.
  const everyone = await api(`/v1/admin/account/list${query({ limit: 200 })}`);
  fill(pools, await poolsPanel(everyone.results));

  const timer = setInterval(async () => {
    try {
      fill(health, healthPanel(await api('/v1/admin/health')));
    } catch (error) {
      fill(out, errorNotice(error, 'Could not refresh the health figures (retrying)'));
    }
  }, POLL_MS);
  return () => clearInterval(timer);
}
