// Prints the hottest frames (self time) of a V8 .cpuprofile, e.g. one written by
// `npm run bench -- --cpu-prof --only <scenario>`:
//   node bench/profile-top.mjs <file.cpuprofile> [count] [lastSeconds]
// With lastSeconds, only the samples of the last seconds before the process stopped count: with
// --only one scenario, that is the scenario itself rather than the start and the seeding.
import { readFileSync } from 'node:fs';

const [file, count = '25', last] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-top.mjs <file.cpuprofile> [count]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
const times = [];
let t = profile.startTime;
for (const d of dt) times.push((t += d));
const from = last ? profile.endTime - Number(last) * 1e6 : -Infinity;
for (let i = 0; i < profile.samples.length; i++) {
  if (times[i] < from) continue;
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const frames = new Map();
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id);
  const where = f.url
    ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, '')}:${f.lineNumber + 1}`
    : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
  frames.set(key, (frames.get(key) ?? 0) + us);
}
const top = [...frames].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
console.log(`${(total / 1000).toFixed(0)} ms sampled; hottest frames by self time:`);
for (const [key, us] of top) {
  console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

// Inclusive share of some code (samples with a matching frame anywhere on the stack):
// BENCH_PROFILE_MATCH=prom-client,zod node bench/profile-top.mjs …
if (process.env.BENCH_PROFILE_MATCH) {
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const frameText = (id) => {
    const f = byId.get(id).callFrame;
    return `${f.functionName} ${f.url}`;
  };
  for (const needle of process.env.BENCH_PROFILE_MATCH.split(',')) {
    let us = 0;
    for (const [id, time] of self) {
      for (let at = id; at !== undefined; at = parent.get(at)) {
        if (frameText(at).includes(needle)) {
          us += time;
          break;
        }
      }
    }
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  inclusive: ${needle}`);
  }
}
