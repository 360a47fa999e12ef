// First run: create objects; the second run (persistence.2.js) sees them.
class Account {
  static schema = { owner: { type: "string", required: true } };
  balance = 0;
  history = [];
  open(owner) { this.owner = owner; return this; }
  deposit(n) { this.balance += n; this.history.push(["in", n, new Date(0)]); return this.balance; }
  state() { return { owner: this.owner, balance: this.balance, history: this.history }; }
}
odin.define(Account);
await odin.ref("Account", "alice").open("Alice");
await odin.ref("Account", "alice").deposit(10);
await odin.ref("Account", "bob").open("Bob");
// A read-only call on a new object leaves it virtual: it is not stored.
await odin.ref("Account", "ghost").state().catch(() => {});
console.log("defined and stored");
