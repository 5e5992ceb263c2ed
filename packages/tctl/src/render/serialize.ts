/**
 * JSON and YAML output for `--format json|yaml` of data that is not a resource (resources go through
 * `resourceToYaml`). JSON is indented with four spaces, as Teleport's `utils.WriteJSON`; YAML has sorted keys
 * and quotes every string a YAML 1.1 reader could take for something else, as `ghodss/yaml` output does.
 */

/** Plain data: what these writers accept. */
export type PlainValue = string | number | boolean | null | undefined | PlainValue[] | { [key: string]: PlainValue };

/** `json.MarshalIndent(v, "", "    ")` plus a newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}

const YAML11_SPECIAL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/;
const NUMBER_LIKE = /^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^0x[0-9a-fA-F]+$|^0o?[0-7]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$/;
const TIMESTAMP_LIKE = /^\d{4}-\d{1,2}-\d{1,2}(?:[Tt ]|$)/;
const SEXAGESIMAL = /^[-+]?\d+(?::[0-5]?\d)+(?:\.\d*)?$/;

function needsQuotes(s: string): boolean {
  if (s === '' || s !== s.trim()) return true;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(s)) return true;
  if (s.includes(': ') || s.includes(' #') || s.endsWith(':')) return true;
  return YAML11_SPECIAL.test(s) || NUMBER_LIKE.test(s) || TIMESTAMP_LIKE.test(s) || SEXAGESIMAL.test(s);
}

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (/[\u0000-\u001f\u007f]/.test(value)) return JSON.stringify(value);
  return needsQuotes(value) ? `'${value.replaceAll("'", "''")}'` : value;
}

function isMapping(v: PlainValue): v is { [key: string]: PlainValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function emit(value: PlainValue, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return ['[]'];
    const out: string[] = [];
    for (const item of value) {
      const lines = emit(item, `${indent}  `);
      const nested = isMapping(item) || Array.isArray(item);
      if (nested && !(lines.length === 1 && (lines[0] === '{}' || lines[0] === '[]'))) {
        out.push(`${indent}- ${lines[0]!.trimStart()}`, ...lines.slice(1));
      } else {
        out.push(`${indent}- ${lines[0]!}`);
      }
    }
    return out;
  }
  if (isMapping(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    if (keys.length === 0) return ['{}'];
    const out: string[] = [];
    for (const key of keys) {
      const v = value[key]!;
      const k = scalar(key);
      if ((isMapping(v) && Object.keys(v).some((x) => v[x] !== undefined)) || (Array.isArray(v) && v.length > 0)) {
        out.push(`${indent}${k}:`, ...emit(v, Array.isArray(v) ? indent : `${indent}  `));
      } else {
        out.push(`${indent}${k}: ${emit(v, indent)[0]!}`);
      }
    }
    return out;
  }
  return [scalar(value ?? null)];
}

/**
 * Plain data as block YAML: keys sorted, sequences not indented under their key, risky strings single-quoted.
 *
 * @example
 * ```ts
 * toYaml({ token: 'abc', roles: ['Node'] }); // 'roles:\n- Node\ntoken: abc\n'
 * ```
 */
export function toYaml(value: PlainValue): string {
  return `${emit(value, '').join('\n')}\n`;
}
