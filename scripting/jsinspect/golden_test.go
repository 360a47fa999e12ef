package jsinspect

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

type goldenCase struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	Expr string `json:"expr"`
	Opts struct {
		Depth       *int `json:"depth"`
		Colors      bool `json:"colors"`
		BreakLength int  `json:"breakLength"`
	} `json:"opts"`
	Want string `json:"want"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c goldenCase) options() Options {
	opts := DefaultOptions()
	if c.Opts.Depth != nil {
		opts.Depth = *c.Opts.Depth
	}
	opts.Colors = c.Opts.Colors
	if c.Opts.BreakLength != 0 {
		opts.BreakLength = c.Opts.BreakLength
	}
	return opts
}

// TestGolden compares against util.inspect / util.format output recorded
// from node v20 (testdata/gen_golden.js).
func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	if len(cases) < 80 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			rt := goja.New()
			v, err := rt.RunString("(" + c.Expr + ")")
			if err != nil {
				t.Fatalf("eval %s: %v", c.Expr, err)
			}
			var got string
			if c.Mode == "format" {
				arr := v.(*goja.Object)
				n := int(arr.Get("length").ToInteger())
				args := make([]goja.Value, n)
				for i := range args {
					args[i] = arr.Get(strconv.Itoa(i))
				}
				got = Format(rt, args, c.options())
			} else {
				got = Inspect(rt, v, c.options())
			}
			if got != c.Want {
				t.Errorf("%s\n got: %s\nwant: %s", c.Expr, show(got), show(c.Want))
			}
		})
	}
}

func show(s string) string {
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	s = strings.ReplaceAll(s, "\x1b", `\e`)
	if strings.Contains(s, "\n") {
		return "\n" + s
	}
	return s
}
