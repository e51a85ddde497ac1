/** An answer from the service as it came: status, headers and body, with ways to read the body. */
import type { TransportResponse } from './transport.ts';

export class ApiResponse {
  readonly status: number;
  readonly statusText: string;
  /** Header names in lower case. */
  readonly headers: Record<string, string>;
  readonly bytes: Uint8Array;

  constructor(res: TransportResponse) {
    this.status = res.status;
    this.statusText = res.statusText;
    this.headers = res.headers;
    this.bytes = res.body;
  }

  /** A 2xx status. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get contentType(): string {
    return this.headers['content-type'] ?? '';
  }

  /** The body decoded as UTF-8 (malformed bytes become U+FFFD). */
  text(): string {
    return new TextDecoder().decode(this.bytes);
  }

  /** The body parsed as JSON; throws a SyntaxError when it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}
