package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/odin-db/odin/host"
)

// cmdNode runs a cluster node until SIGINT or SIGTERM, then stops it
// (without leaving the cluster: the others wait for it to come back).
func cmdNode(args []string, stdout, stderr io.Writer) error {
	fs := newFlags()
	data := fs.str("data", defaultDataDir())
	hostname, _ := os.Hostname()
	name := fs.str("name", hostname)
	bind := fs.str("bind", "127.0.0.1:7946")
	rpc := fs.str("rpc", "127.0.0.1:7947")
	raft := fs.str("raft", "")
	join := fs.str("join", "")
	vms := fs.int("vms", runtime.NumCPU())
	encrypt := fs.str("encrypt", os.Getenv("ODIN_ENCRYPT"))
	token := fs.str("token", os.Getenv("ODIN_TOKEN"))
	fast := fs.bool("fast")
	debug := fs.bool("debug")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.rest) > 0 {
		return usageError{fmt.Sprintf("odin node takes flags only, not %q", fs.rest[0])}
	}
	if *raft == "" {
		h, p, err := net.SplitHostPort(*rpc)
		port, perr := strconv.Atoi(p)
		if err != nil || perr != nil {
			return usageError{fmt.Sprintf("--rpc %q is not host:port", *rpc)}
		}
		*raft = net.JoinHostPort(h, strconv.Itoa(port+1))
	}
	var key []byte
	if *encrypt != "" {
		k, err := base64.StdEncoding.DecodeString(*encrypt)
		if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
			return usageError{"--encrypt takes a base64 key of 16, 24 or 32 bytes (openssl rand -base64 32)"}
		}
		key = k
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := host.DefaultConfig()
	cfg.DataDir, cfg.Name, cfg.VMs = *data, *name, *vms
	cfg.Stdout, cfg.Stderr, cfg.Logger = stdout, stderr, logger
	cc := &host.ClusterConfig{Gossip: *bind, RPC: *rpc, Raft: *raft, Token: *token, EncryptKey: key, Fast: *fast}
	if *join != "" {
		cc.Join = strings.Split(*join, ",")
	}
	cfg.Cluster = cc
	node, err := host.Open(cfg)
	if err != nil {
		return openError(err, *data, *debug)
	}
	logger.Info("node started", "name", node.Name(), "gossip", node.GossipAddr(), "rpc", node.RPCAddr(), "raft", *raft, "vms", node.VMs(), "data", *data)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	logger.Info("stopping", "signal", s.String())
	go func() {
		<-sig
		logger.Warn("second signal: exiting without a clean stop")
		os.Exit(1)
	}()
	return node.Close()
}
