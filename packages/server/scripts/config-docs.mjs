// Writes docs/configuration.md from the documentation each variable carries in the configuration
// schema. Run it through `npm run docs:config`, which builds the server first.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { configurationDoc } from '../dist/config/config.js';

const target = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
// Formatted as `npm run format` would, so lint and the freshness test agree on every byte.
const options = await prettier.resolveConfig(target);
await writeFile(
  target,
  await prettier.format(configurationDoc(), { ...options, parser: 'markdown' }),
);
console.log(`wrote ${target}`);
