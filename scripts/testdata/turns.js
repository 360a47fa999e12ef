// Turn semantics: re-entrancy, exclusive sections, determinism, the turn limit.
class Ping {
  hits = 0;
  async ping(other, depth) {
    this.hits++;
    if (depth === 0) return "bottom";
    // A -> B -> A: A is awaiting, so B's call into A runs: no deadlock.
    return "ping(" + await odin.ref("Ping", other).ping(odin.self().id, depth - 1) + ")";
  }
  get() { return this.hits; }
}
odin.define(Ping);
console.log(await odin.ref("Ping", "a").ping("b", 4));
console.log(await odin.ref("Ping", "a").get(), await odin.ref("Ping", "b").get());

class Slow {
  log = [];
  async step(tag, other) {
    this.log.push(tag + ":start");
    await odin.ref("Slow", other).noop();
    this.log.push(tag + ":end");
  }
  async locked(tag, other) {
    await odin.exclusive(async () => {
      this.log.push(tag + ":start");
      await odin.ref("Slow", other).noop();
      this.log.push(tag + ":end");
    });
  }
  noop() {}
  take() { const l = this.log; this.log = []; return l; }
}
odin.define(Slow);
const s = odin.ref("Slow", "s");
await Promise.all([s.step("a", "t"), s.step("b", "t")]);
console.log("interleaved:", (await s.take()).join(" "));
await Promise.all([s.locked("a", "t"), s.locked("b", "t")]);
console.log("exclusive:", (await s.take()).join(" "));

class Dice {
  roll() {
    const t1 = Date.now(), r1 = Math.random();
    let x = 0; for (let i = 0; i < 1000; i++) x += i;
    return { sameTime: t1 === Date.now() && new Date().getTime() === t1, random: r1 >= 0 && r1 < 1 };
  }
}
odin.define(Dice);
console.log(await odin.ref("Dice", "d").roll());

class Loop {
  n = 0;
  spin() { this.n = 1; for (;;) {} }
  inc() { return ++this.n; }
  deep(k) { return k === 0 ? 0 : 1 + this.deep(k - 1); }
}
odin.define(Loop);
const l = odin.ref("Loop", "l");
const t0 = Date.now();
try { await l.spin(); } catch (e) { console.log(e.name, e instanceof odin.TimeoutError, e.message); }
console.log("interrupted within 3s:", Date.now() - t0 < 3000);
console.log("state rolled back, VM still serving:", await l.inc());
try { await l.deep(1e6); } catch (e) { console.log(e.name, e.message); }
console.log("after deep recursion:", await l.inc());
