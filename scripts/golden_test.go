package scripts

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden .out files")

var odinBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "odin-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	odinBin = filepath.Join(dir, "odin")
	build := exec.Command("go", "build", "-o", odinBin, "../cmd/odin")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building odin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runOdin runs the odin binary and returns its combined, normalised output
// and exit code.
func runOdin(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(odinBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ODIN_DATA=")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("odin %v did not finish in 2 minutes; output so far:\n%s", args, out.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// Stack frames carry goja's bytecode offsets "(12)"; drop them so that
// golden files do not change with unrelated compiler details.
var pcSuffix = regexp.MustCompile(`:(\d+):(\d+)\(\d+\)`)

func normalise(s string) string { return pcSuffix.ReplaceAllString(s, ":$1:$2") }

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.js")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".js")
		if strings.Contains(base, ".") {
			continue // a follow-up run, driven by its first part
		}
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			abs, _ := filepath.Abs("testdata")
			var got strings.Builder
			parts := []string{base + ".js"}
			for i := 2; ; i++ {
				next := fmt.Sprintf("%s.%d.js", base, i)
				if _, err := os.Stat(filepath.Join("testdata", next)); err != nil {
					break
				}
				parts = append(parts, next)
			}
			for _, p := range parts {
				out, code := runOdin(t, abs, "run", "--data", data, p, "arg1", "arg2")
				if len(parts) > 1 {
					fmt.Fprintf(&got, "== %s\n", p)
				}
				got.WriteString(normalise(out))
				fmt.Fprintf(&got, "[exit %d]\n", code)
			}
			golden := filepath.Join("testdata", base+".out")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden file (run go test ./scripts -update): %v", err)
			}
			if got.String() != string(want) {
				t.Errorf("output differs from %s\n--- got\n%s\n--- want\n%s", golden, got.String(), want)
			}
		})
	}
}
