// One phase of the crash test (scripts/crash_test.go): the harness runs it
// again and again on the same data directory and SIGKILLs it at a random
// moment. Defining the classes again is a no-op (same source), and every
// object starts its tasklet only once (the started flag is committed state).
//
//   odin run --data DIR phase.js NEXT TICKS MS PINGS ROUND
//
// The script itself is the producer: it sends NEXT, NEXT+1, ... on the named
// channel "jobs", printing "attempt i" before each send and "sent i" once the
// send has returned (the acknowledgment the harness checks against). It also
// passes values through Relay objects to Ledger ("pass i", then "passed i r"
// with r what the call returned: i itself if all is well).

// Three consumers each run one receive-loop tasklet on the named channel "jobs".
class Consumer {
  seen = []; sum = 0; started = false;
  start() {
    if (this.started) return false;
    this.started = true;
    odin.spawn(this.loop, odin.channel("jobs"));
    return true;
  }
  async loop(ch) {
    for (;;) {
      await odin.checkpoint();
      const v = await ch.receive();
      this.seen.push(v);
      this.sum += v;
    }
  }
  get() { return { seen: this.seen, sum: this.sum, started: this.started }; }
}
odin.define(Consumer);

// A timer tasklet with no checkpoint (its whole history is replayed): n ticks
// of odin.sleep(ms), and every tenth tick a call to a method that itself
// suspends in odin.sleep, so kills land in sleeps on both sides of a call.
class Timer {
  ticks = 0; naps = []; done = false; result = null; started = false;
  start(n, ms) {
    if (this.started) return false;
    this.started = true;
    odin.spawn(this.run, n, ms);
    return true;
  }
  async run(n, ms) {
    let local = 0;                       // a local carried across awaits: replay must rebuild it
    for (let i = 1; i <= n; i++) {
      await odin.sleep(ms);
      this.ticks++;
      local += i;
      if (i % 10 === 0) this.naps.push(await odin.ref("Napper", "z").nap(i, 2 * ms));
    }
    this.done = true;
    this.result = local;
  }
  get() { return { ticks: this.ticks, naps: this.naps, done: this.done, result: this.result }; }
}
odin.define(Timer);

class Napper {
  calls = []; woke = [];
  async nap(i, ms) {
    this.calls.push(i);                  // a second run of the same call would show here
    await odin.sleep(ms);
    this.woke.push(i);
    return i * 100;
  }
  get() { return { calls: this.calls, woke: this.woke }; }
}
odin.define(Napper);

// A tasklet that makes n calls to another object, one at a time: exactly-once
// calls mean the counter ends at n and the replies are 1..n in order.
class Pinger {
  got = []; done = false; started = false;
  start(n) {
    if (this.started) return false;
    this.started = true;
    odin.spawn(this.loop, n);
    return true;
  }
  async loop(n) {
    for (;;) {
      await odin.checkpoint();
      if (this.got.length >= n) break;
      this.got.push(await odin.ref("Counter", "c").inc(this.got.length + 1));
      await odin.sleep(5);
    }
    this.done = true;
  }
  get() { return { got: this.got, done: this.done }; }
}
odin.define(Pinger);

class Counter {
  n = 0; bad = [];
  inc(expect) {
    this.n++;
    if (this.n !== expect) this.bad.push([expect, this.n]);   // a duplicate or lost call
    return this.n;
  }
  get() { return { n: this.n, bad: this.bad }; }
}
odin.define(Counter);

// A quiescent object (no tasklet) that passes calls on to another one: its
// call ids must not repeat those of an earlier process, or the callee's
// dedupe table answers a new call with an old result and the call never runs.
class Relay {
  async pass(v) { return await odin.ref("Ledger", "l").add(v); }
}
odin.define(Relay);

class Ledger {
  got = [];
  add(v) { this.got.push(v); return v; }
}
odin.define(Ledger);

const CONSUMERS = ["c0", "c1", "c2"];
const [next, ticks, ms, pings, round] = odin.args.map(Number);
const RELAYS = 10;
const relay = (k) => odin.ref("Relay", "r" + (k % RELAYS));
const pass = async (v, k) => {
  console.log("pass " + v);
  console.log("passed " + v + " " + (await relay(k).pass(v)));
};
// First of all, one call through each relay (ids -(100 round + k), apart
// from the values sent): the relays are activated afresh in every process.
for (let k = 0; k < RELAYS; k++) await pass(-(100 * round + k + 1), k);
for (const id of CONSUMERS) await odin.ref("Consumer", id).start();
await odin.ref("Timer", "t").start(ticks, ms);
await odin.ref("Pinger", "p").start(pings);
console.log("ready");

// Progress of the durable tasklets, so that the harness knows where each
// kill landed. odin.inspect is not an event of the object: it does not
// lengthen the objects' replay logs.
// A result that is not the inspected object's description (the reply to
// another call) is reported as "wrong ..." and fails the test.
const inspect = async (ref) => {
  const info = await odin.inspect(ref);
  if (info?.id === ref.id && info?.state) return info.state;
  console.log(`wrong odin.inspect(${ref}) resolved with ${JSON.stringify(info)}`);
  return null;
};
odin.spawn(async () => {
  for (;;) {
    const t = await inspect(odin.ref("Timer", "t"));
    const p = await inspect(odin.ref("Pinger", "p"));
    if (t && p) console.log(`progress ${t.ticks} ${t.done} ${p.got.length} ${p.done}`);
    await odin.sleep(20);
  }
});

const ch = odin.channel("jobs");
for (let i = next; ; i++) {
  console.log("attempt " + i);
  await ch.send(i);
  console.log("sent " + i);
  // A few calls per run, fewer than the callee's dedupe table holds.
  if (i % 10 === 0) await pass(i, i / 10);
}
