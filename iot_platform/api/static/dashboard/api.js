// The REST API as the dashboard calls it: the same endpoints and the same bearer token as any other client.

export const TOKEN_KEY = "iot-platform-api-token";
const PREFIX = "/api/v1";
const NEXT_CURSOR = "X-Next-Cursor";

export class ApiError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  return `${PREFIX}${path}${text ? `?${text}` : ""}`;
}

async function answer(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.detail) || response.statusText);
  }
  return body;
}

/** GET one answer. */
export async function get(path, params) {
  return answer(await fetch(url(path, params), { headers: { Accept: "application/json" } }));
}

/** GET every page of a paged read (following X-Next-Cursor), up to maxPages pages. */
export async function getAll(path, params = {}, maxPages = 20) {
  const rows = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const response = await fetch(url(path, { ...params, cursor }), { headers: { Accept: "application/json" } });
    rows.push(...(await answer(response)));
    cursor = response.headers.get(NEXT_CURSOR);
    if (!cursor) break;
  }
  return rows;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A call that changes something: sent with the session's token as a bearer token (none if not entered). */
export async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(url(path), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(response);
}
