/**
 * Text from outside (archive member names, image and file names, registry and Juju messages) on its way
 * to a terminal. An escape sequence in a name can recolour, retitle or clear the operator's terminal, a
 * newline can forge a line of our output, a bidirectional override can make a name read as another: so
 * every such character is shown as an escape instead (`\u001b`, `\n`, `\u202e`), the rest of the text as is.
 */

/** C0 controls, DEL and C1 controls; the bidirectional marks, embeddings, overrides and isolates; line and paragraph separators. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const UNPRINTABLE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** JSON's own escapes, so that escaped text stays valid inside a JSON string (--json output passes the guard too). */
function escape(char: string): string {
  return NAMED[char] ?? `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
}

/** One line of text safe to print: no character of it acts on the terminal, a newline included. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}

/** A name as the library quotes it in a message: printable, in double quotes. */
export function quoted(name: string): string {
  return `"${printable(name)}"`;
}

/**
 * The last guard before the terminal, for text the CLI has already laid out in lines: newlines stay, every
 * other control character is escaped. No printer writes escape sequences of its own: the live displays are
 * listr2's, which writes to the terminal itself.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNPRINTABLE_BUT_NEWLINE, escape);
}
