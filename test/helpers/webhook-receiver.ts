/**
 * A real webhook receiver on a loopback port, for tests over HTTP: it keeps every request it gets
 * (headers and body as received) and answers as the test says: 200, an error status, nothing at all
 * (hanging), or not at all (its port closed, so connections are refused).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { waitFor } from './wait.ts';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What it answered: a status, or 'hung' when it kept the request without answering. */
  answered: number | 'hung';
}

/** 'ok' answers 200; a number answers that status; 'hang' never answers; 'down' refuses connections. */
export type Mode = 'ok' | number | 'hang' | 'down';

export interface Receiver {
  /** http://127.0.0.1:<port>/hook */
  url: string;
  received: Received[];
  /**
   * Changes how later requests are answered; 'down' closes the port, anything else opens it again.
   * Requests left hanging are dropped (their connections reset) when the mode changes.
   */
  setMode(mode: Mode): Promise<void>;
  /** The requests whose body parses as JSON, parsed, with their webhook-id. */
  messages(): Array<{ id: string; type: string; data: Record<string, unknown>; received: Received }>;
  /** Waits until `done` holds for what has been received. */
  until(what: string, done: (r: Receiver) => boolean, timeoutMs?: number): Promise<void>;
  /** Verifies a request with the standardwebhooks package and `secret`; throws if it does not verify. */
  verify(request: Received, secret: string): unknown;
  close(): Promise<void>;
}

export async function startReceiver(initial: Mode = 'ok'): Promise<Receiver> {
  let mode: Mode = initial;
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (mode === 'hang') {
        received.push({ headers: req.headers, body, answered: 'hung' });
        hanging.add(res);
        return;
      }
      const status = mode === 'ok' || mode === 'down' ? 200 : mode;
      received.push({ headers: req.headers, body, answered: status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'not now');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      for (const res of hanging) res.destroy();
      hanging.clear();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  const port = await listen(0);
  if (initial === 'down') await shut();

  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    async setMode(next) {
      mode = next;
      for (const res of hanging) res.destroy();
      hanging.clear();
      if (next === 'down') await shut();
      else if (!server.listening) await listen(port);
    },
    messages() {
      return received.flatMap((r) => {
        try {
          const body = JSON.parse(r.body) as { type: string; data: Record<string, unknown> };
          return [{ id: String(r.headers['webhook-id']), type: body.type, data: body.data, received: r }];
        } catch {
          return [];
        }
      });
    },
    async until(what, done, timeoutMs = 30_000) {
      await waitFor(what, async () => done(receiver), timeoutMs, 20);
    },
    verify(request, secret) {
      return new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
    },
    close: shut,
  };
  return receiver;
}
