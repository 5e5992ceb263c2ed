/**
 * Teleport's `tsh` commands that this tsh does not have yet: asked for, they get one line saying so
 * (`reportUnknownCommands`), not a guess at a similar command. A command that gets implemented leaves the list
 * by itself: commander finds registered commands first.
 */
export const NOT_IMPLEMENTED: readonly string[] = [
  'join',
  'clusters',
  'request',
  'apps',
  'app',
  'kube',
  'aws',
  'az',
  'gcloud',
  'gsutil',
  'mfa',
  'headless',
  'fido2',
  'touchid',
  'sessions',
  'device',
  'vnet',
  'puttyconfig',
  'workload-identity',
  'svid',
  'git',
  'latency',
  'bench',
  'db exec',
  'proxy app',
  'proxy kube',
  'proxy aws',
  'proxy gcloud',
  'proxy azure',
];
