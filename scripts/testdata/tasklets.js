// Tasklets and channels with Stackless semantics.
const order = [];
const t = odin.spawn(async (a, b) => { order.push("tasklet runs"); return a + b; }, 2, 3);
order.push("spawn returned");
console.log(typeof t.id, t.alive);
console.log(await t.join(), t.alive, order.join(" / "));

// Rendezvous: send blocks until a receiver takes the value.
const ch = odin.channel();
const events = [];
const sender = odin.spawn(async () => {
  for (let i = 0; i < 3; i++) { await ch.send({ i }); events.push("sent " + i); }
  await ch.close();
});
await odin.yield();
console.log("balance with a waiting sender:", await ch.balance());
for (;;) {
  const { value, done } = await ch.next();
  if (done) break;
  events.push("got " + value.i);
}
await sender.join();
console.log(events.join(", "));
try { await ch.receive(); } catch (e) { console.log("receive after close:", e.name); }
try { await ch.send(1); } catch (e) { console.log("send after close:", e.name); }
await ch.close(); console.log("closing twice is harmless");

// A receiver waiting: negative balance.
const ch2 = odin.channel();
const r = odin.spawn(async () => await ch2.receive());
await odin.yield(); await odin.yield();
console.log("balance with a waiting receiver:", await ch2.balance());
await ch2.send("hello");
console.log("received:", await r.join());

// Buffered channel: sends up to n ahead do not block.
const b = odin.channel({ buffer: 2 });
await b.send(1); await b.send(2);
console.log("buffered sends done, balance:", await b.balance());
await b.close();
console.log(await b.receive(), await b.receive(), (await b.next()).done);

// Values are copied, even between tasklets of one VM.
const c3 = odin.channel({ buffer: 1 });
const obj = { list: [1, 2] };
await c3.send(obj); obj.list.push(3);
console.log("copied:", await c3.receive());
try { await c3.send(() => 1); } catch (e) { console.log(e.name); }

// kill: the tasklet ends at its current await, finally blocks run, join rejects.
const ch4 = odin.channel();
const k = odin.spawn(async () => {
  try { await ch4.receive(); } finally { console.log("finally ran"); }
});
await odin.yield();
k.kill();
try { await k.join(); } catch (e) { console.log("join:", e.name, e instanceof odin.KilledError, k.alive); }

// Sleep and yield.
const t1 = Date.now();
await odin.sleep(50);
console.log("slept >= 50ms:", Date.now() - t1 >= 50);
const seq = [];
const y1 = odin.spawn(async () => { for (let i = 0; i < 3; i++) { seq.push("a" + i); await odin.yield(); } });
const y2 = odin.spawn(async () => { for (let i = 0; i < 3; i++) { seq.push("b" + i); await odin.yield(); } });
await y1.join(); await y2.join();
console.log(seq.join(" "));

// An error in a tasklet nobody joins is reported; the script goes on.
odin.spawn(async () => { throw new Error("lonely failure"); });
await odin.sleep(10);
console.log("still running");

// Producer/consumer between objects over a named channel.
class Worker {
  async run(n) {
    const jobs = odin.channel("jobs");
    let sum = 0;
    for (let i = 0; i < n; i++) sum += await jobs.receive();
    return sum;
  }
}
odin.define(Worker);
const jobs = odin.channel("jobs");
const consumer = odin.ref("Worker", "w1").run(5);
for (let i = 1; i <= 5; i++) await jobs.send(i * 10);
console.log("consumer sum:", await consumer);
