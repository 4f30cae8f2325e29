// Nodes: what each machine offers, whether it is connected, how its recent tasks went; revoke,
// restore, volunteer. Admins see every node. Refreshed every 5 seconds.

import { api } from '../api.js';
import { badge, busy, checkbox, errorNotice, fill, h, notice, statusBadge, table, toast } from '../dom.js';
import { ago, mb, pct, short } from '../format.js';
import { isAdmin } from '../session.js';

const POLL_MS = 5000;

function state(node) {
  if (node.disabled) return 'disabled';
  if (!node.connected) return 'offline';
  if (node.state === 'paused by owner') return 'paused by owner';
  return node.runningTasks > 0 ? 'busy' : 'idle';
}

function resources(node) {
  const r = node.resources;
  if (!r) return h('span', { class: 'muted', text: 'not connected yet' });
  return h('div', {},
    `${r.cpus} CPU · ${mb(r.memoryMb)} · ${r.maxConcurrency} slots`, h('br'),
    h('span', { class: 'muted', text: `${r.arch}/${r.os} · runtimes ${(r.runtimes || []).join(', ').toLowerCase() || 'none'}` }),
    r.allowsPrivileged ? [' ', badge('privileged')] : null,
    r.allowsEgress ? [' ', badge('egress')] : null);
}

function energy(node) {
  const e = node.resources?.energy;
  const now = node.carbonIntensity ?? e?.carbonIntensity;
  if (!e && now == null) return h('span', { class: 'muted', text: 'not reported' });
  const rule = e?.renewableOnly ? ` (renewable only, ≤ ${e.renewableThreshold ?? 100})` : '';
  if (now != null) return `${now} gCO₂/kWh${rule}`;
  if (e.renewable) return badge('renewable', 'ok');
  return h('span', { class: 'muted', text: e.zone ? `zone ${e.zone}` : 'grid' });
}

function outcomes(node, recent) {
  const r = recent.get(node.hash);
  if (!r) return h('span', { class: 'muted', text: 'none' });
  return h('span', {}, `${r.succeeded} ok · ${r.failed} failed`, h('br'),
    badge(`${pct(r.failureRate)} failures`, r.failureRate > 0.2 ? 'bad' : r.failureRate > 0 ? 'warn' : 'ok'));
}

function actions(node, refresh, out) {
  const name = node.description || short(node.hash);
  if (node.disabled) {
    const restore = h('button', { type: 'button', class: 'secondary', text: 'Restore', 'aria-label': `Restore node ${name}` });
    restore.addEventListener('click', () => busy(restore, async () => {
      const made = await api(`/v1/node/${node.hash}`, { method: 'PATCH' });
      fill(out, notice('ok', `Node ${name} restored. Its new token, shown only now — put it in the worker's config: `,
        h('code', { class: 'secret', text: made.token })));
      await refresh();
    }, out));
    return restore;
  }
  const revoke = h('button', { type: 'button', class: 'danger', text: 'Revoke', 'aria-label': `Revoke node ${name}` });
  revoke.addEventListener('click', () => {
    if (!window.confirm(`Revoke node ${name}? Its token stops working and its worker is disconnected at once.`)) return;
    busy(revoke, async () => {
      await api(`/v1/node/${node.hash}`, { method: 'DELETE' });
      toast(`Node ${name} revoked`);
      await refresh();
    }, out);
  });
  const volunteer = checkbox('volunteer', { checked: node.volunteer, 'aria-label': `Offer node ${name} to other accounts` });
  volunteer.box.addEventListener('change', () => busy(volunteer.box, async () => {
    await api(`/v1/node/${node.hash}/volunteer`, { method: 'POST', json: { volunteer: volunteer.box.checked } });
    toast(volunteer.box.checked ? `Node ${name} offered to volunteers' functions` : `Node ${name} runs only your tasks`);
  }, out));
  return h('div', { class: 'actions' }, revoke, volunteer.el,
    h('a', { href: `#/tasks?node=${node.hash}`, text: 'tasks' }));
}

export async function render(root) {
  const out = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  fill(root, h('h1', { text: 'Nodes' }),
    h('p', { class: 'muted' }, isAdmin() ? 'Every node on the platform.' : 'The machines registered with your account.'),
    out, list);
  let stopped = false;

  async function refresh() {
    const [nodes, recentList] = await Promise.all([api('/v1/node/list'), api('/v1/stats/nodes?minutes=60')]);
    if (stopped) return;
    const recent = new Map(recentList.map((r) => [r.hash, r]));
    const columns = [
      { label: 'Node', cell: (n) => h('div', {}, h('strong', { text: n.description || '(no description)' }), h('br'), h('code', { class: 'muted', text: n.hash })) },
      { label: 'State', cell: (n) => h('div', {}, statusBadge(state(n)),
        n.pausedReason ? [h('br'), h('span', { class: 'muted', text: n.pausedReason })] : null) },
      { label: 'Offers', cell: resources },
      { label: 'Latency', num: true, cell: (n) => (n.latencyMs === null || n.latencyMs === undefined ? '—' : `${n.latencyMs} ms`) },
      { label: 'Heartbeat', cell: (n) => ago(n.lastSeen) },
      { label: 'Running', num: true, cell: (n) => String(n.runningTasks) },
      { label: 'Free slots', num: true, cell: (n) => (n.freeSlots == null ? '—' : String(n.freeSlots)) },
      { label: 'Trust', num: true, cell: (n) => `${n.trustScore} (${n.votesAgreed}✓ ${n.votesDisagreed}✗)` },
      { label: 'Last hour', cell: (n) => outcomes(n, recent) },
      { label: 'Energy', cell: energy },
      isAdmin() ? { label: 'Owner', cell: (n) => h('code', { text: short(n.owner) }) } : null,
      { label: 'Actions', cell: (n) => actions(n, refresh, out) },
    ].filter(Boolean);
    fill(list, table(columns, nodes, {
      caption: `${nodes.filter((n) => n.connected).length} of ${nodes.length} connected`,
      empty: 'No nodes yet. On a machine with Docker, run: CANOPY_API_KEY=<an API key> canopy-worker register --dispatcher ' + location.origin + ' then canopy-worker run.',
    }));
  }

  async function tick() {
    // Keep the table while someone is using a control in it; the next tick catches up.
    if (list.contains(document.activeElement) && document.activeElement.tagName !== 'A') return;
    try {
      await refresh();
    } catch (error) {
      if (!stopped) fill(out, errorNotice(error, 'Could not load the nodes (retrying)'));
    }
  }
  await refresh();
  const timer = setInterval(tick, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
