package jsinspect

import (
	"errors"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

type hostAccount struct {
	Owner   string
	Balance int
}

func (hostAccount) Deposit(int) {}

type dynObj struct{}

func (dynObj) Get(key string) goja.Value         { return goja.Undefined() }
func (dynObj) Set(key string, v goja.Value) bool { return false }
func (dynObj) Has(key string) bool               { return key == "id" }
func (dynObj) Delete(key string) bool            { return false }
func (dynObj) Keys() []string                    { return []string{"id"} }

// TestHostValues checks that Go values exposed to scripts print without
// panicking and in the shape Node would use for equivalent JS values.
func TestHostValues(t *testing.T) {
	rt := goja.New()
	cases := []struct {
		v    interface{}
		want string
	}{
		{map[string]interface{}{"a": 1}, "{ a: 1 }"},
		{[]interface{}{1, "x"}, "[ 1, 'x' ]"},
		{[]int{1, 2}, "[ 1, 2 ]"},
		{errors.New("go failure"), ""},
		{func(int) int { return 0 }, ""}, // named after the Go function
		{&hostAccount{Owner: "alice", Balance: 3}, ""},
		{goja.NewSharedDynamicObject(dynObj{}), "[Object: null prototype] { id: undefined }"},
	}
	for _, c := range cases {
		got := Inspect(rt, rt.ToValue(c.v), DefaultOptions())
		if strings.Contains(got, "Inspection threw") || (c.want != "" && got != c.want) {
			t.Errorf("%T: got %q want %q", c.v, got, c.want)
		}
	}
}
