package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// cmdMigrate moves one object to another node (and VM) of a running
// cluster, through odin.migrate, and prints where it is then.
func cmdMigrate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags()
	nf := addNodeFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.rest) != 2 {
		return usageError{"odin migrate --connect ADDR Class/id NODE[/VM]"}
	}
	if *nf.connect == "" {
		return usageError{"odin migrate moves objects of a running cluster: pass --connect ADDR (a node's --rpc address)"}
	}
	ref, err := parseRef(fs.rest[0])
	if err != nil {
		return usageError{err.Error()}
	}
	node, vm := fs.rest[1], ""
	if i := strings.LastIndexByte(node, '/'); i >= 0 {
		node, vm = node[:i], node[i+1:]
	}
	opts := []string{"node: " + jsString(node)}
	if vm != "" {
		n, err := strconv.Atoi(vm)
		if err != nil || n < 0 {
			return usageError{fmt.Sprintf("the VM is a number from 0, not %q", vm)}
		}
		opts = append(opts, "vm: "+strconv.Itoa(n))
	}
	r := fmt.Sprintf("odin.ref(%s, %s)", jsString(ref.Class), jsString(ref.ID))
	src := fmt.Sprintf("await odin.migrate(%s, {%s}); const p = await odin.placement(%s); console.log(`%s is on node ${p.node}, VM ${p.vm}`);",
		r, strings.Join(opts, ", "), r, ref)
	cn, err := nf.open(stdout, stderr)
	if err != nil {
		return err
	}
	err = cn.RunScript("migrate", src, nil)
	if cerr := cn.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return scriptOutcome(err, stderr)
}
