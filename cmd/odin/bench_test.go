package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--json", "--duration", "100ms", "--runs", "1", "--data", t.TempDir(), "call-local"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, stdout.String())
	}
	if len(got) != 1 {
		t.Fatalf("%d results, want 1", len(got))
	}
	r := got[0]
	if r["scenario"] != "call-local" || r["runs"] != 1.0 {
		t.Errorf("result %v", r)
	}
	for _, k := range []string{"ops_per_sec", "baseline_ops_per_sec", "ratio", "target_ratio"} {
		if x, _ := r[k].(float64); !(x > 0) {
			t.Errorf("%s = %v", k, r[k])
		}
	}
	if _, ok := r["baseline"].(string); !ok {
		t.Errorf("baseline = %v", r["baseline"])
	}
	if _, ok := r["p50_ms"]; ok {
		t.Errorf("p50_ms present for call-local")
	}
	if !strings.Contains(stderr.String(), "call-local: run 1/1") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

func TestBenchUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "nosuch"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "call-local, call-vm") || stdout.Len() != 0 {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"bench", "--runs", "0"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("--runs 0: exit %d, want 2", code)
	}
}

func TestBenchTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--duration", "100ms", "--runs", "1", "--data", t.TempDir(), "commit-1"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"scenario", "commit-1", "bbolt Update per put", "≥ 0.8"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
