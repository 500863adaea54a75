import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BulwarkError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Where a configured value came from, so an error can tell the operator what to fix. */
type Source = 'file' | 'env' | 'flag';

interface Leaf {
  path: string[];
  kind: 'string' | 'number' | 'boolean' | 'enum' | 'array';
}

/** Walks the schema down to its leaves; env variables and flags are derived from them. */
function leavesOf(schema: z.ZodType, path: string[] = []): Leaf[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })
    ._zod.def;
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
        leavesOf(child, [...path, key]),
      );
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
      return leavesOf(def.innerType as z.ZodType, path);
    case 'number':
    case 'string':
    case 'boolean':
    case 'enum':
    case 'array':
      return [{ path, kind: def.type }];
    default:
      throw new Error(`config schema: unsupported leaf type ${def.type} at ${path.join('.')}`);
  }
}

const LEAVES = leavesOf(configSchema);

/** `store.postgres.url` → `BULWARK_STORE_POSTGRES_URL`. */
export function envNameOf(path: string[]): string {
  return (
    'BULWARK_' +
    path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
  );
}

function coerce(leaf: Leaf, raw: string): unknown {
  switch (leaf.kind) {
    case 'number': {
      const trimmed = raw.trim();
      if (trimmed === '') return raw;
      if (trimmed === 'null') return null;
      const value = Number(trimmed);
      return Number.isFinite(value) ? value : raw;
    }
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'array':
      // A JSON array for lists of objects (`mqtt.revocation`); comma-separated words otherwise.
      if (raw.trim().startsWith('[')) {
        try {
          const parsed: unknown = JSON.parse(raw);
          if (Array.isArray(parsed)) return parsed;
        } catch {
          // not JSON: read as a comma-separated list
        }
      }
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function getPath(target: unknown, path: (string | number)[]): unknown {
  let node = target;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new BulwarkError(
      'ConfigInvalid',
      `cannot read config file ${file}: ${(error as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new BulwarkError(
      'ConfigInvalid',
      `config file ${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BulwarkError('ConfigInvalid', `config file ${file} must hold a mapping of settings`);
  }
  return parsed as Record<string, unknown>;
}

export interface LoadConfigOptions {
  /** Path of a YAML or JSON file (`--config`). */
  file?: string;
  /** The process environment; only `BULWARK_*` names that match a setting are read. */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, keyed by dotted setting path (`mqttPort`, `store.engine`). */
  flags?: Record<string, unknown>;
}

/**
 * Builds the configuration once at start: defaults, then the file, then the environment, then
 * flags. An invalid value stops start-up with one message that names the setting, the value,
 * where it came from and what is allowed.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const merged: Record<string, unknown> = {};
  const sources = new Map<string, Source>();

  if (options.file) {
    const fromFile = readConfigFile(options.file);
    Object.assign(merged, fromFile);
    for (const leaf of LEAVES) {
      if (getPath(fromFile, leaf.path) !== undefined) sources.set(leaf.path.join('.'), 'file');
    }
  }
  const env = options.env ?? {};
  for (const leaf of LEAVES) {
    const name = envNameOf(leaf.path);
    const raw = env[name];
    if (raw !== undefined) {
      setPath(merged, leaf.path, coerce(leaf, raw));
      sources.set(leaf.path.join('.'), 'env');
    }
  }
  for (const [dotted, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    const leaf = LEAVES.find((candidate) => candidate.path.join('.') === dotted);
    if (!leaf) throw new Error(`internal: flag for unknown setting ${dotted}`);
    setPath(merged, leaf.path, typeof value === 'string' ? coerce(leaf, value) : value);
    sources.set(dotted, 'flag');
  }

  const result = configSchema.safeParse(merged);
  if (result.success) return result.data;

  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const dotted = issue.path.join('.');
  // An issue inside a list (`mqtt.revocation.0.crl`) came from wherever the list did.
  const leaf = LEAVES.find(
    (candidate) =>
      candidate.path.join('.') === dotted || dotted.startsWith(`${candidate.path.join('.')}.`),
  );
  const source = leaf && sources.get(leaf.path.join('.'));
  const where =
    source === 'env' && leaf
      ? ` (from ${envNameOf(leaf.path)})`
      : source === 'flag'
        ? ' (from a command-line flag)'
        : source === 'file'
          ? ` (from ${options.file})`
          : '';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => (dotted ? `${dotted}.${key}` : key)).join(', ');
    throw new BulwarkError(
      'ConfigInvalid',
      `invalid configuration: unknown setting ${keys}${where}`,
      { keys },
    );
  }
  // A value that may hold a secret (a URL the URL guard refused): named, never echoed.
  if (issue.code === 'custom' && issue.params?.withholdValue === true)
    throw new BulwarkError(
      'ConfigInvalid',
      `invalid configuration: ${dotted}${where}: ${issue.message}`,
      { key: dotted },
    );
  const value = getPath(merged, issue.path as (string | number)[]);
  throw new BulwarkError(
    'ConfigInvalid',
    `invalid configuration: ${dotted || '(root)'} = ${JSON.stringify(value)}${where}: ${describeAllowed(issue)}`,
    { key: dotted },
  );
}

function describeAllowed(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected === 'int' ? 'an integer' : issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `expected at least ${issue.minimum}`;
    case 'too_big':
      return `expected at most ${issue.maximum}`;
    case 'invalid_format':
      return `expected ${issue.message}`;
    default:
      return issue.message;
  }
}
