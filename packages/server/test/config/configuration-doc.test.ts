import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import { configVariables, configurationDoc } from '../../src/config/config.js';
import { docOf } from '../../src/config/docs.js';

const target = fileURLToPath(new URL('../../../../docs/configuration.md', import.meta.url));

describe('docs/configuration.md', () => {
  it('is what the configuration schema generates now', async () => {
    // The same formatting as packages/server/scripts/config-docs.mjs applies.
    const options = await prettier.resolveConfig(target);
    const expected = await prettier.format(configurationDoc(), { ...options, parser: 'markdown' });
    const actual = await readFile(target, 'utf8').catch(() => '(missing)');
    expect(
      actual,
      'docs/configuration.md is out of date with the configuration schema: run `npm run docs:config`',
    ).toBe(expected);
  });

  it('lists every variable the schema reads, with a description', async () => {
    const text = await readFile(target, 'utf8');
    for (const [name, schema] of Object.entries(configVariables)) {
      expect(docOf(schema)?.description, name).toMatch(/\S/);
      expect(text, name).toContain(`| \`${name}\``);
    }
  });

  it('shows examples the variables accept', () => {
    for (const [name, schema] of Object.entries(configVariables)) {
      const example = docOf(schema)?.example;
      if (example === undefined) continue;
      expect(schema.safeParse(example).success, `${name}=${example}`).toBe(true);
    }
  });
});
