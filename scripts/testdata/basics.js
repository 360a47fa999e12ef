// Classes, refs, calls, state across calls, odin.self, odin.args.
class Counter {
  count = 0;
  _cache = "transient";
  inc(n = 1) { this.count += n; return this.count; }
  get() { return this.count; }
  me() { return odin.self().toString(); }
  _secret() { return "hidden"; }
  onActivate() { this._activated = true; }
  activated() { return this._activated === true; }
}
odin.define(Counter);

const c = odin.ref("Counter", "a");
console.log(c.class, c.id, String(c), `${c}`);
console.log(await c.inc(), await c.inc(5), await c.get());
console.log(await c.me());
console.log(await c.activated());
console.log(c);
console.log(odin.ref(Counter, "b").toString());
console.log(odin.args);
try { await c._secret(); } catch (e) { console.log(e.name, e.message); }
try { await c.nosuch(); } catch (e) { console.log(e.name, e.message); }
try { await c.onActivate(); } catch (e) { console.log(e.name, e.message); }
try { await odin.ref("Nope", "x").hello(); } catch (e) { console.log(e.name, e.message); }
try { odin.self(); } catch (e) { console.log(e.name, e.message); }
// Calls to many objects in parallel land on several VMs.
const refs = [];
for (let i = 0; i < 20; i++) refs.push(odin.ref("Counter", "p" + i));
const got = await Promise.all(refs.map((r, i) => r.inc(i)));
console.log(got.join(","));
const info = await odin.inspect(c);
console.log(info.class, info.version, info.id, info.node, typeof info.vm, info.state, info.tasklets, info.log);
