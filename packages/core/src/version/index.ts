declare const __TELEPORT_TS_VERSION__: string | undefined;
declare const __TELEPORT_TS_GIT__: string | undefined;

/** The product version, injected at bundle time. */
export const VERSION: string = typeof __TELEPORT_TS_VERSION__ === 'string' ? __TELEPORT_TS_VERSION__ : '0.1.0-dev';
/** `git describe` of the build, injected at bundle time. */
export const GIT_COMMIT: string = typeof __TELEPORT_TS_GIT__ === 'string' ? __TELEPORT_TS_GIT__ : 'unknown';

/**
 * The one-line version text every CLI prints, in Teleport's shape
 * (`Teleport v15.4.0 git:v15.4.0-0-gabc go1.21.10`).
 *
 * @example
 * ```ts
 * versionLine() // 'teleport-ts v0.1.0 git:1a2b3c4d5e6f node20.20.2'
 * ```
 */
export function versionLine(): string {
  return `teleport-ts v${VERSION} git:${GIT_COMMIT} node${process.versions.node}`;
}
