// Command odin runs Odin: scripts against an embedded node, and (in time)
// nodes of a cluster. See `odin help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

const usage = `odin — a distributed object database whose objects are written in JavaScript

Usage:
  odin run [--data DIR | --memory] [--vms N] script.js [args...]
                 run a script (top-level await; odin.args holds the args)
                 on an embedded node over DIR (default ./odin-data or $ODIN_DATA), or
                 with --connect ADDR [--token T] as a client of a running cluster node
  odin shell [--data DIR | --memory] [--vms N]
                 an interactive shell, like node's REPL (type .help in it); with
                 input piped in, prints each result and stops at the first error (exit 1);
                 --connect ADDR [--token T] attaches it to a running cluster node
  odin node --data DIR --name NAME [--bind HOST:PORT] [--rpc HOST:PORT] [--raft HOST:PORT]
            [--join ADDR,...] [--vms N] [--token TOKEN] [--encrypt KEY] [--fast]
                 run a cluster node until SIGINT/SIGTERM: --bind is serf's gossip address
                 (others --join it), --rpc the address nodes and clients (--connect)
                 call, --raft the directory's (default: the rpc port + 1); --token
                 (or $ODIN_TOKEN) is checked on every connection, --encrypt (base64,
                 16/24/32 bytes) encrypts gossip; --fast: sub-second failure detection
  odin status [--data DIR]
                 what a stopped node's data directory holds: the node, its classes
                 with their objects, the indexes and how far their builds are;
                 --connect ADDR: every node of a running cluster, its VMs and indexes
  odin inspect [--connect ADDR | --data DIR] Class/id
                 what odin.inspect says of one object: class, version, node, VM,
                 state, suspended tasklets, log length
  odin migrate --connect ADDR Class/id NODE[/VM]
                 move an object of a running cluster to another node (and VM)
  odin bench [--data DIR] [--vms N] [--duration D] [--runs N] [--json] [SCENARIO...]
                 measure the scenarios of docs/performance against in-run baselines
  odin version   print the version
  odin help      print this help

Flags may also be given as --flag=value. --debug shows Go stack traces.

In a script:
  class Account { balance = 0; deposit(n) { this.balance += n; return this.balance; } }
  odin.define(Account);
  const a = odin.ref("Account", "alice");
  console.log(await a.deposit(5));
See the README for the whole JavaScript API.
`

func main() {
	// The VMs' date handling is UTC everywhere, so that objects behave the
	// same on every node.
	time.Local = time.UTC
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "shell":
		err = cmdShell(args[1:], stdin, stdout, stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "node":
		err = cmdNode(args[1:], stdout, stderr)
	case "inspect":
		err = cmdInspect(args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "odin %s\n", version)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "odin: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "odin %s: %s\n(see odin help)\n", args[0], ue.msg)
		return 2
	}
	fmt.Fprintf(stderr, "odin: %v\n", err)
	return 1
}

// exitError ends the command with a code, its message already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a command line that makes no sense.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
