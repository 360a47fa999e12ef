package persist

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassVersions(t *testing.T) {
	s := newTestStore(t)
	if _, ok, err := s.LatestClass("A"); ok || err != nil {
		t.Fatalf("LatestClass of nothing = %v, %v", ok, err)
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	// Versions 2, 10 and 256 check numeric rather than textual order.
	put := []ClassRecord{
		{Name: "b", Version: 1, Source: "b1"},
		{Name: "a", Version: 10, Source: "a10", Deps: []string{"b"}, Created: created},
		{Name: "a", Version: 2, Source: "a2"},
		{Name: "a", Version: 256, Source: "a256"},
		{Name: "ab", Version: 1, Source: "ab1"},
	}
	for _, r := range put {
		if err := s.PutClass(r); err != nil {
			t.Fatalf("PutClass(%s v%d): %v", r.Name, r.Version, err)
		}
	}
	all, err := s.Classes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, fmt.Sprintf("%s%d:%s", r.Name, r.Version, r.Source))
	}
	if want := "[a2:a2 a10:a10 a256:a256 ab1:ab1 b1:b1]"; fmt.Sprint(got) != want {
		t.Errorf("Classes = %v, want %v", got, want)
	}
	latest, ok, err := s.LatestClass("a")
	if err != nil || !ok || latest.Version != 256 {
		t.Errorf("LatestClass(a) = %+v, %v, %v", latest, ok, err)
	}
	if !all[1].Created.Equal(created) || all[1].Deps[0] != "b" {
		t.Errorf("a10 came back as %+v", all[1])
	}

	// Storing the same record again is a no-op (a retried definition).
	if err := s.PutClass(put[1]); err != nil {
		t.Errorf("identical PutClass: %v", err)
	}
	same := put[1]
	same.Created = created.UTC()
	if err := s.PutClass(same); err != nil {
		t.Errorf("identical PutClass in another zone: %v", err)
	}
	changed := put[1]
	changed.Source = "other"
	if err := s.PutClass(changed); !errors.Is(err, ErrClassExists) {
		t.Errorf("PutClass of different content: %v, want ErrClassExists", err)
	}
	if r, _, _ := s.LatestClass("b"); r.Source != "b1" {
		t.Errorf("refused PutClass changed b: %+v", r)
	}
	for _, bad := range []ClassRecord{{Version: 1}, {Name: "x"}, {Name: "x", Version: -1}, {Name: "x", Version: 1 << 33}} {
		if err := s.PutClass(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutClass(%+v): %v, want ErrInvalid", bad, err)
		}
	}
}
