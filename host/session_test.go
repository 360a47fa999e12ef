package host

import (
	"errors"
	"strings"
	"testing"

	"github.com/odin-db/odin/scripting"
)

func TestSessionAndStatus(t *testing.T) {
	n, out := newTestNode(t, "")
	s, err := n.NewSession(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ src, want string }{
		{"class Counter { n = 0; inc() { return ++this.n } }\nodin.define(Counter)", "[class Counter]"},
		{`const c = odin.ref("Counter", "a")`, "undefined"},
		{"await c.inc() + await c.inc()", "3"},
		{`console.log("to the node's stdout"); c`, "Ref<Counter/a>"},
	} {
		got, failed, err := s.Eval(c.src)
		if err != nil || failed || got != c.want {
			t.Errorf("%q: %q failed=%v err=%v, want %q", c.src, got, failed, err, c.want)
		}
	}
	if !strings.Contains(out.String(), "to the node's stdout") {
		t.Errorf("console output %q", out.String())
	}
	if got, _ := s.Complete("c.in", 4); len(got) != 1 || got[0] != "inc" {
		t.Errorf("completions %v", got)
	}
	st := n.Status()
	total := 0
	for _, vm := range st.VMs {
		total += vm.Objects
	}
	if st.Name != "local" || len(st.VMs) != 2 || total != 1 {
		t.Errorf("status %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Eval("1"); !errors.Is(err, scripting.ErrSessionClosed) {
		t.Errorf("Eval after Close: %v", err)
	}
	// The session's VM is gone from the node; a new session works.
	s2, err := n.NewSession(false)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, _, _ := s2.Eval("typeof c"); got != "'undefined'" {
		t.Errorf("a new session sees the old one's globals: %q", got)
	}
}
