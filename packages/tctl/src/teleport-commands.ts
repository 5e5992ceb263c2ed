/**
 * Teleport's `tctl` commands that this tctl does not have yet: asked for, they get one line saying so
 * (`reportUnknownCommands`), not a guess at a similar command. A command that gets implemented leaves the list
 * by itself: commander finds registered commands first.
 */
export const NOT_IMPLEMENTED: readonly string[] = [
  'top',
  'requests',
  'apps',
  'kube',
  'windows_desktops',
  'desktop',
  'edit',
  'update',
  'bots',
  'inventory',
  'recordings',
  'alerts',
  'sso',
  'acl',
  'login_rule',
  'idp',
  'devices',
  'saml',
  'plugins',
  'terraform',
  'notifications',
  'autoupdate',
  'workload-identity',
  'auth ls',
  'auth crl',
  'auth export-keys',
];
