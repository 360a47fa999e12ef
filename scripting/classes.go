package scripting

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// ClassStore keeps class sources durably. The embedded node uses the local
// store; a cluster uses the replicated directory.
type ClassStore interface {
	PutClass(rec persist.ClassRecord) error
	Classes() ([]persist.ClassRecord, error)
}

// ClassDef is one version of a defined class. Its program is compiled once
// and shared by every runtime.
type ClassDef struct {
	Name    string
	Version int
	Source  string
	Deps    []string // other defined classes the source names
	// Indexes are the class's static indexes and unique constraints. Every
	// commit of an object of the class maintains those of the newest
	// version, whatever version the object runs.
	Indexes []objects.Index

	once sync.Once
	prog *goja.Program
	err  error
}

// program compiles the class source wrapped in a function whose parameters
// are its dependencies, so that each runtime can pass its own copies.
func (d *ClassDef) program() (*goja.Program, error) {
	d.once.Do(func() {
		src := "(function(" + strings.Join(d.Deps, ", ") + ") { return (" + d.Source + "\n); })"
		d.prog, d.err = goja.Compile(fmt.Sprintf("%s@v%d.js", d.Name, d.Version), src, true)
	})
	return d.prog, d.err
}

// Classes is the node's registry of class versions, shared by its workers.
type Classes struct {
	mu     sync.RWMutex
	byName map[string][]*ClassDef // versions in order, index = version-1
	epoch  atomic.Uint64          // bumped on every define, so workers notice new versions
	store  ClassStore
	// onDefine is told of each new version (the host declares its indexes).
	onDefine func(*ClassDef)
	fetch    func() ([]persist.ClassRecord, error) // see OnMiss
	fetched  time.Time
}

// OnDefine sets the function told of each newly defined class version,
// after it is stored and before Define returns.
func (c *Classes) OnDefine(fn func(*ClassDef)) {
	c.mu.Lock()
	c.onDefine = fn
	c.mu.Unlock()
}

// NewClasses loads every class version from store.
func NewClasses(store ClassStore) (*Classes, error) {
	c := &Classes{byName: make(map[string][]*ClassDef), store: store}
	recs, err := store.Classes()
	if err != nil {
		return nil, err
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Name != recs[j].Name {
			return recs[i].Name < recs[j].Name
		}
		return recs[i].Version < recs[j].Version
	})
	for _, r := range recs {
		c.byName[r.Name] = append(c.byName[r.Name], &ClassDef{Name: r.Name, Version: r.Version, Source: r.Source, Deps: r.Deps, Indexes: r.Indexes})
	}
	return c, nil
}

// Latest returns the newest version of a class, or nil.
func (c *Classes) Latest(name string) *ClassDef {
	if d := c.latest(name); d != nil || !c.refreshed() {
		return d
	}
	return c.latest(name)
}

func (c *Classes) latest(name string) *ClassDef {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.byName[name]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// OnMiss sets where to look for classes this registry does not know (a
// client asks the node it is connected to); asked at most twice a second.
func (c *Classes) OnMiss(fetch func() ([]persist.ClassRecord, error)) {
	c.mu.Lock()
	c.fetch = fetch
	c.mu.Unlock()
}

// refreshed fetches the classes defined elsewhere, if there is a fetch
// function and it was not asked in the last half second.
func (c *Classes) refreshed() bool {
	c.mu.Lock()
	fetch := c.fetch
	if fetch == nil || time.Since(c.fetched) < 500*time.Millisecond {
		c.mu.Unlock()
		return false
	}
	c.fetched = time.Now()
	c.mu.Unlock()
	recs, err := fetch()
	if err != nil {
		return false
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Name != recs[j].Name {
			return recs[i].Name < recs[j].Name
		}
		return recs[i].Version < recs[j].Version
	})
	for _, r := range recs {
		_, _ = c.Learn(r)
	}
	return true
}

// Get returns one version of a class, or nil.
func (c *Classes) Get(name string, version int) *ClassDef {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.byName[name]
	if version < 1 || version > len(vs) {
		return nil
	}
	return vs[version-1]
}

// Names returns the defined class names in order.
func (c *Classes) Names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defined reports whether a class of that name exists.
func (c *Classes) Defined(name string) bool { return c.Latest(name) != nil }

// Epoch changes whenever a class is defined.
func (c *Classes) Epoch() uint64 { return c.epoch.Load() }

// Define registers source as the newest version of name, unless it is the
// same as the newest version already. It returns the definition in force.
func (c *Classes) Define(name, source string, deps []string, indexes []objects.Index) (*ClassDef, error) {
	if !objects.IsIdentifier(name) || strings.HasPrefix(name, "$") {
		return nil, fmt.Errorf("%w: %q is not a valid class name", ErrDefine, name)
	}
	c.mu.Lock()
	d, err := c.define(name, source, deps, indexes)
	onDefine := c.onDefine
	c.mu.Unlock()
	if err == nil && d != nil && onDefine != nil {
		onDefine(d)
	}
	return d, err
}

