// The one way pages talk to the server: the public /v1 API with the session's bearer token.
// Problems (application/problem+json) become ApiError with the API's stable code.

import { expire, refresh, token } from './session.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `request failed (${status})`);
    this.status = status;
    this.code = problem?.code || 'HTTP_' + status;
    this.errors = problem?.errors || [];
  }
}

async function send(path, options) {
  const headers = { ...(options.headers || {}) };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  return fetch(path, { method: options.method || 'GET', headers, body, signal: options.signal });
}

/** Sends a request; on an expired token refreshes once and retries. Returns the Response. */
export async function request(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401) {
    const problem = await response.clone().json().catch(() => null);
    if (problem?.code === 'TOKEN_EXPIRED' && (await refresh())) {
      response = await send(path, options);
    } else if (['TOKEN_REVOKED', 'TOKEN_EXPIRED', 'INVALID_TOKEN', 'NEEDS_LOGIN'].includes(problem?.code)) {
      expire();
    }
  }
  return response;
}

async function problemOf(response) {
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) return response.json().catch(() => null);
  return { detail: (await response.text()).slice(0, 300) };
}

/** JSON in, JSON out: the parsed body (null for 204), or throws ApiError. */
export async function api(path, options = {}) {
  const response = await request(path, options);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Like `api`, but also returns the response headers (for `X-Next-Cursor`). */
export async function apiWithHeaders(path, options = {}) {
  const response = await request(path, options);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return { data: await response.json(), headers: response.headers };
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
