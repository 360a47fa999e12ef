// Errors: remote errors keep name, message and where they were thrown.
class Thrower {
  boom() { throw new TypeError("bad thing"); }
  custom() { const e = new Error("with props"); e.name = "MyError"; e.code = 42; throw e; }
  value() { throw "a plain string"; }
  async later() { await odin.ref("Thrower", "other").boom(); }
  wait(ms) { return odin.sleep(ms); }
}
odin.define(Thrower);
const t = odin.ref("Thrower", "t");
try { await t.boom(); } catch (e) {
  console.log(e.name, e instanceof TypeError, e.message);
  console.log("stack names the object:", /Thrower\/t \(node local, vm \d+\)/.test(e.stack));
}
try { await t.custom(); } catch (e) { console.log(e.name, e.message, e.code); }
try { await t.value(); } catch (e) { console.log(typeof e, e); }
try { await t.later(); } catch (e) { console.log("propagated:", e.name, e.message, /Thrower\/other/.test(e.stack)); }
try { await odin.withTimeout(50, t).wait(2000); } catch (e) { console.log(e.name, e instanceof odin.TimeoutError); }
console.log(Object.keys(odin).filter(k => k.endsWith("Error")).join(" "));
for (const n of ["ConstraintError", "TimeoutError", "DataCloneError", "ChannelClosedError", "KilledError",
  "UnavailableError", "OverloadedError", "NotDefinedError", "NondeterminismError"]) {
  const e = new odin[n]("m");
  if (!(e instanceof Error) || e.name !== n) console.log("bad error class", n);
}
// Self-containment is checked at define time.
const helper = (x) => x * 2;
try {
  class Uses { m(x) { return helper(x) + missing; } }
  odin.define(Uses);
} catch (e) { console.log(e.name, "|", e.message); }
class Base { hello() { return "base " + this.who(); } who() { return "base"; } }
odin.define(Base);
class Derived extends Base { who() { return "derived"; } }
odin.define(Derived);
console.log(await odin.ref("Derived", "d").hello());
try { odin.define(() => 1); } catch (e) { console.log(e.name, "|", e.message); }
// Huge allocations are refused with a clear error.
class Hog { grow() { return "x".repeat(1e9).length; } }
odin.define(Hog);
try { await odin.ref("Hog", "h").grow(); } catch (e) { console.log(e.name, "|", e.message); }
throw new Error("uncaught at the end");
