// Package freevars finds the free identifiers of a JavaScript class: the
// names its source reads or writes without declaring them.
//
// odin.define(Class) stores Class.toString() and ships that text to other
// VMs and nodes, so a class may only use JavaScript globals, odin, console
// and other defined classes. The scripting package enforces this at define
// time:
//
//  1. Free parses the class source (one class declaration or expression)
//     with goja's parser; a syntax error comes back as a *SyntaxError with a
//     line and column relative to the source.
//  2. It walks the tree with a scope chain that follows ECMAScript scoping:
//     var and function-scoped declarations are hoisted to their function,
//     let, const, class and (strict mode) function declarations to their
//     block; parameters, catch parameters, loop heads, named function
//     expressions and the class's own name bind where the language binds
//     them; `arguments` exists in every non-arrow function.
//  3. Every identifier reference (a read, a write, `typeof x`, a shorthand
//     property `{x}`) that no enclosing scope declares is free. Property
//     names, member names after a dot, labels, #private names, `this`,
//     `super` and `new.target` are not identifier references.
//  4. Free returns each free name once, in order of first appearance, with
//     the line and column of that first use. The caller decides which names
//     are allowed (globals, odin, console, defined classes).
//
// Free is a pure function of its input and safe for concurrent use.
package freevars
