import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { anchor } from '../../src/config/docs.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const pages = [
  join(root, 'README.md'),
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(root, 'docs', name)),
];

/** Markdown outside fenced code blocks, where `# ...` is a comment, not a heading. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced;
  });
}

function anchorsOf(path: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of prose(readFileSync(path, 'utf8'))) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = anchor(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

describe('links between the README and docs/', () => {
  it('point at files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const lines = prose(readFileSync(page, 'utf8'))
        .join('\n')
        .replace(/`[^`\n]*`/g, '');
      for (const [, target = ''] of lines.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // http(s), mailto: not checked here
        const [file = '', hash] = target.split('#');
        const path = file === '' ? page : resolve(dirname(page), file);
        const where = `${relative(root, page)} → ${target}`;
        if (!existsSync(path)) broken.push(`${where} (no such file)`);
        else if (hash !== undefined && path.endsWith('.md') && !anchorsOf(path).has(hash)) {
          broken.push(`${where} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
