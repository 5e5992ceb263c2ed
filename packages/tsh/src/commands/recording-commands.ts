/**
 * `tsh recordings ls` and `tsh play`, Teleport's flags. Light descriptors: the recording code and its renderers load
 * only when one of them runs.
 */

import type { RecordingSummary } from '@teleport-ts/core/api';
import { FORMAT_OPTION, type CommandGroup, type OutputFormat, type TshCommand } from './context.js';
import type { ListRecordingsOptions, PlayFormat, PlayOptions } from './recordings.js';

const recordings = () => import('./recordings.js');
const renderers = () => import('../render/recordings.js');

export const recordingsGroup: CommandGroup = { name: 'recordings', help: 'View and control session recordings.' };

export const recordingsLsCommand: TshCommand<ListRecordingsOptions & { format: OutputFormat }, RecordingSummary[]> = {
  name: 'recordings ls',
  help: 'List recorded sessions.',
  options: [
    FORMAT_OPTION,
    { flags: '--from-utc <date>', description: 'Start of time range in which recordings are listed. Format 2006-01-02. Defaults to 24 hours ago.' },
    { flags: '--to-utc <date>', description: 'End of time range in which recordings are listed. Format 2006-01-02. Defaults to current time.' },
    { flags: '--limit <n>', description: 'Maximum number of recordings to show.', default: '50' },
    { flags: '--last <duration>', description: 'Duration into the past from which session recordings should be listed. Format 5h30m40s.' },
  ],
  handler: async ({ opts }, ctx) => {
    const r = await recordings();
    r.listWindow(opts, ctx.now()); // the flags first, then the profile and the network
    return r.listRecordings(await ctx.dbSession(), opts);
  },
  render: async (list, { opts }) => (await renderers()).renderRecordingList(list, opts.format),
};

export const playCommand: TshCommand<PlayOptions, { sid: string; speed: number; format: PlayFormat }> = {
  name: 'play',
  help: 'Replay the recorded session (SSH).',
  args: [{ name: '<session-id>', description: 'ID of the session to play.' }],
  options: [
    { flags: '--speed <speed>', description: 'Playback speed, applicable when streaming SSH sessions.', choices: ['0.5x', '1x', '2x', '4x', '8x'], default: '1x' },
    { flags: '-f, --format <format>', description: 'Format for the session output: pty (with its timing), text (the output), json or yaml (the events).', choices: ['pty', 'json', 'yaml', 'text'], default: 'pty' },
  ],
  handler: async ({ args, opts }) => (await recordings()).checkPlay(args[0], opts),
  render: () => '',
  // Playback writes as it goes: the output keeps the session's timing.
  finish: async (play, ctx) => {
    const r = await recordings();
    const write = (chunk: string | Uint8Array): Promise<void> => new Promise((resolve) => (process.stdout.write(chunk) ? resolve() : process.stdout.once('drain', resolve)));
    await r.playRecording(await ctx.dbSession(), play, { write, isTTY: process.stdout.isTTY === true });
  },
};
