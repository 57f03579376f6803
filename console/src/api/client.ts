/**
 * The console's one road to the server: same-origin fetch with the session cookie, the session's
 * CSRF token on every write, and Zendesk error bodies turned into an ApiError that knows which
 * field each validation message names.
 */

export type FieldErrors = Record<string, string[]>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldErrors = {},
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Set by the session provider once a session is known (and cleared on sign-out). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Listeners told when any request answers 401 (the session ended elsewhere). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

interface ErrorBody {
  error?: unknown;
  description?: unknown;
  details?: unknown;
}

function errorFromBody(status: number, body: ErrorBody | null): ApiError {
  const fields: FieldErrors = {};
  if (body && typeof body.details === 'object' && body.details !== null) {
    for (const [field, list] of Object.entries(body.details as Record<string, unknown>)) {
      if (!Array.isArray(list)) continue;
      fields[field] = list
        .map((item: unknown) => (item && typeof item === 'object' && 'description' in item ? String((item as { description: unknown }).description) : ''))
        .filter(Boolean);
    }
  }
  let message = `The server answered ${status}.`;
  let code: string | null = null;
  if (body) {
    if (typeof body.description === 'string') message = body.description;
    if (typeof body.error === 'string') {
      code = body.error;
      if (typeof body.description !== 'string') message = body.error;
    } else if (body.error && typeof body.error === 'object') {
      const nested = body.error as { title?: unknown; message?: unknown };
      if (typeof nested.message === 'string') message = nested.message;
      if (typeof nested.title === 'string') code = nested.title;
    }
  }
  return new ApiError(status, message, fields, code);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  /** A multipart upload (sent as is, without a JSON content type). */
  form?: FormData;
  signal?: AbortSignal;
  /** Do not tell the unauthorized listeners (the session probe and the sign-in form). */
  quietUnauthorized?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.form) body = options.form;
  else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: options.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !options.quietUnauthorized) for (const listener of unauthorizedListeners) listener();
    throw errorFromBody(res.status, parsed as ErrorBody | null);
  }
  return parsed as T;
}

/** A next_page/previous_page URL (absolute, possibly another host spelling) as a same-origin path. */
export function samePath(url: string): string {
  const parsed = new URL(url, window.location.origin);
  return parsed.pathname + parsed.search;
}

/** Uploads one file with progress (fetch has no upload progress; XMLHttpRequest does). */
export function uploadAttachment(file: File, onProgress: (fraction: number) => void): Promise<{ id: string; file_name: string; size: number }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v2/tickets/side_conversations/attachments');
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'The upload failed: the server cannot be reached.'));
    xhr.onload = () => {
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch {
        parsed = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && parsed && typeof parsed === 'object') {
        const bare = parsed as { id: string; name?: string; file_name?: string; size: number; upload?: unknown };
        resolve({ id: String(bare.id), file_name: bare.file_name ?? bare.name ?? file.name, size: bare.size });
      } else {
        reject(errorFromBody(xhr.status, parsed as ErrorBody | null));
      }
    };
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}
