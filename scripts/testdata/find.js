// odin.find: secondary indexes, queries, paging and unique constraints.
// The second run (find.2.js) finds the same objects on the same data.
class Account {
  // A single index on owner, a compound one on city then age, and name.
  static indexes = ["owner", ["city", "age"], "name"];
  // No two accounts may have the same email (null and undefined never clash).
  static unique = ["email"];
  open({ id, ...fields }) { Object.assign(this, fields); return this.name; }
  move(city) { this.city = city; }
  setEmail(email) { this.email = email; return email; }
}
odin.define(Account);

const people = [
  { id: "a1", owner: "bob", city: "paris", age: 34, name: "alice", email: "alice@example.com" },
  { id: "a2", owner: "bob", city: "rome", age: 17, name: "alan", email: "alan@example.com" },
  { id: "a3", owner: "carol", city: "paris", age: 65, name: "bert", email: null },
  { id: "a4", owner: "dave", city: "paris", age: 18, name: "al" },
  { id: "a5", owner: "carol", city: "oslo", age: 41, name: "zoe", email: "zoe@example.com" },
  { id: "a6", owner: "erin", city: "paris", age: 64, name: "albert", email: null },
  { id: "a7", owner: "bob", city: "oslo", age: 29, name: "carl", email: "carl@example.com" },
];
for (const p of people) await odin.ref("Account", p.id).open(p);
const ids = (refs) => refs.map((r) => r.id).join(" ");

console.log("owner bob:        ", ids(await odin.find("Account", { owner: "bob" })));
console.log("18 <= age < 65 in paris:", ids(await odin.find(Account, { city: "paris", age: { gte: 18, lt: 65 } })));
console.log("paris, oldest first:", ids(await odin.find(Account, { city: "paris" }, { order: "-age" })));
console.log("paris, youngest 2:", ids(await odin.find(Account, { city: "paris" }, { order: "age", limit: 2 })));
console.log("names from al:    ", ids(await odin.find(Account, { name: { prefix: "al" } })));
console.log("names after b:    ", ids(await odin.find(Account, { name: { gt: "b" } }, { order: "-name" })));
console.log("every account:    ", ids(await odin.find(Account, {})));

// select: each object's committed state along with its ref.
for (const { ref, state } of await odin.find(Account, { owner: "carol" }, { select: true })) {
  console.log(String(ref), state);
}

// Paging: pass the last ref of a page as after.
let after;
const pages = [];
for (;;) {
  const page = await odin.find(Account, {}, { order: "name", limit: 3, after });
  pages.push(ids(page));
  if (page.length < 3) break;
  after = page[page.length - 1];
}
console.log("pages by name:", pages);

// An object that changes an indexed field moves in the index at its commit.
await odin.ref("Account", "a1").move("rome");
console.log("rome after a1 moved:", ids(await odin.find(Account, { city: "rome" })));
console.log("paris after a1 moved:", ids(await odin.find(Account, { city: "paris" })));

// Unique: the turn that would take a value another object holds fails.
try {
  await odin.ref("Account", "a8").setEmail("alice@example.com");
} catch (e) {
  console.log(e.name, e.rule, e.field, "|", e.message);
}
console.log("a8 is not stored:", (await odin.find(Account, {})).length, "accounts");
await odin.ref("Account", "a1").setEmail("alice@work.example");
console.log("free again:", await odin.ref("Account", "a8").setEmail("alice@example.com"));
await odin.ref("Account", "a9").setEmail(null); // nulls never clash (a3 and a6 hold null too)

// Mistakes are errors that say what to do.
const attempts = [
  () => odin.find(Account, { age: 30 }),
  () => odin.find(Account, { owner: "bob" }, { order: "name" }),
  () => odin.find(Account, { owner: { is: "bob" } }),
  () => odin.find(Account, { owner: ["bob"] }),
  () => odin.find(Account, { owner: "bob" }, { limt: 3 }),
  () => odin.find(Account, { owner: "bob" }, { limit: 0 }),
  () => odin.find(Account, { owner: "bob" }, { after: odin.ref("Other", "x") }),
  () => odin.find("Nothing", {}),
];
for (const f of attempts) {
  try {
    await f();
    console.log("no error");
  } catch (e) {
    console.log(`${e.name}: ${e.message}`);
  }
}
