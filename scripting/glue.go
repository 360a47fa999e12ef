package scripting

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/scripting/freevars"
	"github.com/odin-db/odin/scripting/jsinspect"
)

// checkClassSource verifies that a class names only JavaScript globals,
// odin, console, itself and other defined classes, and returns the defined
// classes it names (its dependencies).
func (w *Worker) checkClassSource(name, src string) ([]string, error) {
	free, err := freevars.Free(src)
	if err != nil {
		return nil, fmt.Errorf("class %s does not parse: %v", name, err)
	}
	var deps, bad []string
	for _, id := range free {
		switch {
		case id.Name == name || w.api.globals[id.Name]:
		case w.cfg.Classes.Defined(id.Name):
			deps = append(deps, id.Name)
		default:
			bad = append(bad, fmt.Sprintf("%q (line %d of the class)", id.Name, id.Line))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("class %s is not self-contained: it uses %s, which is not a JavaScript global, odin, console or a defined class; a class's source is shipped to other VMs and nodes on its own, so pass such values in as arguments or store them in the object's state",
			name, strings.Join(bad, ", "))
	}
	sort.Strings(deps)
	return deps, nil
}

// validate checks one changed field against the class's schema.
func (w *Worker) validate(a *activation, field string, v goja.Value) goja.Value {
	s := a.cls.schema
	if s == nil {
		return nil
	}
	var n *jsNode
	if v != nil && !goja.IsUndefined(v) {
		n = w.node(v)
	}
	var cerr = s.ValidateField(field, nodeOrNil(n))
	if cerr == nil {
		return nil
	}
	return w.api.newError("ConstraintError", cerr.Message, map[string]any{"field": cerr.Field, "rule": cerr.Rule})
}

// validateRequired checks that every required field is present.
func (w *Worker) validateRequired(a *activation) goja.Value {
	s := a.cls.schema
	if s == nil {
		return nil
	}
	for _, f := range s.Required() {
		v := a.inst.Get(f)
		if v == nil || goja.IsUndefined(v) {
			return w.validate(a, f, nil)
		}
	}
	return nil
}

// inspectOptions are the console's printing options.
func (w *Worker) inspectOptions() jsinspect.Options {
	o := jsinspect.DefaultOptions()
	o.Custom = w.customInspect
	return o
}

func (w *Worker) customInspect(obj *goja.Object) (string, bool) {
	if info := w.api.refInfoOfObj(obj); info != nil {
		return "Ref<" + info.ref.String() + ">", true
	}
	if t, ok := w.api.taskletOf(obj); ok {
		state := "done"
		if t.alive {
			state = "alive"
		}
		return fmt.Sprintf("Tasklet<%d %s>", t.id, state), true
	}
	return "", false
}

func (w *Worker) formatArgs(args []goja.Value) string {
	return jsinspect.Format(w.rt, args, w.inspectOptions())
}

func (w *Worker) inspectValue(v goja.Value) string {
	return jsinspect.Inspect(w.rt, v, w.inspectOptions())
}
