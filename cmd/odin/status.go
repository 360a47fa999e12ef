package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/odin-db/odin/host"
	"github.com/odin-db/odin/persist"
)

// `odin status` reports what a node's data directory holds: the node, its
// classes with their stored objects, and the declared indexes with the
// progress of their builds. It reads the store without starting the node:
// no object is reactivated and no index build is resumed, so it changes
// nothing and returns at once. A directory another process holds is that
// running node's. With --connect, it asks a running cluster node instead,
// which asks every other node: members, VMs, active objects, indexes.

// dataFile is the store's file in a node's data directory (as host.Open
// names it).
const dataFile = "odin.db"

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fset := newFlags()
	nf := addNodeFlags(fset)
	if err := fset.parse(args); err != nil {
		return err
	}
	switch {
	case len(fset.rest) > 0:
		return usageError{fmt.Sprintf("odin status takes no arguments (not %q)", fset.rest[0])}
	case *nf.connect != "":
		return clusterStatus(nf, stdout, stderr)
	case *nf.memory:
		return usageError{"--memory: an in-memory node keeps nothing after its process ends, so there is no status to read; pass --data DIR (default ./odin-data or $ODIN_DATA)"}
	}
	st, err := readStatus(*nf.data)
	if err != nil {
		var ne noDataError
		if errors.As(err, &ne) {
			return err
		}
		if errors.Is(err, persist.ErrInUse) {
			return fmt.Errorf("%v\n  a running odin process (odin run or odin shell) has %s open: its shell's .nodes and .indexes show its status, and so does odin status --connect ADDR for a cluster node", err, *nf.data)
		}
		return openError(err, *nf.data, *nf.debug)
	}
	st.vms = *nf.vms
	st.write(stdout)
	return nil
}

// noDataError is a data directory with no store in it.
type noDataError struct{ dir string }

func (e noDataError) Error() string {
	return fmt.Sprintf("no odin data in %s (odin run and odin shell create it there; pass --data DIR for another directory)", e.dir)
}

// storedStatus is what odin status prints.
type storedStatus struct {
	dir, path string
	nodeID    string
	size      int64
	vms       int // the VMs odin run and odin shell would start (--vms)
	classes   []classStatus
	indexes   []host.IndexInfo
}

type classStatus struct {
	name      string
	version   int // 0: no stored definition (channels)
	objects   int
	suspended int // objects with a replay log: tasklets or methods waiting
}

// readStatus opens the store of a data directory, reads its status and
// closes it.
func readStatus(dir string) (*storedStatus, error) {
	path := filepath.Join(dir, dataFile)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noDataError{dir}
	}
	if err != nil {
		return nil, err
	}
	store, err := persist.Open(persist.Config{Path: path})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	st := &storedStatus{dir: dir, path: path, nodeID: store.NodeID(), size: fi.Size()}

	recs, err := store.Classes()
	if err != nil {
		return nil, err
	}
	versions := map[string]int{}
	for _, r := range recs {
		versions[r.Name] = max(versions[r.Name], r.Version)
	}
	stored, err := store.ClassNames()
	if err != nil {
		return nil, err
	}
	for _, n := range stored {
		if _, ok := versions[n]; !ok {
			versions[n] = 0
		}
	}
	waiting, err := store.NonQuiescent()
	if err != nil {
		return nil, err
	}
	suspended := map[string]int{}
	for _, k := range waiting {
		suspended[k.Class]++
	}
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		count, err := store.CountObjects(n)
		if err != nil {
			return nil, err
		}
		st.classes = append(st.classes, classStatus{name: n, version: versions[n], objects: count, suspended: suspended[n]})
		ixs, err := store.IndexStates(n)
		if err != nil {
			return nil, err
		}
		for _, ix := range ixs {
			st.indexes = append(st.indexes, host.IndexInfo{Class: n, Index: ix.Index.String(), Built: ix.Built, Done: ix.Done, Total: ix.Total, Err: ix.Err})
		}
	}
	return st, nil
}

