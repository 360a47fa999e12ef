package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags()
	fs.stopAt = 1
	nf := addNodeFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.rest) == 0 {
		return usageError{"which script? odin run script.js [args...]"}
	}
	path := fs.rest[0]
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the script: %w", err)
	}
	node, err := nf.open(stdout, stderr)
	if err != nil {
		return err
	}
	err = node.RunScript(path, string(src), fs.rest[1:])
	if cerr := node.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return scriptOutcome(err, stderr)
}

// nodeFlags are the flags of the commands that start an embedded node.
type nodeFlags struct {
	data          *string
	memory, debug *bool
	vms           *int
	// connect attaches to a running node instead (--connect ADDR, with the
	// cluster's --token or $ODIN_TOKEN).
	connect, token *string
}

func addNodeFlags(fs *flagSet) nodeFlags {
	return nodeFlags{
		data:    fs.str("data", defaultDataDir()),
		memory:  fs.bool("memory"),
		vms:     fs.int("vms", runtime.NumCPU()),
		debug:   fs.bool("debug"),
		connect: fs.str("connect", ""),
		token:   fs.str("token", os.Getenv("ODIN_TOKEN")),
	}
}

// open starts the embedded node the flags describe.
func (f nodeFlags) open(stdout, stderr io.Writer) (*host.Node, error) {
	cfg := host.DefaultConfig()
	cfg.DataDir, cfg.Memory, cfg.VMs = *f.data, *f.memory, *f.vms
	cfg.Stdout, cfg.Stderr = stdout, stderr
	if *f.connect != "" {
		cfg.Connect = &host.ConnectConfig{Addr: *f.connect, Token: *f.token}
	}
	node, err := host.Open(cfg)
	if err != nil {
		if *f.connect != "" {
			return nil, fmt.Errorf("%v", err)
		}
		return nil, openError(err, *f.data, *f.debug)
	}
	return node, nil
}

// scriptOutcome prints a script's failure the way a user should see it.
func scriptOutcome(err error, stderr io.Writer) error {
	if err == nil {
		return nil
	}
	var se *scripting.SyntaxError
	if errors.As(err, &se) {
		fmt.Fprintln(stderr, se.Error())
		return exitError{1}
	}
	var xe *scripting.ScriptError
	if errors.As(err, &xe) {
		fmt.Fprintln(stderr, "Uncaught "+xe.Stack)
		return exitError{1}
	}
	return err
}

// openError explains why a node could not open its data directory.
func openError(err error, dir string, debug bool) error {
	if errors.Is(err, persist.ErrInUse) {
		return fmt.Errorf("%v\n  another odin process is using %s: stop it, or pass --data with another directory (or --memory)", err, dir)
	}
	if errors.Is(err, persist.ErrFormat) {
		return fmt.Errorf("%v\n  this data directory was written by an incompatible version of odin; it was left untouched", err)
	}
	if debug {
		return fmt.Errorf("%+v", err)
	}
	return err
}
