package bench

// classesJS defines the objects the scenarios call. touch() makes an object
// exist in the store, so that measured calls reach stored, active objects
// rather than virtual ones.
const classesJS = `
class BenchTarget {
  v = 1;
  get() { return this.v; }
  touch() { this.t = (this.t || 0) + 1; }
}
class BenchCaller {
  // Date.now() is frozen within a turn and advances between turns: each
  // await of a call resumes in a new turn.
  async loopFor(bid, ms) {
    const b = odin.ref("BenchTarget", bid);
    const end = Date.now() + ms;
    let n = 0;
    while (Date.now() < end) { await b.get(); n++; }
    return n;
  }
  async loopN(bid, count) {
    const b = odin.ref("BenchTarget", bid);
    for (let i = 0; i < count; i++) await b.get();
    return count;
  }
  touch() { this.t = (this.t || 0) + 1; }
}
class BenchSpin {
  work(k) { let x = 0; for (let i = 0; i < k; i++) x = (x + i * i) % 1000003; return x; }
  touch() { this.t = (this.t || 0) + 1; }
}
class BenchCounter {
  count = 0;
  inc() { return ++this.count; }
}
// BenchMover is the object the migrate scenario moves: 10 suspended
// tasklets (pace and 9 wait) and a log of replayed events. wait is blocked
// at its first await since it started, which replay reproduces by running
// the method again; pace has been resumed past its checkpoint and past a
// yield, and waits in receive(): two events past its checkpoint, which a
// restart from the method does not reproduce, so the log cannot be cut
// (see scripting/log.go restartPoint) and every call the object takes is
// logged until a value sent to pace brings it back to its checkpoint,
// where the log is cut.
class BenchMover {
  n = 0; got = 0;
  start(prefix, waiters) {
    odin.spawn(this.pace, odin.channel(prefix + "p"));
    for (let i = 0; i < waiters; i++) odin.spawn(this.wait, odin.channel(prefix + i));
  }
  async pace(ch) { for (;;) { await odin.checkpoint(); await odin.yield(); await ch.receive(); } }
  async wait(ch) { const v = await ch.receive(); this.got += v; }
  inc() { return ++this.n; }
}
odin.define(BenchTarget);
odin.define(BenchCaller);
odin.define(BenchSpin);
odin.define(BenchCounter);
odin.define(BenchMover);
`

// spinJS is BenchSpin.work as a plain function, to calibrate its cost on a
// bare goja VM.
const spinJS = `(function work(k) { let x = 0; for (let i = 0; i < k; i++) x = (x + i * i) % 1000003; return x; })`

// touchJS makes the objects named by args (Class/id) exist.
const touchJS = `
for (const s of odin.args) {
  const i = s.indexOf("/");
  await odin.ref(s.slice(0, i), s.slice(i + 1)).touch();
}
`

// callForJS: args aid, bid, ms. A calls b.get() in a loop for ms.
const callForJS = `
const [aid, bid, ms] = odin.args;
const t0 = Date.now();
const n = await odin.ref("BenchCaller", aid).loopFor(bid, Number(ms));
return [n, Date.now() - t0];
`

// callNJS: args aid, bid, count.
const callNJS = `
const [aid, bid, count] = odin.args;
const t0 = Date.now();
const n = await odin.ref("BenchCaller", aid).loopN(bid, Number(count));
return [n, Date.now() - t0];
`

// spinJS: args k, ms, ids...: one tasklet per object, each calling work(k)
// on its object until ms have passed.
const spinForJS = `
const k = Number(odin.args[0]), ms = Number(odin.args[1]);
const refs = odin.args.slice(2).map(id => odin.ref("BenchSpin", id));
let n = 0;
const t0 = Date.now(), end = t0 + ms;
const ts = refs.map(r => odin.spawn(async () => {
  while (Date.now() < end) { await r.work(k); n++; }
}));
for (const t of ts) await t.join();
return [n, Date.now() - t0];
`

// commitForJS: args prefix, callers, ms. One tasklet per caller, each
// incrementing its own counter until ms have passed; the third element is a
// histogram of call latencies in whole milliseconds (Date.now resolution).
const commitForJS = `
const prefix = odin.args[0], callers = Number(odin.args[1]), ms = Number(odin.args[2]);
const hist = [];
let n = 0;
const t0 = Date.now(), end = t0 + ms;
const ts = [];
for (let i = 0; i < callers; i++) {
  const c = odin.ref("BenchCounter", prefix + i);
  ts.push(odin.spawn(async () => {
    for (;;) {
      const s = Date.now();
      if (s >= end) break;
      await c.inc();
      const d = Date.now() - s;
      hist[d] = (hist[d] || 0) + 1;
      n++;
    }
  }));
}
for (const t of ts) await t.join();
return [n, Date.now() - t0, Array.from(hist, x => x || 0)];
`

// commitNJS: args prefix, callers, count (split among the callers).
const commitNJS = `
const prefix = odin.args[0], callers = Number(odin.args[1]), count = Number(odin.args[2]);
const t0 = Date.now();
const ts = [];
for (let i = 0; i < callers; i++) {
  const c = odin.ref("BenchCounter", prefix + i);
  const mine = Math.floor(count / callers) + (i < count % callers ? 1 : 0);
  ts.push(odin.spawn(async () => { for (let j = 0; j < mine; j++) await c.inc(); }));
}
for (const t of ts) await t.join();
return [count, Date.now() - t0];
`

