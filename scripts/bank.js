// bank.js: accounts as database objects, with constraints, atomic turns and
// transfers between objects.
//
//   odin run --memory scripts/bank.js
//   odin run --data /tmp/bank scripts/bank.js     (run it again: the bank remembers)
//
// What it shows:
//   - `static schema`: constraints checked every time an object commits a change;
//   - one call = one atomic "turn": if it throws or breaks the schema, the
//     object's state goes back to what it was before the call;
//   - calls between objects (`transfer` calls `deposit` on another account);
//   - many calls in flight at once with Promise.all;
//   - queries: odin.objects lists the ids of a class; odin.inspect looks inside one.

class Account {
  // Checked at the end of every turn that changes the object. A turn that leaves
  // the state invalid fails with odin.ConstraintError and is rolled back.
  static schema = {
    owner:   { type: "string", required: true, maxLength: 64 },
    balance: { type: "number", min: 0, integer: true },
    history: { type: "array", maxItems: 20 },
  };

  balance = 0;       // field initialisers run once, when the object is created
  history = [];      // the last few movements, newest last

  // Opening is idempotent: the second run of this script finds the account open.
  open(owner) {
    if (this.owner !== undefined) return false;
    this.owner = owner;
    return true;
  }

  deposit(n) {
    this.balance += n;
    this._remember("+", n);
    return this.balance;
  }

  withdraw(n) {
    this.balance -= n;           // may go below 0 here: the schema refuses it at commit
    this._remember("-", n);
    return this.balance;
  }

  // A transfer is two turns on two objects. This turn withdraws and sends the
  // deposit call; the withdrawal is committed before the call leaves (the
  // "output gate"), so if the withdrawal is refused the deposit is never sent.
  async transfer(toId, n) {
    this.withdraw(n);
    await odin.ref("Account", toId).deposit(n);   // calls between objects are async
    return this.balance;
  }

  summary() { return { owner: this.owner, balance: this.balance }; }

  // Names starting with "_" are private: not callable through a Ref.
  _remember(sign, n) {
    this.history.push(sign + n);
    if (this.history.length > 20) this.history.shift();
  }
}
odin.define(Account);

const ids = ["alice", "bob", "carol", "dave"];
const acct = (id) => odin.ref("Account", id);

async function balances() {
  const parts = [];
  let total = 0;
  for (const id of ids) {
    const { balance } = await acct(id).summary();
    parts.push(`${id} ${balance}`);
    total += balance;
  }
  return { line: parts.join(", "), total };
}

// 1. Open the accounts, or find them from an earlier run on the same --data dir.
const existing = await odin.objects("Account");
if (existing.length === 0) {
  console.log("A new bank: opening 4 accounts.");
  const opening = { alice: 100, bob: 50, carol: 0, dave: 25 };
  for (const id of ids) {
    await acct(id).open(id[0].toUpperCase() + id.slice(1));
    if (opening[id] > 0) await acct(id).deposit(opening[id]);
  }
} else {
  console.log(`Found ${existing.length} accounts from an earlier run: ${existing.map(String).join(" ")}`);
}
let b = await balances();
console.log(`Balances: ${b.line} (total ${b.total})`);

// 2. Ordinary business. Every account ends this part with at least as much as
// it started with, so the script can run again and again on the same data.
console.log("\nPayday, some spending and two transfers:");
const pay = { alice: 50, bob: 40, carol: 30, dave: 20 };
for (const id of ids) await acct(id).deposit(pay[id]);
console.log("  alice withdraws 20 in cash, balance now", await acct("alice").withdraw(20));
console.log("  dave withdraws 5 in cash, balance now", await acct("dave").withdraw(5));
console.log("  alice sends 25 to bob, alice now has", await acct("alice").transfer("bob", 25));
console.log("  bob sends 10 to carol, bob now has", await acct("bob").transfer("carol", 10));
b = await balances();
console.log(`Balances: ${b.line} (total ${b.total})`);

// 3. An overdraft: the withdrawal would leave a negative balance, which the
// schema forbids. The whole turn is rolled back: the balance and the history
// are as they were before the call.
console.log("\nbob tries to withdraw 1000000:");
try {
  await acct("bob").withdraw(1_000_000);
  console.log("  it went through?!");
} catch (e) {
  if (!(e instanceof odin.ConstraintError)) throw e;
  console.log(`  refused: ${e.name} on field "${e.field}", rule "${e.rule}"`);
}
console.log("carol tries to deposit 0.5 (balances are whole numbers):");
try {
  await acct("carol").deposit(0.5);
  console.log("  it went through?!");
} catch (e) {
  if (!(e instanceof odin.ConstraintError)) throw e;
  console.log(`  refused: ${e.name} on field "${e.field}", rule "${e.rule}"`);
}
const after = await balances();
console.log(`Nothing moved: ${after.line} (total ${after.total})`);
console.log("rolled back:", after.line === b.line ? "yes" : "NO");

// 4. Many transfers at once. Each account sends 1+2+3+4+5 to the next one and
// 1+2+3 to the one after it, all 32 transfers in flight together. Turns of one
// object never overlap, so no deposit or withdrawal is lost: the total money
// is the same afterwards (and here, every balance too).
console.log("\n32 concurrent transfers around the ring alice -> bob -> carol -> dave -> alice:");
const before = b.total;
const transfers = [];
ids.forEach((from, i) => {
  for (const n of [1, 2, 3, 4, 5]) transfers.push(acct(from).transfer(ids[(i + 1) % 4], n));
  for (const n of [1, 2, 3]) transfers.push(acct(from).transfer(ids[(i + 2) % 4], n));
});
await Promise.all(transfers);
b = await balances();
console.log(`  ${transfers.length} transfers done. Balances: ${b.line}`);
console.log(`  total before ${before}, total after ${b.total}: money conserved: ${before === b.total ? "yes" : "NO"}`);

// 5. Queries: list all accounts (ids, in order), and look inside one.
console.log("\nAccounts in the database:", (await odin.objects("Account")).map(String).join(", "));
const info = await odin.inspect(acct("alice"));
console.log(`inspect ${info.class}/${info.id}: version ${info.version}, on node ${info.node}`);
console.log("  state:", { owner: info.state.owner, balance: info.state.balance });
console.log(`  ${info.state.history.length} movements in its history (the schema caps it at 20),`,
  `${info.tasklets.length} suspended tasklets`);
