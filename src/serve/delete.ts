/**
 * Content management (with --writable): DELETE of a manifest by digest (it goes, with every tag on it and its
 * place among referrers), of a tag (the manifest stays, by digest), and of a blob (unlinked from the repository).
 * A manifest's or blob's file goes once no repository reaches it, and only from the store, never from a source
 * layout. 202 on success as the spec says; the store's index.json follows, so a restart sees the same.
 */
import { blobUnknown, digestInvalid, manifestUnknown, nameUnknown } from './api-error.ts';
import type { Exchange, ServeContext } from './context.ts';
import { isSupportedDigest, looksLikeDigest } from './digest.ts';
import { send } from './http.ts';

export async function deleteManifest(ctx: ServeContext, x: Exchange, name: string, reference: string): Promise<void> {
  if (ctx.content.repository(name) === undefined) throw nameUnknown(name);
  if (looksLikeDigest(reference)) {
    if (!isSupportedDigest(reference)) throw digestInvalid({ digest: reference }, 'only sha256 and sha512 digests name anything here');
    if (!ctx.content.unlinkManifest(name, reference)) throw manifestUnknown(reference);
  } else if (ctx.content.untag(name, reference) === undefined) {
    throw manifestUnknown(reference);
  }
  await ctx.content.persist();
  if (looksLikeDigest(reference)) await removeIfUnreachable(ctx, reference);
  ctx.emit({ type: 'deleted', repository: name, reference });
  send(x.res, 202, {});
}

export async function deleteBlob(ctx: ServeContext, x: Exchange, name: string, digest: string): Promise<void> {
  if (!isSupportedDigest(digest)) {
    if (looksLikeDigest(digest)) throw blobUnknown(digest);
    throw digestInvalid({ digest }, 'invalid digest');
  }
  if (!ctx.content.unlinkBlob(name, digest)) throw blobUnknown(digest);
  await removeIfUnreachable(ctx, digest);
  ctx.emit({ type: 'deleted', repository: name, reference: digest });
  send(x.res, 202, {});
}

/**
 * A manifest or blob no repository reaches any more: forgotten, and its file removed when it is the store's
 * (the index.json that named it is already written without it, so a crash between leaves no dangling name).
 */
async function removeIfUnreachable(ctx: ServeContext, digest: string): Promise<void> {
  const store = ctx.store;
  if (store === undefined || ctx.content.isBlobInUse(digest)) return;
  ctx.content.forgetManifest(digest);
  const location = await ctx.content.locateBlob(digest);
  if (location?.path !== store.blobPath(digest)) return;
  ctx.content.forgetBlob(digest);
  await store.remove(digest);
}