// channelForJS: args ms. Two tasklets ping-pong over two channels; returns
// the number of switches (values passed from one tasklet to the other).
const channelForJS = `
const ms = Number(odin.args[0]);
const ping = odin.channel(), pong = odin.channel();
const t0 = Date.now(), end = t0 + ms;
let rounds = 0;
const b = odin.spawn(async () => {
  for (;;) { const v = await ping.receive(); if (v < 0) return; await pong.send(v); }
});
const a = odin.spawn(async () => {
  let i = 0;
  while (Date.now() < end) {
    for (let j = 0; j < 16; j++, i++) { await ping.send(i); await pong.receive(); }
  }
  rounds = i;
  await ping.send(-1);
});
await a.join(); await b.join();
return [2 * rounds, Date.now() - t0];
`

// channelNJS: args switches (rounded up to an even number).
const channelNJS = `
const rounds = Math.ceil(Number(odin.args[0]) / 2);
const ping = odin.channel(), pong = odin.channel();
const t0 = Date.now();
const b = odin.spawn(async () => {
  for (let i = 0; i < rounds; i++) { const v = await ping.receive(); await pong.send(v); }
});
const a = odin.spawn(async () => {
  for (let i = 0; i < rounds; i++) { await ping.send(i); await pong.receive(); }
});
await a.join(); await b.join();
return [2 * rounds, Date.now() - t0];
`

// The migrate scripts. Each takes the mover's id first; a mover's channels
// are named after its prefix (moverPrefix).

// migStartJS: args id, prefix, waiters. Starts the tasklets and waits until
// pace is past its checkpoint (the log is pinned: at least one event).
const migStartJS = `
const [id, prefix, waiters] = odin.args;
const h = odin.ref("BenchMover", id);
await h.start(prefix, Number(waiters));
for (let i = 0; ; i++) {
  const x = await odin.inspect(h);
  if (x.log >= 1 && x.tasklets.length === Number(waiters) + 1) return [x.log, x.tasklets.length];
  if (i >= 1000) throw new Error("the mover did not settle: " + JSON.stringify(x));
  await odin.sleep(1);
}
`

// migFillJS: args id, prefix, events, reset. With reset "1", first sends a
// value to pace, which cuts the log at its checkpoint; then calls inc()
// until the log holds at least events events. Returns [log, calls made].
const migFillJS = `
const [id, prefix, events, reset] = odin.args;
const h = odin.ref("BenchMover", id);
let log = (await odin.inspect(h)).log;
if (reset === "1") {
  const before = log;
  await odin.channel(prefix + "p").send(1);
  for (let i = 0; ; i++) {
    log = (await odin.inspect(h)).log;
    if (log < before) break;
    if (i >= 100000) throw new Error("the log was not cut: " + log + " events");
  }
}
// The calls go in batches that share their commits (fsync is on).
let calls = 0;
while (log < Number(events)) {
  const k = Math.min(32, Number(events) - log);
  const ps = [];
  for (let i = 0; i < k; i++) ps.push(h.inc());
  await Promise.all(ps);
  calls += k;
  log = (await odin.inspect(h)).log;
}
return [log, calls];
`

// migProbeJS: args id. Its inspection reaches the object where it is now,
// and so waits for its activation there by replay; it adds no event.
const migProbeJS = `
const x = await odin.inspect(odin.ref("BenchMover", odin.args[0]));
return [x.vm, x.log, x.tasklets.length, x.broken || ""];
`

// migLoadJS: args id, callers, ms, think. callers tasklets each call inc()
// in a loop, sleeping think ms after each call, until ms have passed.
// Returns [returned, failed, out of order, first error]: one caller's
// results must increase.
const migLoadJS = `
const id = odin.args[0], callers = Number(odin.args[1]), ms = Number(odin.args[2]), think = Number(odin.args[3]);
const h = odin.ref("BenchMover", id);
let ok = 0, failed = 0, disorder = 0, firstErr = "";
const end = Date.now() + ms;
const ts = [];
for (let i = 0; i < callers; i++) ts.push(odin.spawn(async () => {
  let last = 0;
  while (Date.now() < end) {
    try { const v = await h.inc(); if (v <= last) disorder++; last = v; ok++; }
    catch (e) { failed++; if (!firstErr) firstErr = String(e); }
    if (think > 0) await odin.sleep(think);
  }
}));
for (const t of ts) await t.join();
return [ok, failed, disorder, firstErr];
`

// migFinalJS: args id, prefix, waiters. Wakes each wait tasklet with i+1
// and waits for got to reach their sum. Returns [n, got, tasklets left].
const migFinalJS = `
const [id, prefix, waiters] = [odin.args[0], odin.args[1], Number(odin.args[2])];
const h = odin.ref("BenchMover", id);
for (let i = 0; i < waiters; i++) await odin.channel(prefix + i).send(i + 1);
const want = waiters * (waiters + 1) / 2;
for (let i = 0; ; i++) {
  const x = await odin.inspect(h);
  if (x.state.got === want || i >= 2000) return [x.state.n, x.state.got, x.tasklets.filter(t => t.alive).length];
  await odin.sleep(1);
}
`
