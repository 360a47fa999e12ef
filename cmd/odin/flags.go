package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// flagSet is a small GNU-style parser: --name value or --name=value, flags
// before the first positional argument (the rest belongs to the script).
type flagSet struct {
	strs   map[string]*string
	ints   map[string]*int
	bools  map[string]*bool
	durs   map[string]*time.Duration
	rest   []string
	stopAt int // stop parsing flags after this many positionals (0 = never)
}

func newFlags() *flagSet {
	return &flagSet{strs: map[string]*string{}, ints: map[string]*int{}, bools: map[string]*bool{}, durs: map[string]*time.Duration{}}
}

func (f *flagSet) str(name, def string) *string {
	v := def
	f.strs[name] = &v
	return &v
}

func (f *flagSet) int(name string, def int) *int {
	v := def
	f.ints[name] = &v
	return &v
}

func (f *flagSet) bool(name string) *bool {
	v := false
	f.bools[name] = &v
	return &v
}

func (f *flagSet) dur(name string, def time.Duration) *time.Duration {
	v := def
	f.durs[name] = &v
	return &v
}

func (f *flagSet) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if f.stopAt > 0 && len(f.rest) >= f.stopAt {
			f.rest = append(f.rest, a)
			continue
		}
		if a == "--" {
			f.rest = append(f.rest, args[i+1:]...)
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			f.rest = append(f.rest, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if j := strings.IndexByte(name, '='); j >= 0 {
			name, val, hasVal = name[:j], name[j+1:], true
		}
		if b, ok := f.bools[name]; ok {
			*b = true
			if hasVal {
				v, err := strconv.ParseBool(val)
				if err != nil {
					return usageError{fmt.Sprintf("--%s takes true or false, not %q", name, val)}
				}
				*b = v
			}
			continue
		}
		if f.strs[name] == nil && f.ints[name] == nil && f.durs[name] == nil {
			return usageError{fmt.Sprintf("unknown flag --%s", name)}
		}
		if !hasVal {
			if i+1 >= len(args) {
				return usageError{fmt.Sprintf("--%s needs a value", name)}
			}
			i++
			val = args[i]
		}
		switch {
		case f.strs[name] != nil:
			*f.strs[name] = val
		case f.ints[name] != nil:
			v, err := strconv.Atoi(val)
			if err != nil {
				return usageError{fmt.Sprintf("--%s takes a whole number, not %q", name, val)}
			}
			*f.ints[name] = v
		case f.durs[name] != nil:
			v, err := time.ParseDuration(val)
			if err != nil {
				return usageError{fmt.Sprintf("--%s takes a duration like 2s, not %q", name, val)}
			}
			*f.durs[name] = v
		default:
			return usageError{fmt.Sprintf("unknown flag --%s", name)}
		}
	}
	return nil
}

// defaultDataDir is $ODIN_DATA or ./odin-data.
func defaultDataDir() string {
	if d := os.Getenv("ODIN_DATA"); d != "" {
		return d
	}
	return "odin-data"
}
