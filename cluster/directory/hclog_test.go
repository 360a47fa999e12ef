package directory

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if l.IsDebug() || !l.IsInfo() || !l.IsError() || l.GetLevel() != hclog.Info {
		t.Errorf("levels: debug %v info %v level %v", l.IsDebug(), l.IsInfo(), l.GetLevel())
	}
	n := l.Named("raft").Named("net").With("peer", "n2")
	if n.Name() != "raft.net" || len(n.ImpliedArgs()) != 2 {
		t.Errorf("name %q, implied %v", n.Name(), n.ImpliedArgs())
	}
	n.Debug("hidden")
	n.Warn("seen", "k", 1)
	n.StandardLogger(nil).Print("standard line")
	l.Log(hclog.Off, "off")
	out := buf.String()
	for _, want := range []string{"level=WARN msg=seen peer=n2 logger=raft.net k=1", "level=INFO msg=\"standard line\""} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") || strings.Contains(out, "off") {
		t.Errorf("filtered records logged:\n%s", out)
	}
	newHCLogger(nil).Error("discarded")
}
