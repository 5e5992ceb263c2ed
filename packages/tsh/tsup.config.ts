import { cliConfig } from '../../scripts/tsup-cli.js';

export default cliConfig();
