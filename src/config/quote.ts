/**
 * One value as a complete scalar of the format it goes into, whatever characters it holds. JSON's string
 * grammar is a subset of both TOML's basic strings and YAML's double-quoted scalars; a shell word is
 * single-quoted unless it is plainly safe.
 */
import { AirgapError } from '../errors.ts';
import { formatCommand } from '../deploy/juju.ts';

function assertScalarValues(value: string): void {
  // TOML and YAML both reject a lone UTF-16 surrogate, which JSON.stringify would keep as \udXXX.
  if (!value.isWellFormed()) throw new AirgapError(`the value ${JSON.stringify(value)} is not well-formed Unicode`);
}

export function tomlString(value: string): string {
  assertScalarValues(value);
  return JSON.stringify(value);
}

export function yamlString(value: string): string {
  assertScalarValues(value);
  return JSON.stringify(value);
}

export function shellQuote(value: string): string {
  return formatCommand([value]);
}
