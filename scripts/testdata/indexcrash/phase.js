// One phase of the index crash test (scripts/index_crash_test.go): the
// harness runs it again and again on the same data directory and SIGKILLs
// it at a random moment.
//
//   odin run --data DIR phase.js N VARIANT
//
// VARIANT "a" defines Item with its indexes and unique constraints;
// "b" adds the compound index [bucket, n], which the items already stored
// are added to in the background (so kills land during builds, and the
// next run resumes them or, after an "a" run, drops the index). Then 16
// loops update random items' indexed fields (bucket, color, n), unique
// ones (slot, tag: values taken by another item are a ConstraintError) and
// sometimes delete them, while another loop checks that every find with
// select returns states that match its condition.
if (odin.args[1] === "b") {
  class Item {
    static indexes = ["bucket", ["color", "n"], ["bucket", "n"]];
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
} else {
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
}
console.log("ready");
const N = Number(odin.args[0]);
const colors = ["red", "green", "blue", "cyan", "plum"];
const rnd = (n) => Math.floor(Math.random() * n);

async function update() {
  for (;;) {
    const ch = { bucket: rnd(10), color: colors[rnd(5)] };
    const r = Math.random();
    if (r < 0.3) ch.slot = rnd(3 * N);
    else if (r < 0.35) ch.slot = null;
    else if (r < 0.4) ch.slot = "-";
    if (Math.random() < 0.2) ch.tag = "t" + rnd(N);
    if (Math.random() < 0.03) ch.bucket = "-";
    if (Math.random() < 0.02) ch.color = { not: "indexable" };
    try {
      await odin.ref("Item", "i" + String(rnd(N)).padStart(5, "0")).apply(ch);
    } catch (e) {
      if (!(e instanceof odin.ConstraintError && e.rule === "unique")) console.log("error", e.name, e.message);
    }
  }
}

async function check() {
  for (;;) {
    const bucket = rnd(10);
    try {
      for (const { ref, state } of await odin.find("Item", { bucket }, { select: true, limit: 10000 })) {
        if (state.bucket !== bucket) console.log("wrong", String(ref), "found in bucket", bucket, "holds", JSON.stringify(state));
      }
    } catch (e) {
      console.log("error", e.name, e.message);
    }
  }
}

await Promise.all([...Array.from({ length: 16 }, update), check()]);
