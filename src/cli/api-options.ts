/** Where the CLI finds the service and, for the operator's commands, the admin token. */
import { readFile } from 'node:fs/promises';
import { ApiClient } from '../client/client.ts';
import { CliError, errorMessage } from './output.ts';

export const DEFAULT_API = 'http://127.0.0.1:8080';

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

/** A client of the service at --api holding the admin token. */
export async function adminClient(opts: ApiOptions): Promise<ApiClient> {
  return new ApiClient(apiBase(opts), { token: await adminToken(opts) });
}
