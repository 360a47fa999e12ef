// Package scripts holds Odin's example programs and the golden tests of its
// JavaScript surface.
//
//  1. Every *.js here is an example a user can run with `odin run`; the tests
//     run each one to completion.
//  2. Every testdata/*.js is run through the real `odin run` binary and its
//     output (stdout, stderr and exit code) compared with testdata/*.out.
//     `go test ./scripts -update` rewrites the .out files; read the diff.
//  3. A testdata script named NAME.2.js runs after NAME.js on the same data
//     directory (persistence across runs).
package scripts
