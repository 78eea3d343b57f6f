/**
 * Which handler answers a request: the distribution API's routes and methods, who may call them, and the
 * 405 (with the `Allow` the registry really offers) for the rest.
 */
import { ApiError, nameInvalid, readOnly } from './api-error.ts';
import { authorize, issueToken, TOKEN_PATH, type Access } from './auth.ts';
import type { Exchange, ServeContext } from './context.ts';
import { deleteBlob, deleteManifest } from './delete.ts';
import { sendJson } from './http.ts';
import { isValidName } from './names.ts';
import { catalog, getBlob, getManifest, listReferrers, listTags } from './pull.ts';
import { cancelUpload, patchUpload, putManifest, putUpload, startUpload, uploadStatus } from './push.ts';

type Handler = (ctx: ServeContext, x: Exchange, name: string, ref: string) => Promise<void> | void;

/** A method of a route: its handler, and whether it changes the registry (offered only with --writable). */
interface Method {
  handler: Handler;
  writes: boolean;
}

interface RouteSpec {
  /** Names hold slashes, so each pattern anchors on its suffix. Group 1: the name; group 2: tag, digest or uuid. */
  pattern: RegExp;
  methods: Record<string, Method>;
}

/** A route with what it offers a writable and a read-only registry, worked out once. */
interface Route extends RouteSpec {
  all: [string, Method][];
  reads: [string, Method][];
}

const read = (handler: Handler): Method => ({ handler, writes: false });
const write = (handler: Handler): Method => ({ handler, writes: true });

// Uploads come before blobs: `blobs/uploads/` would match the blob route too.
const SPECS: readonly RouteSpec[] = [
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    methods: {
      GET: read((ctx, x, name, ref) => getManifest(ctx, x, name, ref, false)),
      HEAD: read((ctx, x, name, ref) => getManifest(ctx, x, name, ref, true)),
      PUT: write(putManifest),
      DELETE: write(deleteManifest),
    },
  },
  { pattern: /^\/v2\/(.+)\/blobs\/uploads\/?()$/, methods: { POST: write((ctx, x, name) => startUpload(ctx, x, name)) } },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    methods: { GET: write(uploadStatus), PATCH: write(patchUpload), PUT: write(putUpload), DELETE: write(cancelUpload) },
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    methods: {
      GET: read((ctx, x, name, digest) => getBlob(ctx, x, name, digest, false)),
      HEAD: read((ctx, x, name, digest) => getBlob(ctx, x, name, digest, true)),
      DELETE: write(deleteBlob),
    },
  },
  { pattern: /^\/v2\/(.+)\/tags\/list()$/, methods: { GET: read((ctx, x, name) => listTags(ctx, x, name)) } },
  { pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, methods: { GET: read(listReferrers) } },
];

const ROUTES: readonly Route[] = SPECS.map((spec) => {
  const all = Object.entries(spec.methods);
  return { ...spec, all, reads: all.filter(([, m]) => !m.writes) };
});

const NOT_A_ROUTE = (path: string): ApiError => new ApiError(404, 'UNSUPPORTED', { path }, { message: `${path} is not an endpoint of the distribution API` });

/** What a request needs to be let through: the `/v2/` check, reading, or changing the registry. */
function accessOf(method: Method | undefined): Access {
  return method?.writes === true ? 'push' : 'pull';
}

export async function route(ctx: ServeContext, x: Exchange): Promise<void> {
  const path = x.url.pathname;
  const verb = x.req.method ?? 'GET';
  if (path === TOKEN_PATH) {
    await issueToken(ctx, x);
    return;
  }
  if (path === '/v2' || path === '/v2/') {
    await authorize(ctx, x, 'login');
    if (verb !== 'GET' && verb !== 'HEAD') throw new ApiError(405, 'UNSUPPORTED', {}, { headers: { Allow: 'GET, HEAD' } });
    sendJson(x.res, 200, {});
    return;
  }
  if (path === '/v2/_catalog') {
    await authorize(ctx, x, 'pull');
    if (verb !== 'GET') throw new ApiError(405, 'UNSUPPORTED', {}, { headers: { Allow: 'GET' } });
    catalog(ctx, x);
    return;
  }
  for (const r of ROUTES) {
    const match = r.pattern.exec(path);
    if (match === null) continue;
    const name = match[1] ?? '';
    const ref = match[2] ?? '';
    const offered = ctx.writable ? r.all : r.reads;
    const method = offered.find(([v]) => v === verb)?.[1];
    if (!isValidName(name)) throw nameInvalid(name);
    await authorize(ctx, x, accessOf(method), name);
    const allow = offered.map(([v]) => v).join(', ');
    if (method === undefined) {
      if (!ctx.writable && r.methods[verb]?.writes === true) throw readOnly(allow);
      throw new ApiError(405, 'UNSUPPORTED', {}, { message: `${verb} is not supported here`, headers: { Allow: allow } });
    }
    await method.handler(ctx, x, name, ref);
    return;
  }
  await authorize(ctx, x, 'pull');
  throw NOT_A_ROUTE(path);
}
