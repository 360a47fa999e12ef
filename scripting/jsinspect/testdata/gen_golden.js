// Regenerates golden.json from cases.js with node v20:
//   node scripting/jsinspect/testdata/gen_golden.js
'use strict';
const util = require('util');
const fs = require('fs');
const path = require('path');
const cases = require('./cases.js');

const out = cases.map((c) => {
  const value = new Function(`return (${c.expr});`)();
  const o = c.opts || {};
  const opts = {
    depth: o.depth === undefined ? 2 : (o.depth < 0 ? Infinity : o.depth),
    colors: !!o.colors,
    breakLength: o.breakLength || 80,
  };
  const want = c.mode === 'format' ?
    util.formatWithOptions(opts, ...value) :
    util.inspect(value, opts);
  return { name: c.name, mode: c.mode || 'inspect', expr: c.expr, opts: o, want };
});
fs.writeFileSync(path.join(__dirname, 'golden.json'), JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${out.length} cases (node ${process.version})`);
