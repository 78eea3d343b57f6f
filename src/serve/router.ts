/** Which handler answers a request: the distribution API's routes, methods and name checks. */
import { ApiError, nameInvalid } from './api-error.ts';
import type { Exchange, ServeContext } from './context.ts';
import { sendJson } from './http.ts';
import { isValidName } from './names.ts';
import { catalog, getBlob, getManifest, listTags } from './pull.ts';
import { cancelUpload, patchUpload, putManifest, putUpload, startUpload, uploadStatus } from './push.ts';

type Handler = (name: string, ref: string) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  methods: (ctx: ServeContext, x: Exchange) => Record<string, Handler>;
}

// Names hold slashes, so each pattern anchors on its suffix; uploads come before blobs.
const ROUTES: readonly Route[] = [
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    methods: (ctx, x) => ({
      GET: (name, ref) => getManifest(ctx, x, name, ref, false),
      HEAD: (name, ref) => getManifest(ctx, x, name, ref, true),
      PUT: (name, ref) => putManifest(ctx, x, name, ref),
    }),
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/?()$/,
    methods: (ctx, x) => ({ POST: (name) => startUpload(ctx, x, name) }),
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    methods: (ctx, x) => ({
      GET: (name, uuid) => uploadStatus(ctx, x, name, uuid),
      PATCH: (name, uuid) => patchUpload(ctx, x, name, uuid),
      PUT: (name, uuid) => putUpload(ctx, x, name, uuid),
      DELETE: (name, uuid) => cancelUpload(ctx, x, name, uuid),
    }),
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    methods: (ctx, x) => ({
      GET: (name, digest) => getBlob(ctx, x, name, digest, false),
      HEAD: (name, digest) => getBlob(ctx, x, name, digest, true),
    }),
  },
  {
    pattern: /^\/v2\/(.+)\/tags\/list()$/,
    methods: (ctx, x) => ({ GET: (name) => listTags(ctx, x, name) }),
  },
];

const PUSH_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function route(ctx: ServeContext, x: Exchange): Promise<void> {
  const path = x.url.pathname;
  const method = x.req.method ?? 'GET';
  if (path === '/v2' || path === '/v2/') {
    if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'UNSUPPORTED', {}, { headers: { Allow: 'GET, HEAD' } });
    sendJson(x.res, 200, {});
    return;
  }
  if (path === '/v2/_catalog') {
    if (method !== 'GET') throw new ApiError(405, 'UNSUPPORTED', {}, { headers: { Allow: 'GET' } });
    catalog(ctx, x);
    return;
  }
  for (const r of ROUTES) {
    const match = r.pattern.exec(path);
    if (match === null) continue;
    const name = match[1] ?? '';
    const ref = match[2] ?? '';
    if (!isValidName(name)) throw nameInvalid(name);
    const handlers = r.methods(ctx, x);
    const handler = handlers[method];
    if (handler === undefined) {
      // Deleting is not offered; pushing is refused the same way as on a read-only registry.
      const message = PUSH_METHODS.has(method) && !ctx.writable ? 'this registry is read-only: start airgap serve with --writable to push' : `${method} is not supported here`;
      throw new ApiError(405, 'UNSUPPORTED', {}, { message, headers: { Allow: Object.keys(handlers).join(', ') } });
    }
    await handler(name, ref);
    return;
  }
  throw new ApiError(404, 'NOT_FOUND', { path });
}
