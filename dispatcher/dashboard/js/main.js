// The shell: restores the session, shows sign-in or the page the URL's hash names, keeps the
// navigation in step, and stops a page's polling when you leave it.

import { api } from './api.js';
import { errorNotice, fill, h } from './dom.js';
import { currentAccount, isAdmin, onSessionChange, restore, setAccount, signOut } from './session.js';
import * as signin from './pages/signin.js';
import * as overview from './pages/overview.js';
import * as nodes from './pages/nodes.js';
import * as functions from './pages/functions.js';
import * as fn from './pages/function.js';
import * as tasks from './pages/tasks.js';
import * as task from './pages/task.js';
import * as tags from './pages/tags.js';
import * as keys from './pages/keys.js';
import * as account from './pages/account.js';
import * as admin from './pages/admin.js';

const ROUTES = [
  ['overview', overview, 'Overview'],
  ['nodes', nodes, 'Nodes'],
  ['functions/:id', fn, 'Function'],
  ['functions', functions, 'Functions'],
  ['tasks/:id', task, 'Task'],
  ['tasks', tasks, 'Tasks'],
  ['tags', tags, 'Tags'],
  ['keys', keys, 'API keys'],
  ['account', account, 'Account'],
  ['admin', admin, 'Admin'],
];

const main = document.getElementById('main');
let cleanup = null;

/** Splits `#/tasks/abc?status=queued` into a route, params and query. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, page, title] of ROUTES) {
    const want = pattern.split('/');
    if (want.length !== parts.length) continue;
    const params = {};
    const matches = want.every((segment, i) => {
      if (segment.startsWith(':')) {
        params[segment.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return segment === parts[i];
    });
    if (matches) return { page, title, params, query: new URLSearchParams(search), top: want[0] };
  }
  return null;
}

function markNav(top) {
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${top}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function showShell(signedIn) {
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('who').hidden = !signedIn;
  document.getElementById('nav-admin').hidden = !(signedIn && isAdmin());
  document.getElementById('who-email').textContent = signedIn ? currentAccount()?.email ?? '' : '';
}

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  // Confirmations belong to the page they were about.
  document.getElementById('toast').replaceChildren();
  if (!currentAccount()) {
    showShell(false);
    document.title = 'Sign in · Canopy';
    cleanup = signin.render(main, { onSignedIn: start });
    return;
  }
  const route = parseHash();
  if (!route) {
    location.replace('#/overview');
    return;
  }
  showShell(true);
  markNav(route.top);
  document.title = `${route.title} · Canopy`;
  fill(main);
  try {
    cleanup = (await route.page.render(main, route)) || null;
  } catch (error) {
    // A session that ended meanwhile has already put the sign-in page up.
    if (!currentAccount()) return;
    fill(main, h('h1', { text: route.title }), errorNotice(error));
  }
  // Move focus to the new content so keyboard and screen-reader users land on it.
  if (document.activeElement === document.body || document.activeElement?.closest('nav')) main.focus();
}

/** Loads the account after sign-in or restore, then shows the page. */
async function start() {
  try {
    setAccount(await api('/v1/user'));
  } catch (error) {
    setAccount(null);
    fill(main, errorNotice(error, 'Could not load your account'));
    return;
  }
  if (!location.hash || location.hash === '#/' || location.hash === '#') location.replace('#/overview');
  await render();
}

onSessionChange((signedIn) => {
  if (!signedIn) {
    setAccount(null);
    render();
  }
});

window.addEventListener('hashchange', render);
document.getElementById('signout').addEventListener('click', async () => {
  await signOut();
  render();
});

(async () => {
  if (await restore()) await start();
  else await render();
})();
