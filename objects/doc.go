// Package objects is Odin's object model, free of goja and of I/O: refs (which
// object), schema constraints (what a committed state must satisfy), and the
// errors of both.
//
// The contract:
//  1. A Ref names an object by class and id ("Account/alice"); it always names
//     one, whether or not it has been stored.
//  2. ParseSchema compiles a class's `static schema`; ValidateField checks one
//     field's value, seen through the Node interface (the scripting package
//     implements it over goja values without copying them), and returns a
//     ConstraintError naming the field's path and the rule.
package objects
