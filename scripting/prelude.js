(function (odin, limits) {
  "use strict";
  // Error classes exported on odin. Each is a subclass of Error whose name is
  // its class name, taking an optional object of extra properties.
  class OdinError extends Error {
    constructor(message, props) {
      super(message);
      if (props !== undefined) Object.assign(this, props);
    }
  }
  const names = ["ConstraintError", "TimeoutError", "DataCloneError", "ChannelClosedError",
    "KilledError", "UnavailableError", "OverloadedError", "NotDefinedError", "NondeterminismError"];
  for (const n of names) {
    const C = ({ [n]: class extends OdinError {} })[n];
    Object.defineProperty(C.prototype, "name", { value: n, writable: true, configurable: true });
    Object.defineProperty(odin, n, { value: C, enumerable: true });
  }
  // Builtins that allocate in one step, beyond the reach of the turn limit.
  const max = limits.maxString;
  const tooBig = (what) => new RangeError(what + " would exceed the string size limit of " + max + " characters");
  const repeat = String.prototype.repeat;
  Object.defineProperty(String.prototype, "repeat", { value: function repeat_(n) {
    if (String(this).length * Number(n) > max) throw tooBig("repeat");
    return repeat.call(this, n);
  }, writable: true, configurable: true });
  for (const m of ["padStart", "padEnd"]) {
    const f = String.prototype[m];
    Object.defineProperty(String.prototype, m, { value: function (n, s) {
      if (Number(n) > max) throw tooBig(m);
      return f.call(this, n, s);
    }, writable: true, configurable: true });
  }
  const fill = Array.prototype.fill;
  Object.defineProperty(Array.prototype, "fill", { value: function fill_(v, a, b) {
    if (this.length > limits.maxArray) throw new RangeError("fill of an array of " + this.length + " elements exceeds the limit of " + limits.maxArray);
    return fill.call(this, v, a, b);
  }, writable: true, configurable: true });
  const join = Array.prototype.join;
  Object.defineProperty(Array.prototype, "join", { value: function join_(sep) {
    if (this.length > limits.maxArray) throw new RangeError("join of an array of " + this.length + " elements exceeds the limit of " + limits.maxArray);
    return join.call(this, sep);
  }, writable: true, configurable: true });
  return odin;
})
