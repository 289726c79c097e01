// Calls to the server: the page's session cookie plus the X-CSRFToken header for writes.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || '';

/**
 * fetch() with JSON in and out. Resolves to {ok, status, data} (data: parsed JSON, or text
 * when the response is not JSON); rejects only when the network fails.
 */
export async function request(method, url, body, {accept = 'application/json'} = {}) {
  const headers = {'Accept': accept, 'X-Requested-With': 'fetch'};
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  return {ok: response.ok, status: response.status, data};
}

/** The metadata API of one form: /api/v1/meta/forms/<key>; `lang` words plans and refusals. */
export function formApi(base, key, lang = 'en') {
  const url = `${base}/${encodeURIComponent(key)}`;
  return {
    load: () => request('GET', url),
    save: (doc, lockVersion) => request('PUT', url, {doc, lock_version: lockVersion}),
    versions: () => request('GET', `${url}/versions`),
    diff: (fromVersion) => request('GET', `${url}/diff?from=${fromVersion}`),
    publish: (backfill, note, confirm) => request(
      'POST', `${url}/publish?confirm=${confirm ? 1 : 0}&lang=${lang}`,
      {backfill: backfill || {}, ...(note ? {note} : {})}),
    restore: (version) => request('POST', `${url}/restore`, {version}),
  };
}

/** The message of an API error body {error: {code, message, fields}}. */
export function errorMessage(result) {
  const error = result.data && result.data.error;
  if (error && error.message) return error.message;
  return typeof result.data === 'string' && result.data ? `HTTP ${result.status}` : `HTTP ${result.status}`;
}
