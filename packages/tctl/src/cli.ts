#!/usr/bin/env node
import { runCli } from '@teleport-ts/core/cli';
import { buildProgram } from './program.js';

await runCli(async () => {
  await buildProgram().parseAsync(process.argv);
});
