// pipeline.js: a Stackless-style producer/consumer pipeline with tasklets and
// channels.
//
//   odin run --memory scripts/pipeline.js
//
//   producer --jobs--> worker 1 ┐
//                      worker 2 ├--results--> collector
//                      worker 3 ┘
//        (every worker also adds its counts to the shared Stats object)
//
// What it shows:
//   - odin.spawn starts a tasklet (a lightweight thread); t.join() waits for
//     its result;
//   - channels: send/receive, a buffer, balance(), close(), and the two ways a
//     receiver learns that a channel is finished: next().done, or
//     odin.ChannelClosedError from receive();
//   - many tasklets calling one database object: its turns never overlap, so
//     no update is lost.

// The shared object every worker reports to.
class Stats {
  lines = 0;
  words = {};                 // word -> count

  reset() { this.lines = 0; this.words = {}; }
  add(counts) {               // one atomic turn: no other call sees it half-done
    this.lines += 1;
    for (const [w, n] of Object.entries(counts)) this.words[w] = (this.words[w] ?? 0) + n;
    return this.lines;
  }
  top(n) {                    // most frequent first, ties alphabetical
    return Object.entries(this.words)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n);
  }
  total() { return { lines: this.lines, words: Object.values(this.words).reduce((s, n) => s + n, 0) }; }
}
odin.define(Stats);

const text = [
  "the tasklet sends a job on the channel",
  "a worker receives the job and counts the words",
  "the channel blocks the sender until a receiver comes",
  "a buffer lets the sender run ahead of the workers",
  "the workers send their results on a second channel",
  "the collector gathers the results in any order",
  "closing the channel tells the workers to stop",
  "every worker calls the stats object",
  "the object runs one turn at a time",
  "so no count is lost and no count is doubled",
  "the collector sorts the results before printing",
  "and the story ends the same way every time",
];

const stats = odin.ref("Stats", "pipeline");
await stats.reset();

const jobs = odin.channel({ buffer: 4 });     // up to 4 jobs can wait in the channel
const results = odin.channel({ buffer: 4 });

// The producer: sends every line, then closes the channel. Sends 1-4 fill the
// buffer and return at once; send 5 blocks until a worker takes a job.
const producer = odin.spawn(async () => {
  for (let i = 0; i < text.length; i++) await jobs.send({ line: i + 1, text: text[i] });
  await jobs.close();   // buffered jobs can still be received; then the workers see the end
  return text.length;
});

// No worker exists yet: the producer fills the buffer, then blocks on its
// fifth send. balance() > 0 means a sender is waiting (< 0: receivers waiting).
while (await jobs.balance() === 0) await odin.yield();   // let the producer run
console.log("Before the workers start, the producer has filled the buffer and waits.");
console.log("  jobs.balance() =", await jobs.balance(), "(> 0: a sender is waiting)");

function countWords(s) {
  const counts = {};
  for (const w of s.split(/\s+/)) counts[w] = (counts[w] ?? 0) + 1;
  return counts;
}

// A worker written with next(): the loop ends when the channel is closed and drained.
async function worker(name) {
  let handled = 0;
  for (;;) {
    const { value: job, done } = await jobs.next();
    if (done) break;
    const counts = countWords(job.text);
    await stats.add(counts);                               // a call to a database object
    await odin.sleep(job.line % 3);                        // pretend some work takes longer
    await results.send({ line: job.line, words: Object.values(counts).reduce((a, b) => a + b, 0), by: name });
    handled++;
  }
  return handled;
}

// The same worker written with receive(): a closed, empty channel throws.
async function workerReceive(name) {
  let handled = 0;
  for (;;) {
    let job;
    try {
      job = await jobs.receive();
    } catch (e) {
      if (e instanceof odin.ChannelClosedError) break;   // the normal way out
      throw e;
    }
    const counts = countWords(job.text);
    await stats.add(counts);
    await odin.sleep(job.line % 3);
    await results.send({ line: job.line, words: Object.values(counts).reduce((a, b) => a + b, 0), by: name });
    handled++;
  }
  return handled;
}

// The collector: everything that arrives, until the results channel is closed.
const collector = odin.spawn(async () => {
  const got = [];
  for (;;) {
    const { value, done } = await results.next();
    if (done) return got;
    got.push(value);
  }
});

const workers = [
  odin.spawn(worker, "w1"),
  odin.spawn(worker, "w2"),
  odin.spawn(workerReceive, "w3"),
];
console.log(`Started ${workers.length} workers and a collector.`);

// When every worker has finished, nothing more will be sent: close results.
const handled = await Promise.all(workers.map((t) => t.join()));
await results.close();
const sent = await producer.join();
const got = await collector.join();

console.log(`The producer sent ${sent} jobs; the workers handled ${handled.reduce((a, b) => a + b, 0)} between them.`);
console.log(`All tasklets finished: ${[producer, collector, ...workers].every((t) => !t.alive)}`);
console.log(`jobs.balance() = ${await jobs.balance()} (idle)`);

// Results arrive in whatever order the workers finish: sort before printing.
got.sort((a, b) => a.line - b.line);
console.log(`\nThe collector got ${got.length} results:`);
for (const r of got) console.log(`  line ${String(r.line).padStart(2)}: ${r.words} words`);
const total = got.reduce((s, r) => s + r.words, 0);
console.log(`Words counted by the workers: ${total}`);

const t = await stats.total();
console.log(`\nThe Stats object saw ${t.lines} lines and ${t.words} words (the same: ${t.words === total}).`);
console.log("Most frequent words:", (await stats.top(5)).map(([w, n]) => `${w}=${n}`).join(" "));
