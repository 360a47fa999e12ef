// Structured clone of arguments and results: every type js-api.md lists.
class Echo {
  echo(v) { return v; }
  check(v) {
    return {
      cycle: v.self === v,
      shared: v.pair[0] === v.pair[1],
      mapKey: [...v.map.keys()][0] === v.pair[0],
    };
  }
  keep(v) { this.v = v; }
  kept() { return this.v; }
}
odin.define(Echo);
const e = odin.ref("Echo", "e");
const values = [
  undefined, null, true, 0, -0, 42, 3.5, NaN, Infinity, -Infinity, 2n ** 100n, -7n,
  "", "héllo ✓ 🎉", "lone \ud800 surrogate", "\udc00",
  [1, , 3], { a: 1, b: { c: [2] } }, new Date(86400000), new Date(NaN),
  new Map([[1, "one"], ["k", { v: 2 }]]), new Set([1, "x", 1]), /ab+c/gi,
  new Uint8Array([1, 2, 3]), new Float64Array([1.5, -0]), new Int32Array([-1]).buffer,
  new RangeError("out"), odin.ref("Echo", "other"),
];
for (const v of values) {
  const back = await e.echo(v);
  console.log(Object.is(back, v) ? "same" : "copy", back);
}
console.log(Object.is(await e.echo(-0), -0), Number.isNaN(await e.echo(NaN)));
console.log(await e.echo("lone \ud800 surrogate") === "lone \ud800 surrogate");
const o = { name: "o" }; o.self = o;
const shared = { s: 1 };
o.pair = [shared, shared];
o.map = new Map([[shared, 1]]);
console.log(await e.check(o));
const back = await e.echo(o);
console.log(back.self === back, back.pair[0] === back.pair[1]);
// Stored state round-trips through the store too.
await e.keep({ when: new Date(0), big: 10n, set: new Set(["a"]), ref: odin.ref("Echo", "x") });
console.log(await e.kept());
class Box { constructor() { this.x = 1; } hello() { return "hi"; } }
console.log("class instance becomes plain:", await e.echo(new Box()));
for (const bad of [() => 1, Symbol("s"), { f() {} }, new Map([["k", () => 2]]), new WeakMap(), Promise.resolve(1)]) {
  try { await e.echo(bad); console.log("no error?"); }
  catch (err) { console.log(err.name, err instanceof odin.DataCloneError, "|", err.message); }
}
class Leaky { leak() { this.fn = () => 1; } ok() { return "ok"; } }
odin.define(Leaky);
try { await odin.ref("Leaky", "l").leak(); } catch (err) { console.log(err.name, "|", err.message); }
console.log(await odin.ref("Leaky", "l").ok());
class Gives { give() { return () => 1; } }
odin.define(Gives);
try { await odin.ref("Gives", "g").give(); } catch (err) { console.log(err.name, "|", err.message); }
