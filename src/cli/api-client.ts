/** A small fetch wrapper for the proofmark service API: JSON in and out, API errors as one line. */
import { readFile } from 'node:fs/promises';
import { CliError, errorMessage } from './output.ts';

export const DEFAULT_API = 'http://127.0.0.1:8080';
const TIMEOUT_MS = 30_000;

export interface ApiOptions {
  api?: string;
  adminTokenFile?: string;
}

/** --api, else PROOFMARK_API, else the local default; without a trailing slash. */
export function apiBase(opts: ApiOptions, env: NodeJS.ProcessEnv = process.env): string {
  const raw = opts.api ?? (env.PROOFMARK_API?.trim() || DEFAULT_API);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--api must be an http(s) URL, not "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`--api must be an http(s) URL, not "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

/** The admin token from --admin-token-file, else ADMIN_TOKEN. Never printed. */
export async function adminToken(opts: ApiOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (opts.adminTokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(opts.adminTokenFile, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read --admin-token-file ${opts.adminTokenFile}: ${errorMessage(err)}`, 1, {
        cause: err,
      });
    }
    const token = text.trim();
    if (token === '') throw new CliError(`--admin-token-file ${opts.adminTokenFile} is empty`);
    return token;
  }
  const token = env.ADMIN_TOKEN?.trim();
  if (!token) throw new CliError('no admin token: set ADMIN_TOKEN or pass --admin-token-file PATH');
  return token;
}

/** The service's error body: `{statusCode, error, message, code}`. */
interface ApiErrorBody {
  statusCode?: number;
  error?: string;
  message?: string;
  code?: string;
}

export class ApiClient {
  constructor(
    readonly base: string,
    private readonly token?: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  post<T>(path: string, body?: unknown, token?: string): Promise<T> {
    return this.json<T>('POST', path, body, token);
  }

  /** The raw body of a GET, or null on 404. */
  async bytes(path: string): Promise<Uint8Array | null> {
    const res = await this.send('GET', path, undefined, undefined, 'application/octet-stream');
    if (res.status === 404) return null;
    if (!res.ok) throw await apiError('GET', path, res);
    return new Uint8Array(await res.arrayBuffer());
  }

  private async json<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const res = await this.send(method, path, body, token, 'application/json');
    if (!res.ok) throw await apiError(method, path, res);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${path} returned HTTP ${res.status} with a body that is not JSON`);
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    token: string | undefined,
    accept: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept };
    const bearer = token ?? this.token;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    // No content-type without a body: the service rejects an empty JSON body.
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new CliError(`cannot reach ${this.base} (${method} ${path}): ${errorMessage(err)}`, 1, {
        cause: err,
      });
    }
  }
}

async function apiError(method: string, path: string, res: Response): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let body: ApiErrorBody | undefined;
  try {
    body = JSON.parse(text) as ApiErrorBody;
  } catch {
    body = undefined;
  }
  if (body && typeof body.message === 'string') {
    return new CliError(`${body.message} (${body.code ?? `HTTP ${res.status}`})`);
  }
  return new CliError(`${method} ${path} failed: HTTP ${res.status} ${res.statusText}`.trim());
}

/** Fetches a public JSON document (a bundle, a record's proofs) from any http(s) URL. */
export async function fetchJson(url: string): Promise<unknown> {
  const base = new URL(url);
  const client = new ApiClient(base.origin);
  return client.get(`${base.pathname}${base.search}`);
}
