// Account: who you are, quota and usage, two-factor authentication on/off, password change.

import { api } from '../api.js';
import { badge, busy, errorNotice, facts, field, fill, h, markInvalid, notice } from '../dom.js';
import { when } from '../format.js';
import { setAccount, signOut } from '../session.js';
import { quotaPanel } from './quota.js';

function twofaPanel(user, rerender) {
  const out = h('div', { 'aria-live': 'polite' });
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', required: true });
  const section = h('section', { class: 'panel', 'aria-labelledby': 'twofa-title' },
    h('h2', { id: 'twofa-title', text: 'Two-factor authentication' }),
    h('p', {}, 'Status: ', user.twofa ? badge('on', 'ok') : badge('off', 'warn')));
  if (user.twofa) {
    const off = h('button', { type: 'submit', class: 'danger', text: 'Turn 2FA off' });
    const form = h('form', { class: 'stack' }, field('Current code', code, 'From your authenticator app.'), h('div', {}, off), out);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(off, async () => {
        await api('/v1/auth/2FA', { method: 'DELETE', json: { code: code.value.trim() } });
        await rerender();
      }, out);
    });
    section.append(form);
    return section;
  }
  const start = h('button', { type: 'button', text: 'Set up 2FA' });
  start.addEventListener('click', () => busy(start, async () => {
    const setup = await api('/v1/auth/2FA', { method: 'POST' });
    const confirm = h('button', { type: 'submit', text: 'Confirm and turn on' });
    const form = h('form', { class: 'stack' },
      notice('info', 'Add this key to your authenticator app (or open the link on your phone), then enter the code it shows.'),
      facts([['Key', h('code', { class: 'secret', text: setup.seed })], ['Link', h('a', { href: setup.otpauthUrl, text: 'otpauth link' })]]),
      field('Code', code), h('div', {}, confirm), out);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(confirm, async () => {
        await api('/v1/auth/verify2FA', { method: 'POST', json: { code: code.value.trim() } });
        await rerender();
      }, out);
    });
    start.replaceWith(form);
    code.focus();
  }, out));
  section.append(start, out);
  return section;
}

function passwordPanel(user) {
  const out = h('div', { 'aria-live': 'polite' });
  const current = h('input', { name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true });
  const code = h('input', { name: 'twofa', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6' });
  const button = h('button', { type: 'submit', text: 'Change password' });
  const form = h('form', { class: 'stack' },
    field('Current password', current), field('New password', next, 'At least 8 characters with letters, digits and a symbol.'),
    user.twofa ? field('2FA code', code) : null, h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = { currentPassword: current.value, password: next.value };
      if (user.twofa) body.twofa = code.value.trim();
      try {
        await api('/v1/user/password', { method: 'PUT', json: body });
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not changed'));
        return;
      }
      // Changing the password ends every login, this one included.
      window.alert('Password changed. Every session has been signed out; sign in with the new password.');
      await signOut();
    });
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'pw-title' }, h('h2', { id: 'pw-title', text: 'Password' }), form);
}

export async function render(root) {
  async function draw() {
    const user = await api('/v1/user');
    setAccount(user);
    fill(root, h('h1', { text: 'Account' }),
      h('section', { class: 'panel' }, facts([
        ['Name', `${user.name} ${user.surname}`],
        ['Email', user.email],
        ['Role', user.role],
        ['Account id', h('code', { text: user.id })],
        ['Member since', when(user.createdAt)],
        ['API keys', h('a', { href: '#/keys', text: `${user.apiKeys.length} active` })],
      ])),
      await quotaPanel(),
      h('div', { class: 'grid2' }, twofaPanel(user, draw), passwordPanel(user)));
  }
  await draw();
  return null;
}
