// Package repl turns one input of an interactive session into code that
// behaves the way the same input behaves at Node's REPL prompt.
//
// The contract:
//  1. Transform(src) parses src as the body of an async function (so a
//     top-level `await` works) and rewrites its text, keeping line numbers:
//     top-level `let`, `const`, `var`, `function` and `class` declarations,
//     and `var` declarations in top-level blocks and loops, become
//     assignments to global variables (the names are declared with a `var`
//     statement after the function), so they persist from one input to the
//     next and may be declared again, as at Node's prompt. Destructuring
//     patterns are kept as assignment patterns.
//  2. When the input ends with an expression statement (or with a block, an
//     if or a try whose run ends with one), the function resolves to
//     `{ value: <that expression> }` (Result.HasValue), so a promise that
//     the input did not await is shown, not awaited.
//  3. Running Result.Program (as a sloppy-mode script) yields the async
//     function; calling it runs the input.
//  4. An input that starts with `{` and does not end with `;` is first tried
//     as an object literal, as Node does.
//  5. Incomplete(src) reports whether src is an unfinished expression or
//     statement (an open bracket, template literal or block comment, a
//     string continued with a backslash, a trailing operator), so that an
//     editor asks for another line instead of reporting a syntax error.
//
// Differences from Node: function declarations are assigned where they
// stand, so a function declared later in the same input cannot be called
// before its declaration; const bindings can be reassigned by later inputs;
// a loop, a switch or a declaration at the end gives undefined, not the
// completion value Node would show.
package repl
