/** One line of `airgap check`: what was checked, how it went, and the fix when it did not go well. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';
export type CheckSection = 'registry' | 'juju' | 'kubernetes' | 'dns' | 'containerd';

export interface CheckResult {
  section: CheckSection;
  status: CheckStatus;
  /** What was checked, a few words: `certificate trusted`, `nodes Ready`. */
  what: string;
  /** What was found. */
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string | undefined;
}

export function result(section: CheckSection, status: CheckStatus, what: string, detail: string, fix?: string): CheckResult {
  return fix === undefined ? { section, status, what, detail } : { section, status, what, detail, fix };
}
