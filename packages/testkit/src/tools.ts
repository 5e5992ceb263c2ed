import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Directories searched after `PATH`: daemons such as `sshd` live in sbin, which is often not on a user's PATH. */
const EXTRA_SEARCH_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

const reported = new Set<string>();

/** True when the tests run in CI, where a missing external program is a failure, not a reason to skip. */
export function isCI(): boolean {
  return process.env.CI === 'true';
}

/**
 * The policy for a missing external dependency: in CI (`CI=true`) throw `message`, so the test file fails;
 * elsewhere print `skipping <what>: <message>` to stderr once per process and return, so the caller skips.
 *
 * @example
 * ```ts
 * if (!existsSync('/dev/kvm')) reportMissingDependency('KVM tests', '/dev/kvm is missing; enable nested virtualisation');
 * ```
 */
export function reportMissingDependency(what: string, message: string): void {
  if (isCI()) throw new Error(`${what} cannot run: ${message}`);
  const line = `skipping ${what}: ${message}`;
  if (reported.has(line)) return;
  reported.add(line);
  process.stderr.write(`${line}\n`);
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Absolute path of an executable: `cmd` itself when absolute, else the first match on `PATH`, then in the sbin
 * directories. `undefined` when not found.
 *
 * @example
 * ```ts
 * findExecutable('sshd'); // '/usr/sbin/sshd'
 * ```
 */
export function findExecutable(cmd: string): string | undefined {
  if (isAbsolute(cmd)) return isExecutableFile(cmd) ? cmd : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...dirs, ...EXTRA_SEARCH_DIRS]) {
    const candidate = join(dir, cmd);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** What {@link requireTool} found. */
export interface ToolAvailability {
  available: boolean;
  /** Absolute path of the program when available. */
  path: string | undefined;
}

/**
 * Looks up an external program that a test file needs, with the suite-wide policy: when it is missing and
 * `CI=true` this throws (the file fails, naming the Debian package to install); otherwise it prints
 * `skipping tests that need <cmd>: ...` once to stderr and returns `available: false`, for `describe.skipIf`.
 * Call it at module level so the decision is made at collection time.
 *
 * @example
 * ```ts
 * const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
 * describe.skipIf(!sshd.available)('ssh proxy against a real sshd', () => { ... });
 * ```
 */
export function requireTool(cmd: string, debianPackage: string): ToolAvailability {
  const path = findExecutable(cmd);
  if (path !== undefined) return { available: true, path };
  reportMissingDependency(`tests that need ${cmd}`, `${cmd} not found; install it with: apt-get install -y ${debianPackage}`);
  return { available: false, path: undefined };
}
