// Setup of the index crash test (scripts/index_crash_test.go): N items,
// stored before any kill.
//
//   odin run --data DIR setup.js N
class Item {
  static indexes = ["bucket", ["color", "n"]];
  static unique = ["slot", "tag"];
  apply(ch) {
    for (const k of Object.keys(ch)) {
      if (ch[k] === "-") delete this[k];
      else this[k] = ch[k];
    }
    this.n = (this.n || 0) + 1;
    return this.n;
  }
}
odin.define(Item);
const N = Number(odin.args[0]);
const colors = ["red", "green", "blue", "cyan", "plum"];
for (let i = 0; i < N; i += 500) {
  const ps = [];
  for (let j = i; j < i + 500 && j < N; j++) {
    ps.push(odin.ref("Item", "i" + String(j).padStart(5, "0")).apply({ bucket: j % 10, color: colors[j % 5] }));
  }
  await Promise.all(ps);
}
console.log("setup", (await odin.objects(Item, { limit: 10000 })).length);
