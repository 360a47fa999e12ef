// Schema constraints are checked at commit; a failing turn is rolled back.
class Account {
  static schema = {
    owner:   { type: "string", required: true, maxLength: 8, pattern: "^[a-z]+$" },
    balance: { type: "number", min: 0, integer: true },
    kind:    { enum: ["basic", "gold"] },
    tags:    { type: "array", maxItems: 2, items: { type: "string" } },
    address: { type: "object", properties: { city: { type: "string", required: true } } },
  };
  balance = 0;
  open(owner) { this.owner = owner; }
  withdraw(n) { this.balance -= n; return this.balance; }
  deposit(n) { this.balance += n; return this.balance; }
  set(k, v) { this[k] = v; }
  get() { return { owner: this.owner, balance: this.balance, kind: this.kind, tags: this.tags }; }
}
odin.define(Account);
const a = odin.ref("Account", "a");
async function attempt(label, p) {
  try { console.log(label, "ok", await p); }
  catch (e) { console.log(label, e.name, e instanceof odin.ConstraintError, e.field, e.rule, "|", e.message); }
}
await attempt("deposit before open", a.deposit(1));
await attempt("open", a.open("alice"));
await attempt("deposit", a.deposit(10));
await attempt("overdraw", a.withdraw(11));
await attempt("fraction", a.deposit(0.5));
await attempt("owner too long", a.set("owner", "abcdefghij"));
await attempt("owner pattern", a.set("owner", "Bob"));
await attempt("enum", a.set("kind", "silver"));
await attempt("enum ok", a.set("kind", "gold"));
await attempt("tags type", a.set("tags", ["x", 1]));
await attempt("tags many", a.set("tags", ["x", "y", "z"]));
await attempt("address", a.set("address", { street: "x" }));
await attempt("delete required", a.set("owner", undefined));
await attempt("state", a.get());
try {
  class Bad { static schema = { x: { type: "strng" } }; }
  odin.define(Bad);
} catch (e) { console.log(e.name, e.message); }
try {
  class Bad2 { static schema = { x: { maxLenght: 3 } }; }
  odin.define(Bad2);
} catch (e) { console.log(e.name, e.message); }
