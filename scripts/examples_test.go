package scripts

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// exampleFacts lists, for each example program in this directory, lines its
// story must print: the facts it demonstrates, not its whole output.
var exampleFacts = map[string][]string{
	"hello.js": {
		"Hello, Ada! I am Greeter/world, and I have greeted 1 time(s).",
		"Hello, Grace! I am Greeter/world, and I have greeted 2 time(s).",
	},
	"bank.js": {
		"A new bank: opening 4 accounts.",
		"Balances: alice 100, bob 50, carol 0, dave 25 (total 175)",
		"  alice sends 25 to bob, alice now has 105",
		"Balances: alice 105, bob 105, carol 40, dave 40 (total 290)",
		`  refused: ConstraintError on field "balance", rule "min"`,
		`  refused: ConstraintError on field "balance", rule "integer"`,
		"Nothing moved: alice 105, bob 105, carol 40, dave 40 (total 290)",
		"rolled back: yes",
		"  32 transfers done. Balances: alice 105, bob 105, carol 40, dave 40",
		"  total before 290, total after 290: money conserved: yes",
		"Accounts in the database: Account/alice, Account/bob, Account/carol, Account/dave",
		"inspect Account/alice: version 1, on node local",
		"  state: { owner: 'Alice', balance: 105 }",
	},
	"pipeline.js": {
		"  jobs.balance() = 1 (> 0: a sender is waiting)",
		"The producer sent 12 jobs; the workers handled 12 between them.",
		"All tasklets finished: true",
		"The collector got 12 results:",
		"  line  1: 8 words",
		"  line 12: 9 words",
		"Words counted by the workers: 101",
		"The Stats object saw 12 lines and 101 words (the same: true).",
		"Most frequent words: the=19 a=6 channel=4 and=3 results=3",
	},
	"chat.js": {
		"  general: 60 members",
		`  refused: ConstraintError on field "history[5].text", rule "maxLength"`,
		"  general   60 members,  5 messages, 295 deliveries",
		"  go        20 members, 20 messages, 380 deliveries",
		"  js        19 members, 19 messages, 342 deliveries",
		"  databases 19 members, 19 messages, 342 deliveries",
		"  1359 deliveries acknowledged, 1359 messages received by users: all accounted for",
		"The last 5 messages in general:\n  ada: Has anyone tried storing Refs in state?\n" +
			"  grace: Yes: every room here keeps Refs to its members.\n" +
			"  alan: And each user keeps Refs to its rooms. A graph!\n" +
			"  barbara: Calls go along the edges of the graph.\n" +
			"  linus: Talk is cheap. Show me the object.\n",
		"ada is in databases and general and received 22 messages.",
		"inspect User/grace: rooms Room/general, Room/go; received 23 messages",
	},
}

// wantLines fails unless out exits 0 and contains every fact, each as whole lines.
func wantLines(t *testing.T, name, out string, code int, facts []string) {
	t.Helper()
	if code != 0 {
		t.Errorf("%s exited %d", name, code)
	}
	padded := "\n" + out
	for _, f := range facts {
		if !strings.HasSuffix(f, "\n") {
			f += "\n"
		}
		if !strings.Contains(padded, "\n"+f) {
			t.Errorf("%s: output lacks the line(s)\n%s", name, f)
		}
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", name, out)
	}
}

// TestExamples runs every example program (scripts/*.js) to completion with
// --memory and checks the facts its story tells.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("*.js")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for name := range exampleFacts {
		if !slices.Contains(files, name) {
			t.Errorf("example %s is missing", name)
		}
	}
	dir, _ := filepath.Abs(".")
	for _, f := range files {
		t.Run(strings.TrimSuffix(f, ".js"), func(t *testing.T) {
			t.Parallel()
			out, code := runOdin(t, dir, "run", "--memory", f)
			wantLines(t, f, out, code, exampleFacts[f])
		})
	}

	// The bank keeps its accounts between runs on the same data directory:
	// the second run finds them, with the balances the first run left.
	t.Run("bank_twice", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		out, code := runOdin(t, dir, "run", "--data", data, "bank.js")
		wantLines(t, "bank.js (first run)", out, code, []string{
			"A new bank: opening 4 accounts.",
			"  total before 290, total after 290: money conserved: yes",
		})
		out, code = runOdin(t, dir, "run", "--data", data, "bank.js")
		wantLines(t, "bank.js (second run)", out, code, []string{
			"Found 4 accounts from an earlier run: Account/alice Account/bob Account/carol Account/dave",
			"Balances: alice 105, bob 105, carol 40, dave 40 (total 290)",
			"  alice withdraws 20 in cash, balance now 135",
			"Balances: alice 110, bob 160, carol 80, dave 55 (total 405)",
			`  refused: ConstraintError on field "balance", rule "min"`,
			"  total before 405, total after 405: money conserved: yes",
			"  state: { owner: 'Alice', balance: 110 }",
		})
		if strings.Contains(out, "A new bank") {
			t.Errorf("second run did not see the first run's accounts:\n%s", out)
		}
	})
}
