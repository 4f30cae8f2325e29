// Sign in (email, password, and the 2FA code when the account has 2FA on), or create an account.

import { api } from '../api.js';
import { errorNotice, field, fill, h, markInvalid, notice } from '../dom.js';
import { signIn } from '../session.js';

export function render(root, { onSignedIn }) {
  const status = h('div', { 'aria-live': 'polite' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const code = h('input', { name: 'twofa', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6' });
  const codeField = field('Authenticator code', code, 'Your account has two-factor authentication on: enter the 6-digit code.');
  codeField.hidden = true;
  const submit = h('button', { type: 'submit', text: 'Sign in' });

  const form = h('form', { class: 'stack', 'aria-labelledby': 'signin-title' },
    field('Email', email), field('Password', password), codeField, h('div', {}, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(status);
    try {
      const problem = await signIn(email.value.trim(), password.value, codeField.hidden ? '' : code.value.trim());
      if (!problem) {
        onSignedIn();
        return;
      }
      if (problem.code === 'TWOFA_REQUIRED') {
        codeField.hidden = false;
        fill(status, notice('info', 'Enter the code from your authenticator app.'));
        code.focus();
      } else {
        fill(status, errorNotice({ message: problem.detail, code: problem.code, errors: problem.errors }));
      }
    } catch (error) {
      fill(status, errorNotice(error, 'Sign-in failed'));
    } finally {
      submit.disabled = false;
    }
  });

  fill(root,
    h('h1', { id: 'signin-title', text: 'Sign in to Canopy' }),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel' }, form, status),
      registerPanel(email)));
  email.focus();
  return null;
}

function registerPanel(signinEmail) {
  const out = h('div', { 'aria-live': 'polite' });
  const inputs = {
    name: h('input', { name: 'name', autocomplete: 'given-name', required: true }),
    surname: h('input', { name: 'surname', autocomplete: 'family-name', required: true }),
    email: h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true }),
    password: h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true }),
  };
  const button = h('button', { type: 'submit', class: 'secondary', text: 'Create account' });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'register-title' },
    field('First name', inputs.name), field('Surname', inputs.surname), field('Email', inputs.email),
    field('Password', inputs.password, 'At least 8 characters with letters, digits and a symbol.'),
    h('div', {}, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const body = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
      body.password = inputs.password.value;
      const created = await api('/v1/auth/register', { method: 'POST', json: body });
      markInvalid(form, {});
      signinEmail.value = body.email;
      fill(out, created.activated
        ? notice('ok', 'Account created. Sign in with it on the left.')
        : activationForm());
    } catch (error) {
      markInvalid(form, error);
      fill(out, errorNotice(error, 'Could not create the account'));
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'panel' }, h('h2', { id: 'register-title', text: 'New here?' }), form, out);
}

function activationForm() {
  const code = h('input', { name: 'code', required: true, autocomplete: 'off' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack' },
    notice('info', 'We emailed you an activation code. Enter it to activate the account.'),
    field('Activation code', code), h('div', {}, h('button', { type: 'submit', text: 'Activate' })), out);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('/v1/auth/activate', { method: 'POST', json: { code: code.value.trim() } });
      fill(out, notice('ok', 'Activated. You can sign in now.'));
    } catch (error) {
      fill(out, errorNotice(error));
    }
  });
  return form;
}
