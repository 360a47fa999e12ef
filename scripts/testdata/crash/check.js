// The last run of the crash test (scripts/crash_test.go), after the last
// kill, on the same data directory (the classes are stored: no define). It
// waits until the tasklets have finished and every acknowledged value has
// been received, then prints the objects' states, replay-log lengths and
// suspended tasklets as one JSON line.
//
//   odin run --data DIR check.js ACKED TIMEOUT_MS
//
// ACKED lists the acknowledged values as ranges "a-b,c-d". Polling uses
// odin.inspect, which is not an event of the object: a call such as get()
// would add an event to the replay log of each consumer (whose tasklet is
// suspended) and so hide whether odin.checkpoint() keeps the log short.
const CONSUMERS = ["c0", "c1", "c2"];
const acked = [];
for (const r of (odin.args[0] || "").split(",").filter(Boolean)) {
  const [a, b] = r.split("-").map(Number);
  for (let i = a; i <= b; i++) acked.push(i);
}
const refs = {
  ...Object.fromEntries(CONSUMERS.map((id) => [id, odin.ref("Consumer", id)])),
  timer: odin.ref("Timer", "t"), napper: odin.ref("Napper", "z"),
  pinger: odin.ref("Pinger", "p"), counter: odin.ref("Counter", "c"),
  relay: odin.ref("Relay", "r0"), ledger: odin.ref("Ledger", "l"),
};
const deadline = Date.now() + Number(odin.args[1] || 20000);
let s;
for (;;) {
  s = { state: {}, log: {}, tasklets: {} };
  for (const [k, r] of Object.entries(refs)) {
    const info = await odin.inspect(r);
    if (info?.id !== r.id || !info?.tasklets) {
      throw new Error(`odin.inspect(${r}) resolved with ${JSON.stringify(info)}: the reply to another call (of a killed process?)`);
    }
    s.state[k] = info.state;
    s.log[k] = info.log;
    s.tasklets[k] = info.tasklets.length;
  }
  const seen = new Set(CONSUMERS.flatMap((id) => s.state[id].seen || []));
  s.missing = acked.filter((v) => !seen.has(v)).length;
  s.complete = s.state.timer.done === true && s.state.pinger.done === true &&
    s.state.napper.woke.length === s.state.napper.calls.length && s.missing === 0;
  if (s.complete || Date.now() > deadline) break;
  await odin.sleep(50);
}
console.log(JSON.stringify(s));
