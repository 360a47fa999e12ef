package main

import (
	"fmt"
	"io"
)

// cmdInspect prints what odin.inspect says of one object: on the embedded
// node over --data, or asked of a running cluster through --connect.
func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags()
	nf := addNodeFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.rest) != 1 {
		return usageError{"which object? odin inspect [--connect ADDR | --data DIR] Class/id"}
	}
	ref, err := parseRef(fs.rest[0])
	if err != nil {
		return usageError{err.Error()}
	}
	node, err := nf.open(stdout, stderr)
	if err != nil {
		return err
	}
	src := fmt.Sprintf("console.log(await odin.inspect(odin.ref(%s, %s)));", jsString(ref.Class), jsString(ref.ID))
	err = node.RunScript("inspect", src, nil)
	if cerr := node.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return scriptOutcome(err, stderr)
}
