export { buildProgram } from './program.js';
export { login, type LoginOptions } from './commands/login.js';
export { profileStatus, loadStatuses, type ProfileStatus } from './profile/status.js';
export { renderStatusText, renderStatuses } from './render/status.js';
export { teleportHome, keyPaths, profileName, type Profile } from '@teleport-ts/core/profile';
