// fs (sync, callbacks through promises), crypto, and child_process:
// execFileSync, spawn with piped stdio, and spawnSync of another node.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const cp = require('child_process');

async function main() {
  fs.mkdirSync('out/a/b', { recursive: true });
  for (let i = 0; i < 50; i++) {
    const body = Array.from({ length: 100 + i * 13 }, (_, j) => `${i}:${(i * j) % 977}`).join('\n');
    fs.writeFileSync(path.join('out', i % 2 ? 'a' : 'a/b', `f${i}.txt`), body + '\n');
  }
  const names = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else names.push(p);
    }
  };
  walk('out');
  const h = crypto.createHash('sha256');
  let total = 0;
  for (const n of names) {
    const data = await fs.promises.readFile(n);
    total += data.length;
    h.update(data);
  }
  console.log(`files ${names.length} bytes ${total} sha256 ${h.digest('hex').slice(0, 16)}`);
  await fs.promises.rename('out/a/f1.txt', 'out/renamed.txt');
  await fs.promises.unlink('out/a/f3.txt');
  const st = await fs.promises.stat('out/renamed.txt');
  console.log(`renamed size ${st.size} isFile ${st.isFile()}`);

  console.log(cp.execFileSync('sh', ['-c', 'echo from sh; ls out | sort; wc -l < out/renamed.txt']).toString().trim());

  const child = cp.spawn('sort', ['-n'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let sorted = '';
  child.stdout.on('data', (d) => { sorted += d; });
  child.stdin.end('30\n4\n200\n1\n');
  const code = await new Promise((res) => child.on('close', res));
  console.log(`sort exit ${code}: ${sorted.trim().split('\n').join(',')}`);

  const r = cp.spawnSync(process.execPath, ['-e', 'console.log(require("os").platform(), 6 * 7); process.exit(3)']);
  console.log(`node child status ${r.status} stdout ${r.stdout.toString().trim()}`);
  fs.writeFileSync('summary.json', JSON.stringify({ names: names.length, total }) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
