import { UsageError } from '../errors.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import type { CommandIo } from './io.ts';

/**
 * --username with --password-stdin, as docker login takes them: the password never appears in argv,
 * the shell history or a process listing.
 */
export async function credentialsFromFlags(options: { username?: string; passwordStdin?: boolean }, io: CommandIo): Promise<Credentials | undefined> {
  if (options.passwordStdin === true && options.username === undefined) throw new UsageError('--password-stdin needs --username');
  if (options.username === undefined) return undefined;
  if (options.passwordStdin !== true) throw new UsageError('--username needs --password-stdin (the password is read from standard input)');
  const password = (await io.readStdin()).replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin: standard input was empty');
  return { username: options.username, password };
}
