// A call left pending by a killed process (scripts/crash_test.go,
// TestCrashStaleReply): the harness kills the first run while Slow sleeps;
// at the next start Slow and Relay are reactivated and finish that call, and
// their reply, addressed to the dead script, must not become the result of
// the new script's own call.
//
//   odin run --data DIR stale.js V      prints "ready", then "result V R"
class Slow {
  async add(v) { await odin.sleep(1000); return v; }
}
odin.define(Slow);
class Relay {
  async pass(v) { return await odin.ref("Slow", "s").add(v); }
}
odin.define(Relay);
const v = Number(odin.args[0]);
console.log("ready");
console.log("result " + v + " " + (await odin.ref("Relay", "r").pass(v)));
