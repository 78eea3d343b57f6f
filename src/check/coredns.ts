/**
 * Where CoreDNS sends the names it does not own. In an air gap the default — the nodes' /etc/resolv.conf,
 * or MicroK8s's 8.8.8.8 — points at a resolver nobody can reach, and every lookup of an outside name
 * hangs until it times out. Pure: the Corefile text in, the forward targets and their verdict out.
 */
import { isIP } from 'node:net';

/** The `forward` (or the older `proxy`) targets of the server blocks for the root zone `.`. */
export function rootForwards(corefile: string): string[] {
  const targets: string[] = [];
  let depth = 0;
  let rootBlock = false;
  for (const raw of corefile.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (depth === 0 && opens > 0) {
      // Server block keys: `.:53 {`, `. {`, `example.org:53 .:5353 {`.
      const keys = line.slice(0, line.indexOf('{')).trim().split(/[\s,]+/);
      rootBlock = keys.some((k) => /^(dns:\/\/)?\.(:\d+)?$/.test(k));
    } else if (depth === 1 && rootBlock) {
      const words = line.replace(/\{.*$/, '').trim().split(/\s+/);
      if ((words[0] === 'forward' || words[0] === 'proxy') && words[1] === '.') targets.push(...words.slice(2).filter((w) => w !== ''));
    }
    depth += opens - closes;
    if (depth <= 0) {
      depth = 0;
      rootBlock = false;
    }
  }
  return targets;
}

export type ResolverKind = 'resolv.conf' | 'private' | 'public' | 'name';

/** `8.8.8.8`, `dns://10.0.0.2:53`, `tls://1.1.1.1`, `/etc/resolv.conf`, `[::1]:53`. */
export function resolverAddress(target: string): string {
  const bare = target.replace(/^[a-z]+:\/\//i, '');
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed !== null) return bracketed[1] ?? bare;
  if (isIP(bare) === 6) return bare;
  return bare.replace(/:\d+$/, '');
}

function ipv4Private(address: string): boolean {
  const [a = 0, b = 0] = address.split('.').map(Number);
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
}

function ipv6Private(address: string): boolean {
  const lower = address.toLowerCase();
  return lower === '::1' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
}

export function classifyResolver(target: string): ResolverKind {
  if (target.startsWith('/')) return 'resolv.conf';
  const address = resolverAddress(target);
  const family = isIP(address);
  if (family === 4) return ipv4Private(address) ? 'private' : 'public';
  if (family === 6) return ipv6Private(address) ? 'private' : 'public';
  return 'name';
}

/** The nameservers of a resolv.conf, without systemd-resolved's local stub (it means nothing to a pod). */
export function resolvConfNameservers(text: string): string[] {
  return text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((n): n is string => n !== undefined && n !== '127.0.0.53');
}
