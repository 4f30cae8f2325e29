// Quotas: the account's limits with today's use and the daily ledger (Account page), and the
// admin's editor of one account's quota (Admin page).

import { api } from '../api.js';
import { badge, busy, errorNotice, facts, field, fill, h, markInvalid, table, toast } from '../dom.js';

/** `used` against `limit` (null = none); `show` formats both. */
function limitText(used, limit, show = String) {
  if (limit === null || limit === undefined) return `${show(used)} (no limit)`;
  const kind = used >= limit ? 'bad' : used >= limit * 0.8 ? 'warn' : 'ok';
  return h('span', {}, `${show(used)} of ${show(limit)} `, badge(used >= limit ? 'reached' : 'ok', kind));
}

const MB = 1024 * 1024;

function bytes(value) {
  if (value < 1024) return `${value} B`;
  if (value < MB) return `${Math.round(value / 102.4) / 10} KB`;
  return `${Math.round((value / MB) * 10) / 10} MB`;
}

/** The caller's quota and the last 14 days of its ledger. */
export async function quotaPanel() {
  const [quota, ledger] = await Promise.all([api('/v1/user/quota'), api('/v1/user/usage?days=14')]);
  return h('section', { class: 'panel', 'aria-labelledby': 'quota-title' },
    h('h2', { id: 'quota-title', text: 'Quota and usage' }),
    facts([
      ['Tasks today (UTC)', limitText(quota.usage.tasksToday, quota.tasksPerDay)],
      ['Queued or running', limitText(quota.usage.liveTasks, quota.concurrentTasks)],
      ['Code stored', limitText(quota.usage.storageBytes, quota.storageMb === null ? null : quota.storageMb * MB, bytes)],
      ['Set by', quota.source === 'account' ? 'an admin, for this account' : 'the platform defaults'],
    ]),
    table([
      { label: 'Day (UTC)', cell: (d) => d.day },
      { label: 'Tasks', num: true, cell: (d) => String(d.tasks) },
    ], ledger.days, { caption: 'Tasks submitted per day', empty: 'No tasks in the last 14 days.' }));
}

function limitInput(name, value) {
  return h('input', { name, type: 'number', min: '0', step: '1', inputmode: 'numeric', value: value ?? '' });
}

/** An editor of `account`'s quota; an empty box means no limit. `done` runs after a change. */
export async function quotaEditor(account, done) {
  const quota = await api(`/v1/admin/account/${account.id}/quota`);
  const out = h('div', { 'aria-live': 'polite' });
  const inputs = {
    tasksPerDay: limitInput('tasksPerDay', quota.tasksPerDay),
    concurrentTasks: limitInput('concurrentTasks', quota.concurrentTasks),
    storageMb: limitInput('storageMb', quota.storageMb),
  };
  const save = h('button', { type: 'submit', text: 'Save quota' });
  const defaults = h('button', { type: 'button', class: 'secondary', text: 'Use the defaults', disabled: quota.source !== 'account' });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'quota-editor-title' },
    h('h2', { id: 'quota-editor-title', text: `Quota of ${account.email}` }),
    h('p', { class: 'muted', text: `Now: ${quota.source === 'account' ? 'its own quota' : 'the platform defaults'}. Leave a box empty for no limit.` }),
    field('Tasks per day', inputs.tasksPerDay, `${quota.usage.tasksToday} today (UTC)`),
    field('Queued or running at once', inputs.concurrentTasks, `${quota.usage.liveTasks} now`),
    field('Code stored (MB)', inputs.storageMb, `${bytes(quota.usage.storageBytes)} now`),
    h('div', { class: 'actions' }, save, defaults), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, async () => {
      const body = {};
      for (const [name, input] of Object.entries(inputs)) {
        body[name] = input.value.trim() === '' ? null : Number(input.value);
      }
      try {
        await api(`/v1/admin/account/${account.id}/quota`, { method: 'PUT', json: body });
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not saved'));
        return;
      }
      toast(`Quota of ${account.email} saved`);
      await done();
    }, out);
  });
  defaults.addEventListener('click', () => busy(defaults, async () => {
    await api(`/v1/admin/account/${account.id}/quota`, { method: 'DELETE' });
    toast(`${account.email} now has the default quota`);
    await done();
  }, out));
  return h('section', { class: 'panel' }, form);
}
