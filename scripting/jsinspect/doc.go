// Package jsinspect prints JavaScript values the way Node.js v20 does.
//
// It is the value printer behind Odin's `console.log` (odin run script.js)
// and the results shown by the interactive shell (odin shell):
//
//   - Inspect(rt, v, opts) is util.inspect(v, opts): what the Node REPL
//     shows for a value (strings quoted, colours when opts.Colors).
//   - Format(rt, args, opts) is util.format / console.log: a string first
//     argument's %s %d %i %f %j %o %O %c %% directives are expanded, the
//     remaining arguments are inspected (strings printed raw) and joined by
//     spaces.
//
// # Contract
//
// Output matches node v20's util.inspect/util.format byte for byte for the
// common cases; testdata/golden.json holds the expected outputs recorded
// from node (regenerate with `node testdata/gen_golden.js` after editing
// testdata/cases.js). The algorithms (formatValue, formatRaw,
// reduceToSingleString with compact = 3, groupArrayElements, strEscape,
// formatError, ...) are ports of lib/internal/util/inspect.js, with Node's
// fixed defaults maxArrayLength = 100, maxStringLength = 10000 and
// compact = 3.
//
// Options: start from DefaultOptions() (Depth 2, BreakLength 80, no
// colours). Depth -1 means unlimited; the zero Options means depth 0;
// BreakLength <= 0 means 80. Options.Custom is asked first about every
// object (including proxies, before they are unwrapped); when it returns
// ok, its text is used verbatim (re-indented if multi-line). Odin uses it
// for Refs ("Ref<Account/alice>") and Tasklets. Objects with a
// [Symbol.for('nodejs.util.inspect.custom')] method are honoured as in
// Node.
//
// Inspection has no side effects beyond Node's own: getters are never
// called (they print as [Getter], [Setter], [Getter/Setter]), proxies are
// shown as their target without running traps, and Maps, Sets and Promises
// are read through the built-in prototype methods. Like Node it does read
// Symbol.toStringTag and custom inspect methods; if such user code throws,
// Inspect and Format return "[Inspection threw: <exception>]" (for that
// call) instead of panicking.
//
// Performance: output is built with strings.Builder; arrays, typed arrays,
// Maps and Sets stop after 100 entries without enumerating the rest (a
// million-element array prints in well under a millisecond), strings are
// cut at 10000 characters, and Format copies a raw string argument once.
// To find an array's non-index properties without listing its indices,
// the package reads goja's internal property table through reflection
// (read-only, guarded, with a public-API fallback); TestInternalKeysLayout
// fails if a goja upgrade changes that layout.
//
// goja specifics: error stacks are goja's, rewritten from "\tat " to
// Node's "    at " frame indentation (trailing newline removed). Like every
// goja API, Inspect and Format must be called on the goroutine that owns
// the runtime, never concurrently with it.
//
// Not replicated: iterator previews (Node prints `[Map Entries] { [ 'a', 1
// ] }` for map.entries(); goja cannot peek at an iterator without
// consuming it, so these print as `Object [Map Iterator] {}`); WeakMap /
// WeakSet contents under %o (always `<items unknown>`); showHidden's
// prototype properties and V8's own-key order for functions (%o only);
// stack frames de-duplicated against an error's cause and the colouring
// of node_modules / cwd paths in stacks; ICU string widths (an East Asian
// width table approximates them when grouping arrays); module namespaces,
// URLs, external values and the 2^27 output-size budget.
package jsinspect
