// The signed-in session: tokens and the account.
//
// The access token lives in memory only. The refresh token is kept in sessionStorage so a reload
// of the tab keeps you signed in; it is scoped to this tab (not shared with other tabs, which
// would race on the rotating refresh token and trip reuse detection) and gone when the tab
// closes. localStorage would outlive the tab; a cookie would need CSRF defences the bearer-token
// API does not have. The strict CSP (no inline or foreign scripts) is what keeps it from XSS.

const REFRESH_KEY = 'canopy.refreshToken';

let accessToken = null;
let refreshTimer = null;
let refreshing = null;
let account = null;

const listeners = new Set();

/** Calls `fn(signedIn)` whenever the session starts or ends. */
export function onSessionChange(fn) {
  listeners.add(fn);
}

function announce(signedIn) {
  for (const fn of listeners) fn(signedIn);
}

export function token() {
  return accessToken;
}

export function currentAccount() {
  return account;
}

export function setAccount(value) {
  account = value;
}

export function isAdmin() {
  return account?.role === 'admin';
}

async function post(path, body, bearer) {
  const headers = { 'content-type': 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  return { response, data };
}

function adopt(pair) {
  accessToken = pair.accessToken;
  sessionStorage.setItem(REFRESH_KEY, pair.refreshToken);
  clearTimeout(refreshTimer);
  // Renew a minute before expiry so requests rarely meet an expired token.
  const inMs = Math.max(10, (pair.expiresIn ?? 3600) - 60) * 1000;
  refreshTimer = setTimeout(() => refresh().catch(() => {}), inMs);
}

/** Signs in; resolves to null on success or the API's problem document. */
export async function signIn(email, password, twofa) {
  const body = { email, password };
  if (twofa) body.twofa = twofa;
  const { response, data } = await post('/v1/auth/login', body);
  if (!response.ok) return data ?? { code: 'NETWORK', detail: `sign-in failed (${response.status})` };
  adopt(data);
  announce(true);
  return null;
}

/** Trades the stored refresh token for a new pair; false when the session is over. */
export function refresh() {
  // One refresh at a time: a second caller waits for the first (the token works only once).
  if (!refreshing) {
    refreshing = (async () => {
      const stored = sessionStorage.getItem(REFRESH_KEY);
      if (!stored) return false;
      const { response, data } = await post('/v1/auth/refresh', { refreshToken: stored });
      if (!response.ok) {
        forget();
        return false;
      }
      adopt(data);
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Restores the session of this tab after a reload. */
export async function restore() {
  if (!sessionStorage.getItem(REFRESH_KEY)) return false;
  try {
    return await refresh();
  } catch {
    return false;
  }
}

function forget() {
  const wasSignedIn = accessToken !== null;
  accessToken = null;
  account = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  if (wasSignedIn) announce(false);
}

/** Ends the login on the server (its tokens stop working at once), then here. */
export async function signOut() {
  const bearer = accessToken;
  try {
    if (bearer) await post('/v1/auth/logout', null, bearer);
  } finally {
    forget();
  }
}

/** The session ended elsewhere (token revoked, refresh refused). */
export function expire() {
  forget();
}
