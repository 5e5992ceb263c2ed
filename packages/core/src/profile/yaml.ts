/**
 * The little YAML tsh reads and writes: profiles are flat `key: value` maps, and `--format yaml` prints plain data.
 * Strings are always double-quoted JSON strings when they need it, which YAML reads back as the same string.
 */

/** Plain data: what `--format json|yaml` prints. */
export type Plain = string | number | boolean | null | undefined | Plain[] | { [key: string]: Plain };

const SAFE = /^[A-Za-z0-9_./@+-][A-Za-z0-9_./@:+ -]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|-?\d[\d_.eE+-]*)$/i;

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value !== 'string') return String(value);
  return SAFE.test(value) && !RESERVED.test(value) && !value.endsWith(' ') && !value.includes(': ') ? value : JSON.stringify(value);
}

/**
 * Renders plain data as block YAML.
 *
 * @example
 * ```ts
 * toYaml({ user: 'alice', roles: ['access'] }); // 'user: alice\nroles:\n- access\n'
 * ```
 */
export function toYaml(value: Plain, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}[]\n`;
    return value
      .map((item) => {
        if (item !== null && typeof item === 'object') {
          const inner = toYaml(item, `${indent}  `);
          return `${indent}- ${inner.slice(indent.length + 2)}`;
        }
        return `${indent}- ${scalar(item ?? null)}\n`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `${indent}{}\n`;
    return entries
      .map(([k, v]) => {
        if (v !== null && typeof v === 'object') {
          const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
          if (empty) return `${indent}${scalar(k)}: ${Array.isArray(v) ? '[]' : '{}'}\n`;
          return `${indent}${scalar(k)}:\n${toYaml(v, Array.isArray(v) ? indent : `${indent}  `)}`;
        }
        return `${indent}${scalar(k)}: ${scalar(v ?? null)}\n`;
      })
      .join('');
  }
  return `${indent}${scalar(value ?? null)}\n`;
}

/** Reads a flat `key: value` YAML map (what {@link toYaml} writes for flat objects, and Teleport's profiles). */
export function parseFlatYaml(text: string): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trimEnd();
    if (line === '' || line.startsWith('#') || /^\s/.test(line)) continue;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i).trim();
    let value = line.slice(i + 1).trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      value = value.slice(1, -1).replace(/''/g, "'");
    } else if (value === 'true' || value === 'false') {
      out[key] = value === 'true';
      continue;
    }
    out[key] = value;
  }
  return out;
}
