/**
 * The users of `--htpasswd FILE`: `user:hash` lines with bcrypt hashes, as `htpasswd -B` and docker-registry's
 * documentation make them (`$2y$`, `$2a$`, `$2b$`). Other hash kinds (MD5 `$apr1$`, `{SHA}`, crypt) are refused
 * at start: they are weak, and docker-registry refuses them too. The file is read again when it changes, so a
 * site adds or removes a user without a restart. A password that was checked once is remembered by its sha256
 * only (never itself), so a client sending Basic credentials on every request costs one bcrypt check, not one each.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { UsageError, messageOf } from '../errors.ts';

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
// A changed file is noticed within this long; a stat per request would cost more than it gives.
const RECHECK_MS = 2_000;
const MAX_REMEMBERED = 1_000;

interface Users {
  hashes: Map<string, string>;
  /** A hash of the file's usual cost, checked against for unknown users: no answer comes faster for them. */
  decoy: string;
}

async function readUsers(file: string): Promise<Users> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new UsageError(`--htpasswd ${file} cannot be read: ${messageOf(err)}`, { cause: err });
  }
  const hashes = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon);
    const hash = colon < 0 ? '' : line.slice(colon + 1);
    // The line itself is never shown: it holds a password hash.
    if (user === '') throw new UsageError(`--htpasswd ${file}:${index + 1}: not a user:hash line`);
    if (!BCRYPT.test(hash)) {
      throw new UsageError(`--htpasswd ${file}:${index + 1}: the entry of ${user} is not a bcrypt hash`, { hint: `make it with \`htpasswd -B ${file} ${user}\` (only bcrypt entries are accepted)` });
    }
    hashes.set(user, hash);
  });
  if (hashes.size === 0) throw new UsageError(`--htpasswd ${file} has no users`, { hint: `add one with \`htpasswd -B ${file} USER\`` });
  const rounds = bcrypt.getRounds([...hashes.values()][0] ?? '');
  return { hashes, decoy: await bcrypt.hash(createHash('sha256').update(file).digest('hex'), rounds) };
}

export class Htpasswd {
  readonly file: string;
  #users: Users;
  #mtimeMs: number;
  #checkedAt = Date.now();
  #remembered = new Map<string, string>();
  readonly #warn: (message: string) => void;

  private constructor(file: string, users: Users, mtimeMs: number, warn: (message: string) => void) {
    this.file = file;
    this.#users = users;
    this.#mtimeMs = mtimeMs;
    this.#warn = warn;
  }

  /** Read the file (a bad one is a UsageError); `warn` hears of a later change that cannot be used. */
  static async open(file: string, warn: (message: string) => void): Promise<Htpasswd> {
    const users = await readUsers(file);
    const { mtimeMs } = await stat(file);
    return new Htpasswd(file, users, mtimeMs, warn);
  }

  get userCount(): number {
    return this.#users.hashes.size;
  }

  /** Is `password` the password of `user`? A file being rewritten keeps the users it had until it reads well. */
  async verify(user: string, password: string): Promise<boolean> {
    await this.#reloadIfChanged();
    const key = createHash('sha256').update(user).update('\0').update(password).digest('hex');
    const hash = this.#users.hashes.get(user);
    if (hash !== undefined && this.#remembered.get(key) === hash) return true;
    const ok = await bcrypt.compare(password, hash ?? this.#users.decoy);
    if (!ok || hash === undefined) return false;
    if (this.#remembered.size >= MAX_REMEMBERED) this.#remembered.clear();
    this.#remembered.set(key, hash);
    return true;
  }

  async #reloadIfChanged(): Promise<void> {
    const now = Date.now();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.file)).mtimeMs;
    } catch (err: unknown) {
      // Said once, not on every request while it stays gone.
      if (!Number.isNaN(this.#mtimeMs)) this.#warn(`--htpasswd ${this.file} is gone (${messageOf(err)}): the users read before stay in force`);
      this.#mtimeMs = Number.NaN;
      return;
    }
    if (mtimeMs === this.#mtimeMs) return;
    // Tried once per change: a file half-written now is read again when its writer touches it next.
    this.#mtimeMs = mtimeMs;
    try {
      this.#users = await readUsers(this.file);
      // A removed user or a changed password must not be let in from memory.
      this.#remembered = new Map();
    } catch (err: unknown) {
      this.#warn(`${messageOf(err)}: the users read before stay in force`);
    }
  }
}
