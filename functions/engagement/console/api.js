// Every data call is an ordinary API call with the operator's key as a bearer token. The key is
// kept in sessionStorage: it lives as long as this tab, never reaches disk after the browser
// closes, and no other tab or site can read it.

const KEY = "engagement.apiKey";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  remember: (key) => sessionStorage.setItem(KEY, key),
  forget: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message || `the API answered ${status}`);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export class KeyRefused extends ApiError {}

// Relative URLs ("v1/overview") resolve against the page, so a stage prefix is kept:
// /console -> /v1/overview locally, /prod/console -> /prod/v1/overview in AWS.
export async function get(path, query = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) search.set(name, String(value));
  }
  const encoded = search.toString();
  const target = encoded ? `${path}?${encoded}` : path;
  const response = await fetch(target, {
    headers: { Authorization: `Bearer ${session.key() ?? ""}`, Accept: "application/json" },
    cache: "no-store",
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    session.forget();
    throw new KeyRefused(401, body?.error, "The API refused this key (401 unauthorized).");
  }
  if (!response.ok) throw new ApiError(response.status, body?.error, body?.message, body);
  return body;
}

export function segment(value) {
  return encodeURIComponent(value);
}
