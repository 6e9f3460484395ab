// Converted-vs-native comparison script for the node image (test/e2e
// TestConvertedMatchesNative): an HTTP server under load from its own
// clients (keep-alive and not), the event loop's ordering, fs, streams,
// zlib, crypto, child processes, worker threads and timers. The output
// must be deterministic: no times, pids, ports or hash orders.
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');
const cp = require('child_process');
const { Worker } = require('worker_threads');

const out = [];
const say = (...a) => out.push(a.join(' '));

async function httpLoad() {
  let served = 0;
  const server = http.createServer((req, res) => {
    served++;
    if (req.url === '/big') {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(Buffer.alloc(300000, 7));
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${req.method} ${req.url} ${body.length}`);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const get = (agent, p, method = 'GET', body = '') =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: p, method, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  for (const keepAlive of [true, false]) {
    const agent = new http.Agent({ keepAlive, maxSockets: 32 });
    const jobs = [];
    for (let i = 0; i < 1000; i++) jobs.push(get(agent, `/r/${i}`, i % 3 ? 'GET' : 'POST', i % 3 ? '' : 'x'.repeat(i % 97)));
    const res = await Promise.all(jobs);
    let ok = 0;
    res.forEach((r, i) => {
      if (r.status === 200 && r.body.toString() === `${i % 3 ? 'GET' : 'POST'} /r/${i} ${i % 3 ? 0 : i % 97}`) ok++;
    });
    const big = await get(agent, '/big');
    say('http keepAlive', keepAlive, 'ok', ok, 'of', res.length, 'big', big.body.length,
      crypto.createHash('sha256').update(big.body).digest('hex').slice(0, 16));
    agent.destroy();
  }
  await new Promise((r) => server.close(r));
  say('server served', served);
}

function eventLoopOrder() {
  return new Promise((resolve) => {
    const order = [];
    // Printed once all five happened, not after a timer: a loop that starts
    // late would run that timer before setImmediate's callback.
    const push = (what) => {
      order.push(what);
      if (order.length < 5) return;
      // timeout vs immediate order is not fixed at top level: sort those two
      const head = order.slice(0, 3).join(',');
      const rest = order.slice(3).sort().join(',');
      say('event loop', head, '|', rest);
      resolve();
    };
    setTimeout(() => push('timeout'), 0);
    setImmediate(() => push('immediate'));
    process.nextTick(() => push('nextTick'));
    Promise.resolve().then(() => push('microtask'));
    push('sync');
  });
}

async function files() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodecheck-'));
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}.txt`), `file ${i}\n`.repeat(i + 1));
  fs.renameSync(path.join(dir, 'f00.txt'), path.join(dir, 'renamed.txt'));
  fs.unlinkSync(path.join(dir, 'f01.txt'));
  const names = fs.readdirSync(dir).sort();
  let total = 0;
  for (const n of names) total += fs.statSync(path.join(dir, n)).size;
  say('files', names.length, names[0], names[names.length - 1], 'bytes', total);
  // streams: a gzip pipeline through files
  const src = path.join(dir, 'big.txt');
  fs.writeFileSync(src, Array.from({ length: 20000 }, (_, i) => `line ${i} ${'abc'.repeat(i % 17)}`).join('\n'));
  await new Promise((resolve, reject) =>
    fs.createReadStream(src).pipe(zlib.createGzip()).pipe(fs.createWriteStream(src + '.gz')).on('finish', resolve).on('error', reject));
  const back = zlib.gunzipSync(fs.readFileSync(src + '.gz'));
  say('gzip round trip', back.equals(fs.readFileSync(src)), 'lines', back.toString().split('\n').length);
  const fh = await fs.promises.open(path.join(dir, 'renamed.txt'), 'r+');
  await fh.write('FILE', 0);
  const { bytesRead, buffer } = await fh.read(Buffer.alloc(8), 0, 8, 0);
  await fh.close();
  say('filehandle', bytesRead, JSON.stringify(buffer.subarray(0, bytesRead).toString()));
  fs.rmSync(dir, { recursive: true });
  say('rm -r', fs.existsSync(dir));
}

function crypt() {
  const h = crypto.createHash('sha256').update('scone').digest('hex');
  const hm = crypto.createHmac('sha512', 'key').update('data').digest('base64').slice(0, 20);
  const key = crypto.scryptSync('password', 'salt', 32);
  const iv = Buffer.alloc(12, 1);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update('secret message'), c.final()]);
  const tag = c.getAuthTag();
  const d = crypto.createDecipheriv('aes-256-gcm', key, iv);
  d.setAuthTag(tag);
  const pt = Buffer.concat([d.update(ct), d.final()]).toString();
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const sig = crypto.sign(null, Buffer.from('msg'), privateKey);
  say('crypto', h.slice(0, 16), hm, ct.toString('hex').slice(0, 16), pt, crypto.verify(null, Buffer.from('msg'), publicKey, sig),
    crypto.randomBytes(16).length);
}

function children() {
  const r = cp.spawnSync('sh', ['-c', 'echo child stdout; echo child stderr >&2; exit 3']);
  say('spawnSync', r.status, JSON.stringify(r.stdout.toString()), JSON.stringify(r.stderr.toString()));
  say('execFileSync', cp.execFileSync('sh', ['-c', 'printf "%s" "$0-$1"', 'a', 'b']).toString());
  return new Promise((resolve) => {
    const c = cp.spawn('sh', ['-c', 'read x; echo "got $x"; exit 0'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (d) => (o += d));
    c.on('close', (code, sig) => {
      say('spawn pipe', code, String(sig), JSON.stringify(o));
      resolve();
    });
    c.stdin.end('hello\n');
  });
}

function workers() {
  const src = `
    const { parentPort, workerData } = require('worker_threads');
    let s = 0n;
    for (let i = 0n; i < BigInt(workerData.n); i++) s += i * i;
    const shared = new Int32Array(workerData.sab);
    Atomics.add(shared, 0, 1);
    parentPort.postMessage(s.toString());`;
  const sab = new SharedArrayBuffer(4);
  const jobs = [];
  for (let w = 0; w < 4; w++)
    jobs.push(new Promise((resolve, reject) => {
      const wk = new Worker(src, { eval: true, workerData: { n: 100000 + w, sab } });
      wk.on('message', resolve);
      wk.on('error', reject);
    }));
  return Promise.all(jobs).then((r) => say('workers', r.join(','), 'atomics', new Int32Array(sab)[0]));
}

function timers() {
  // Timers fire in the order of their expiry. Node reads the clock anew at
  // each setTimeout, so the gaps are far wider than a host's scheduling
  // stall between two calls (a 9 ms stall on a loaded CI machine once put
  // a 10 ms timer ahead of a 0 ms one).
  return new Promise((resolve) => {
    const fired = [];
    let n = 0;
    const done = () => {
      if (fired.length === 4 && n === 3) {
        say('timers', fired.join(','), 'interval', n);
        resolve();
      }
    };
    for (const ms of [300, 100, 200, 0]) {
      setTimeout(() => {
        fired.push(ms);
        done();
      }, ms);
    }
    const iv = setInterval(() => {
      if (++n === 3) {
        clearInterval(iv);
        done();
      }
    }, 5);
  });
}

(async () => {
  await eventLoopOrder();
  await httpLoad();
  await files();
  crypt();
  await children();
  await workers();
  await timers();
  say('node', process.versions.node.split('.')[0], 'done');
  console.log(out.join('\n'));
})().catch((e) => {
  console.error('FAILED', e);
  process.exit(1);
});