func (c *Classes) define(name, source string, deps []string, indexes []objects.Index) (*ClassDef, error) {
	vs := c.byName[name]
	if n := len(vs); n > 0 && vs[n-1].Source == source {
		return vs[n-1], nil
	}
	d := &ClassDef{Name: name, Version: len(vs) + 1, Source: source, Deps: deps, Indexes: indexes}
	if _, err := d.program(); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrDefine, name, err)
	}
	rec := persist.ClassRecord{Name: name, Version: d.Version, Source: source, Deps: deps, Indexes: indexes, Created: time.Now().UTC()}
	if err := c.store.PutClass(rec); err != nil {
		return nil, err
	}
	c.byName[name] = append(vs, d)
	c.epoch.Add(1)
	return d, nil
}

// Learn adds a class version defined through another node (the cluster's
// directory replicates them), unless it is known already. Versions arrive
// in order; one that does not follow the newest known is an error.
func (c *Classes) Learn(rec persist.ClassRecord) (bool, error) {
	c.mu.Lock()
	vs := c.byName[rec.Name]
	switch {
	case rec.Version <= len(vs):
		c.mu.Unlock()
		if vs[rec.Version-1].Source != rec.Source {
			return false, fmt.Errorf("class %s version %d differs from the one known here", rec.Name, rec.Version)
		}
		return false, nil
	case rec.Version != len(vs)+1:
		c.mu.Unlock()
		return false, fmt.Errorf("class %s version %d arrived before version %d", rec.Name, rec.Version, len(vs)+1)
	}
	d := &ClassDef{Name: rec.Name, Version: rec.Version, Source: rec.Source, Deps: rec.Deps, Indexes: rec.Indexes}
	c.byName[rec.Name] = append(vs, d)
	c.epoch.Add(1)
	onDefine := c.onDefine
	c.mu.Unlock()
	if onDefine != nil {
		onDefine(d)
	}
	return true, nil
}

// loadedClass is a class version instantiated in one runtime.
type loadedClass struct {
	def      *ClassDef
	ctor     *goja.Object
	proto    *goja.Object
	schema   *objects.Schema
	refProto *goja.Object // prototype of Refs to objects of this class
	methods  []string
}

// hooks are methods a class may have that are not callable through a Ref.
var hooks = map[string]bool{"constructor": true, "onActivate": true, "onDeactivate": true}

// callable reports whether a method name may be called through a Ref.
func callable(name string) bool { return name != "" && name[0] != '_' && !hooks[name] }

// loadClass instantiates a class version in this worker's runtime, with its
// dependencies, caching the result.
func (w *Worker) loadClass(d *ClassDef) (*loadedClass, error) {
	if lc := w.loaded[d]; lc != nil {
		return lc, nil
	}
	prog, err := d.program()
	if err != nil {
		return nil, err
	}
	fnv, err := w.rt.RunProgram(prog)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrDefine, d.Name, err)
	}
	fn, _ := goja.AssertFunction(fnv)
	args := make([]goja.Value, len(d.Deps))
	for i, dep := range d.Deps {
		dd := w.cfg.Classes.Latest(dep)
		if dd == nil {
			return nil, fmt.Errorf("%w: class %s needs class %s, which is not defined", ErrNotDefined, d.Name, dep)
		}
		dl, err := w.loadClass(dd)
		if err != nil {
			return nil, err
		}
		args[i] = dl.ctor
	}
	cv, err := fn(goja.Undefined(), args...)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrDefine, d.Name, err)
	}
	ctor := cv.ToObject(w.rt)
	lc := &loadedClass{def: d, ctor: ctor, proto: ctor.Get("prototype").ToObject(w.rt)}
	if s := ctor.Get("schema"); s != nil && !goja.IsUndefined(s) && !goja.IsNull(s) {
		lc.schema, err = parseSchema(w.rt, s)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrDefine, d.Name, err)
		}
	}
	lc.methods = methodNames(lc.proto, w.rt.Get("Object").ToObject(w.rt).Get("prototype").ToObject(w.rt))
	lc.refProto = w.api.refProtoFor(d.Name, lc.methods)
	w.loaded[d] = lc
	return lc, nil
}

// methodNames lists the callable methods along a class's prototype chain,
// up to (not including) Object.prototype.
func methodNames(proto, objectProto *goja.Object) []string {
	seen := map[string]bool{}
	var names []string
	for p := proto; p != nil && p != objectProto; p = p.Prototype() {
		for _, n := range p.GetOwnPropertyNames() {
			if seen[n] || !callable(n) {
				continue
			}
			seen[n] = true
			if _, ok := goja.AssertFunction(p.Get(n)); ok {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// parseSchema converts a class's static schema into the object model's form.
func parseSchema(rt *goja.Runtime, v goja.Value) (*objects.Schema, error) {
	def, ok := exportSchema(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("static schema must be an object")
	}
	return objects.ParseSchema(def)
}

// exportSchema exports a schema definition, turning RegExp patterns into
// "/source/flags" strings.
func exportSchema(v goja.Value) any {
	o, ok := v.(*goja.Object)
	if !ok {
		return v.Export()
	}
	switch o.ClassName() {
	case "RegExp":
		return "/" + o.Get("source").String() + "/" + o.Get("flags").String()
	case "Array":
		n := int(o.Get("length").ToInteger())
		out := make([]any, n)
		for i := 0; i < n; i++ {
			out[i] = exportSchema(o.Get(fmt.Sprint(i)))
		}
		return out
	case "Object":
		m := make(map[string]any)
		for _, k := range o.Keys() {
			m[k] = exportSchema(o.Get(k))
		}
		return m
	}
	return o.Export()
}