func (st *storedStatus) write(w io.Writer) {
	fmt.Fprintf(w, "Node  local, id %s: not running (no odin process has %s open)\n", st.nodeID, st.dir)
	fmt.Fprintf(w, "Data  %s, %s\n", st.path, byteSize(st.size))
	fmt.Fprintf(w, "VMs   none running (odin run and odin shell start %d; see --vms)\n", st.vms)

	fmt.Fprintln(w)
	if len(st.classes) == 0 {
		fmt.Fprintln(w, "No classes are defined yet.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "CLASS\tVERSION\tOBJECTS\tSUSPENDED")
		for _, c := range st.classes {
			v := "-"
			if c.version > 0 {
				v = fmt.Sprintf("v%d", c.version)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", c.name, v, c.objects, c.suspended)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	if len(st.indexes) == 0 {
		fmt.Fprintln(w, "No indexes are declared.")
	} else {
		writeIndexes(w, st.indexes, true)
	}

	building, suspended := 0, 0
	for _, ix := range st.indexes {
		if !ix.Built && ix.Err == "" {
			building++
		}
	}
	for _, c := range st.classes {
		suspended += c.suspended
	}
	var later []string
	if building > 0 {
		later = append(later, plural(building, "index build", "index builds"))
	}
	if suspended > 0 {
		later = append(later, plural(suspended, "suspended object", "suspended objects"))
	}
	if len(later) > 0 {
		fmt.Fprintf(w, "\nNot finished, resumed when odin run or odin shell opens %s: %s.\n", st.dir, strings.Join(later, " and "))
	}
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// writeIndexes prints indexes as a table: class, index, state.
func writeIndexes(w io.Writer, list []host.IndexInfo, header bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	nodes := map[string]bool{}
	for _, ix := range list {
		nodes[ix.Node] = true
	}
	if len(nodes) > 1 {
		// A cluster: each node holds (and builds) the indexes of its objects.
		if header {
			fmt.Fprintln(tw, "NODE\tCLASS\tINDEX\tSTATE")
		}
		for _, ix := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ix.Node, ix.Class, ix.Index, indexState(ix))
		}
		tw.Flush()
		return
	}
	if header {
		fmt.Fprintln(tw, "CLASS\tINDEX\tSTATE")
	}
	for _, ix := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ix.Class, ix.Index, indexState(ix))
	}
	tw.Flush()
}

// clusterStatus asks a running cluster node for the status of every node.
func clusterStatus(nf nodeFlags, stdout, stderr io.Writer) error {
	node, err := nf.open(stdout, stderr)
	if err != nil {
		return err
	}
	defer node.Close()
	sts, err := node.ClusterStatus()
	if err != nil {
		return err
	}
	writeNodes(stdout, sts)
	var ixs []host.IndexInfo
	for _, st := range sts {
		ixs = append(ixs, st.Indexes...)
	}
	if len(ixs) > 0 {
		fmt.Fprintln(stdout)
		writeIndexes(stdout, ixs, true)
	}
	return nil
}

// writeNodes prints one line per node: its state, address and VMs.
func writeNodes(w io.Writer, sts []host.NodeStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tADDRESS\tVMS\tACTIVE OBJECTS")
	for _, st := range sts {
		active, vms := 0, "-"
		if len(st.VMs) > 0 {
			vms = fmt.Sprint(len(st.VMs))
		}
		for _, vm := range st.VMs {
			if vm.Objects > 0 {
				active += vm.Objects
			}
		}
		state := st.State
		if st.Err != "" {
			state += " (" + st.Err + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", st.Name, state, st.Addr, vms, active)
	}
	tw.Flush()
}

// indexState is "built", "building 45% (4500/10000)" or "failed: why".
func indexState(ix host.IndexInfo) string {
	switch {
	case ix.Err != "":
		return "failed: " + ix.Err
	case ix.Built:
		return "built"
	}
	pct := 0
	if ix.Total > 0 {
		pct = min(100*ix.Done/ix.Total, 99)
	}
	return fmt.Sprintf("building %d%% (%d/%d)", pct, ix.Done, ix.Total)
}

// indexSummary is one line on the indexes for .nodes: how many are built,
// and the state of each other one ("" when there are none).
func indexSummary(list []host.IndexInfo) string {
	if len(list) == 0 {
		return ""
	}
	built := 0
	var others []string
	for _, ix := range list {
		if ix.Built && ix.Err == "" {
			built++
			continue
		}
		others = append(others, fmt.Sprintf("%s %s %s", ix.Class, ix.Index, indexState(ix)))
	}
	parts := []string{fmt.Sprintf("%d built", built)}
	return strings.Join(append(parts, others...), "; ")
}

// byteSize is n in B, KiB, MiB or GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMG"[i])
}
