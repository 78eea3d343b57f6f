import { basename } from 'node:path';
import { formatBytes } from '../fs/atomic-file.ts';
import type { VerifyReport } from '../verify/verify.ts';

// A missing part leaves every later blob unread: the first ones say enough, --json has them all.
const MAX_PROBLEM_LINES = 20;

/** The verify report for a person: one line per file, one per problem, the images that need them. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  for (const f of report.files) {
    const name = `${basename(f.file)}${f.joined === true ? ' (its parts joined)' : ''}`;
    lines.push(`${f.status.padEnd(8)} ${name}  ${f.status === 'ok' ? formatBytes(f.size ?? 0) : (f.detail ?? '')}`);
  }
  for (const b of report.breaks) lines.push(`broken   ${b.archive}: ${b.detail}`);
  for (const p of report.problems.slice(0, MAX_PROBLEM_LINES)) {
    const size = p.size === undefined ? '' : ` (${formatBytes(p.size)})`;
    const users = p.images.length === 0 ? '' : `, needed by ${p.images.join(', ')}`;
    lines.push(`${p.status.padEnd(8)} ${p.kind} ${p.name}${size}${users}: ${p.detail}`);
  }
  if (report.problems.length > MAX_PROBLEM_LINES) lines.push(`         ... and ${report.problems.length - MAX_PROBLEM_LINES} more (--json lists every one)`);
  if (report.images.length > 0) lines.push(`images that need what is damaged or missing: ${report.images.join(', ')}`);
  lines.push(`checked ${report.blobs.checked} of ${report.blobs.expected} blobs and ${report.charms.checked} of ${report.charms.expected} charms`);
  if (report.base !== undefined) lines.push(`a differential archive: its ${report.base.leftOut} left-out layers are in ${report.base.release}, checked when it was carried`);
  if (report.ok) lines.push(`ok: everything in ${report.dir} is as ${basename(report.lock)} records`);
  return `${lines.join('\n')}\n`;
}
