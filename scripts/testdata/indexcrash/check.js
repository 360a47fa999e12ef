// The last run of the index crash test, after the last kill: waits for the
// builds the kills interrupted, then checks every index through odin.find
// against the states of all items (read in id order, which needs no index)
// and prints one JSON line: the problems found, and counts.
//
//   odin run --data DIR check.js
const states = new Map();
let after;
for (;;) {
  const page = await odin.find("Item", {}, { select: true, limit: 1000, after });
  for (const { ref, state } of page) states.set(ref.id, state);
  if (page.length < 1000) break;
  after = page[page.length - 1].ref;
}
async function find(conds, opts) {
  for (;;) {
    try {
      return await odin.find("Item", conds, { limit: 10000, ...opts });
    } catch (e) {
      if (!(e instanceof odin.UnavailableError) || !/being built/.test(e.message)) throw e;
      await odin.sleep(20);
    }
  }
}
const problems = [];
const same = (what, got, want) => {
  const g = got.join(), w = want.join();
  if (g !== w) problems.push(`${what}: found ${got.length} [${got.slice(0, 5)}...], want ${want.length} [${want.slice(0, 5)}...]`);
};
const ids = (refs) => refs.map((r) => r.id);
const holding = (f) => [...states].filter(([, s]) => f(s)).map(([id]) => id).sort();
const isNum = (v) => typeof v === "number";
for (let b = 0; b < 10; b++) {
  same(`bucket ${b}`, ids(await find({ bucket: b })), holding((s) => s.bucket === b));
}
for (const color of ["red", "green", "blue", "cyan", "plum"]) {
  const byN = holding((s) => s.color === color && isNum(s.n))
    .sort((x, y) => states.get(x).n - states.get(y).n || (x < y ? -1 : 1));
  same(`color ${color} by n`, ids(await find({ color }, { order: "n" })), byN);
}
const slots = holding((s) => isNum(s.slot));
same("slot >= 0", ids(await find({ slot: { gte: 0 } }, { order: "slot" })),
  slots.sort((x, y) => states.get(x).slot - states.get(y).slot));
const values = slots.map((id) => states.get(id).slot);
if (new Set(values).size !== values.length) problems.push("two items hold the same slot");
const tags = holding((s) => typeof s.tag === "string").map((id) => states.get(id).tag);
if (new Set(tags).size !== tags.length) problems.push("two items hold the same tag");
console.log(JSON.stringify({ problems, items: states.size, slots: values.length, tags: tags.length }));
