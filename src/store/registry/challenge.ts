/**
 * The `WWW-Authenticate` header of a 401 answer, parsed by the RFC 7235 grammar:
 *
 *   WWW-Authenticate = 1#challenge
 *   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param       = token BWS "=" BWS ( token / quoted-string )
 *
 * The comma both separates challenges and the parameters of one challenge, so a comma is followed by a
 * look-ahead: `name=` continues the current challenge, anything else starts a new one.
 * Registries are not always tidy (unquoted realms holding `/` and `:`, stray commas, unterminated quotes),
 * so the parser is lenient, returns whatever it could read, and never throws.
 */

export interface AuthChallenge {
  /** The auth-scheme, lowercased (`bearer`, `basic`). */
  scheme: string;
  /** The auth-params, names lowercased, values unquoted and unescaped. The first of a repeated name wins. */
  params: Record<string, string>;
  /** The token68 form (`Negotiate YIIB...==`), when the challenge carries one instead of parameters. */
  token68?: string;
}

/** tchar of RFC 9110: the characters of a token. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** The characters of a token68, before its trailing `=` padding. */
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  return new Parser(header).challenges();
}

/**
 * The challenges of a header as undici hands it over: absent, one string, or one string per header line
 * when the server sent `WWW-Authenticate` several times (each line is a comma list of its own).
 */
export function challengesFrom(value: string | string[] | undefined): AuthChallenge[] {
  if (value === undefined) return [];
  const lines = Array.isArray(value) ? value : [value];
  return lines.flatMap((line) => parseWwwAuthenticate(line));
}

class Parser {
  readonly text: string;
  pos: number;

  constructor(text: string) {
    this.text = text;
    this.pos = 0;
  }

  challenges(): AuthChallenge[] {
    const result: AuthChallenge[] = [];
    while (this.pos < this.text.length) {
      this.skip(/[\s,]/);
      if (this.pos >= this.text.length) break;
      const scheme = this.token();
      if (scheme === '') {
        // Not a token where a scheme must start: drop this character and try again, so one bad byte
        // does not cost the challenges after it.
        this.pos++;
        continue;
      }
      const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
      result.push(challenge);
      this.skip(/[ \t]/);
      const token68 = this.token68();
      if (token68 !== undefined) {
        challenge.token68 = token68;
        continue;
      }
      this.params(challenge);
    }
    return result;
  }

  /** Reads auth-params until the text ends or a comma is followed by something that is not a parameter. */
  private params(challenge: AuthChallenge): void {
    while (this.pos < this.text.length) {
      this.skip(/[\s,]/);
      if (!this.atParam()) return;
      const name = this.token().toLowerCase();
      this.skip(/[ \t]/);
      this.pos++; // the '=' that atParam() saw
      this.skip(/[ \t]/);
      const value = this.text[this.pos] === '"' ? this.quoted() : this.bareValue();
      if (!Object.hasOwn(challenge.params, name)) challenge.params[name] = value;
      this.skip(/[ \t]/);
      const next = this.text[this.pos];
      if (next !== undefined && next !== ',' && !this.atParam()) {
        // Junk after a value (`realm="a" junk`): skip to the next comma, which may start a parameter or a
        // new challenge. A parameter with its comma forgotten (`realm="a" service="b"`) is kept.
        while (this.pos < this.text.length && this.text[this.pos] !== ',') this.pos++;
      }
    }
  }

  /** True when the text at the current position reads `token BWS "="`: a parameter, not a new challenge. */
  private atParam(): boolean {
    const start = this.pos;
    const name = this.token();
    this.skip(/[ \t]/);
    const isParam = name !== '' && this.text[this.pos] === '=';
    this.pos = start;
    return isParam;
  }

  /**
   * A token68 stands alone after the scheme: its characters, `=` padding, then the end or a comma.
   * `realm=x` is not one, since something follows the `=`.
   */
  private token68(): string | undefined {
    const start = this.pos;
    while (this.pos < this.text.length && TOKEN68_CHAR.test(this.text[this.pos] ?? '')) this.pos++;
    if (this.pos === start) return undefined;
    while (this.text[this.pos] === '=') this.pos++;
    const end = this.pos;
    this.skip(/[ \t]/);
    if (this.pos >= this.text.length || this.text[this.pos] === ',') return this.text.slice(start, end);
    this.pos = start;
    return undefined;
  }

  private token(): string {
    const start = this.pos;
    while (this.pos < this.text.length && TCHAR.test(this.text[this.pos] ?? '')) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** A quoted-string with backslash escapes; an unterminated one runs to the end of the text. */
  private quoted(): string {
    this.pos++; // opening quote
    let value = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] ?? '';
      if (ch === '"') {
        this.pos++;
        return value;
      }
      if (ch === '\\' && this.pos + 1 < this.text.length) {
        value += this.text[this.pos + 1] ?? '';
        this.pos += 2;
        continue;
      }
      value += ch;
      this.pos++;
    }
    return value;
  }

  /**
   * An unquoted value. The grammar says token, but servers send realms like `https://host/token` bare,
   * so everything up to a comma or whitespace is taken.
   */
  private bareValue(): string {
    const start = this.pos;
    while (this.pos < this.text.length && !/[\s,]/.test(this.text[this.pos] ?? '')) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private skip(chars: RegExp): void {
    while (this.pos < this.text.length && chars.test(this.text[this.pos] ?? '')) this.pos++;
  }
}
