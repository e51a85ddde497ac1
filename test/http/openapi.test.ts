/**
 * The API describes itself: /openapi.json lists every /v1 route the app serves, each with its
 * request schemas (body, params, query) and response schemas; /docs serves Swagger UI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';

type Operation = {
  requestBody?: { content: Record<string, { schema: unknown }> };
  parameters?: Array<{ in: string; name: string; schema: unknown }>;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  security?: unknown;
};
type Spec = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
};

/** The routes the app actually serves, from Fastify's own route tree: "METHOD /path" with :params. */
function servedRoutes(h: Harness): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of h.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/u.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('');
    for (const method of match[3]!.split(',').map((m) => m.trim())) {
      if (method !== 'HEAD') out.push(`${method} ${path}`);
    }
  }
  return out;
}

describe('OpenAPI and Swagger UI (sqlite)', () => {
  let h: Harness;
  let spec: Spec;
  beforeAll(async () => {
    h = await startHarness({ startBatcher: false });
    const res = await h.call('GET', '/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    spec = res.json();
  });
  afterAll(async () => h?.close());

  it('lists every /v1 route the app serves, and nothing it does not', async () => {
    expect(spec.openapi).toMatch(/^3\./);
    const served = servedRoutes(h).filter((r) => r.split(' ')[1]!.startsWith('/v1/'));
    // The route tree really was read: the core routes are among those found.
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /v1/merchants',
        'POST /v1/records',
        'POST /v1/records/:id/events',
        'GET /v1/verify/:id',
        'POST /v1/verify',
        'GET /v1/batches/:id/leaves',
        'POST /v1/admin/batches/seal',
      ]),
    );
    const documented = Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      );
    expect(documented.sort()).toEqual([...new Set(served)].sort());
    expect(served.length).toBeGreaterThanOrEqual(17);
  });

  it('gives each route its request and response schemas', async () => {
    const resolve = (schema: unknown): { required?: string[] } => {
      const ref = (schema as { $ref?: string }).$ref;
      if (!ref) return schema as { required?: string[] };
      const name = ref.replace('#/components/schemas/', '');
      return (spec.components.schemas as Record<string, { required?: string[] }>)[name]!;
    };
    for (const [path, ops] of Object.entries(spec.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        // Path parameters are declared with a schema.
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
          expect(param?.schema, `${where} param ${name}`).toBeTruthy();
        }
        // A success response with a schema, and the error shape.
        const success = Object.keys(op.responses).filter((c) => /^2\d\d$/.test(c));
        expect(success.length, where).toBeGreaterThan(0);
        for (const code of success) {
          const content = op.responses[code]!.content;
          expect(content, `${where} ${code}`).toBeTruthy();
          expect(Object.values(content!)[0]!.schema, `${where} ${code}`).toBeTruthy();
        }
        // Whatever takes input documents how it is refused, in the one error shape.
        const errors = Object.keys(op.responses).filter((c) => /^[45]\d\d$/.test(c));
        if (op.parameters?.length || op.requestBody || op.security) {
          expect(errors, `${where} error responses`).toContain(op.security ? '401' : '400');
        }
        for (const code of errors) {
          // The verdict route answers an unknown code with a not_found verdict, not an error.
          if (path === '/v1/verify/{id}' && code === '404') continue;
          const schema = resolve(Object.values(op.responses[code]!.content!)[0]!.schema);
          expect(schema.required, `${where} ${code}`).toEqual(['statusCode', 'error', 'message', 'code']);
        }
      }
    }
    // Writes document their bodies; the strict schemas say so too.
    const bodies: Array<[string, string, string[]]> = [
      ['/v1/merchants', 'post', ['name']],
      ['/v1/merchants/{id}/verify', 'post', ['evidence']],
      ['/v1/merchants/{id}/strikes', 'post', ['reason']],
      ['/v1/records', 'post', ['records']],
      ['/v1/records/{id}/events', 'post', ['type']],
      ['/v1/verify/{id}/secret', 'post', ['secret']],
    ];
    for (const [path, method, required] of bodies) {
      const schema = spec.paths[path]![method]!.requestBody!.content['application/json']!.schema as {
        required: string[];
        additionalProperties: boolean;
      };
      expect(schema.required, path).toEqual(expect.arrayContaining(required));
      expect(schema.additionalProperties, path).toBe(false);
    }
    expect(spec.paths['/v1/verify']!.post!.requestBody).toBeTruthy();
    const batchesQuery = spec.paths['/v1/batches']!.get!.parameters!.filter((p) => p.in === 'query').map(
      (p) => p.name,
    );
    expect(batchesQuery.sort()).toEqual(['after', 'limit']);
    const records = spec.paths['/v1/records']!.post!;
    expect(Object.keys(records.responses)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '403', '409', '413']),
    );
    const item = (
      records.requestBody!.content['application/json']!.schema as {
        properties: { records: { maxItems: number } };
      }
    ).properties.records;
    expect(item.maxItems).toBe(1000);
  });

  it('marks operator and merchant routes as needing a bearer token', async () => {
    expect(JSON.stringify(spec.components)).toContain('bearerAuth');
    for (const [path, method] of [
      ['/v1/merchants', 'post'],
      ['/v1/merchants/{id}/keys', 'post'],
      ['/v1/records', 'post'],
      ['/v1/records/{id}/events', 'post'],
      ['/v1/admin/batches/seal', 'post'],
    ] as const) {
      expect(spec.paths[path]![method]!.security, path).toEqual([{ bearerAuth: [] }]);
    }
    expect(spec.paths['/v1/verify/{id}']!.get!.security).toBeUndefined();
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await h.call('GET', '/docs');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('Swagger UI');
    expect(res.body).toMatch(/swagger-ui/);
    const script = await h.call('GET', '/docs/static/swagger-initializer.js');
    expect(script.statusCode).toBe(200);
    const json = await h.call('GET', '/docs/json');
    expect(json.statusCode).toBe(200);
    expect(Object.keys(json.json().paths)).toEqual(Object.keys(spec.paths));
  });
});
