// First run: create objects; the second run (persistence.2.js) sees them.
class Account {
  static schema = { owner: { type: "string", required: true } };
  balance = 0;
  history = [];
  _scratch = "transient";      // not stored: rebuilt on activation
  #secret = "private";         // not stored either
  peek() { return [this._scratch, this.#secret]; }
  mess() { this._scratch = "changed"; this.#secret = "changed"; this.balance += 0; }
  open(owner) { this.owner = owner; return this; }
  deposit(n) { this.balance += n; this.history.push(["in", n, new Date(0)]); return this.balance; }
  state() { return { owner: this.owner, balance: this.balance, history: this.history }; }
}
odin.define(Account);
await odin.ref("Account", "alice").open("Alice");
await odin.ref("Account", "alice").deposit(10);
await odin.ref("Account", "alice").mess();
console.log("transient fields while active:", await odin.ref("Account", "alice").peek());
for (let i = 0; i < 5; i++) await odin.ref("Account", "p" + i).open("P" + i);
await odin.ref("Account", "bob").open("Bob");
// A read-only call on a new object leaves it virtual: it is not stored.
await odin.ref("Account", "ghost").state().catch(() => {});
console.log("defined and stored");
