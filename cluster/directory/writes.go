package directory

import (
	"context"
	"fmt"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// ClaimObject makes node the owner of ref at epoch 1 if ref has no owner, and
// returns its owner and epoch either way.
func (d *Directory) ClaimObject(ctx context.Context, ref objects.Ref, node string) (owner string, epoch uint64, err error) {
	r, err := d.do(ctx, op{Kind: opClaim, Refs: []wireRef{{Class: ref.Class, ID: ref.ID}}, Node: node})
	if err != nil {
		return "", 0, err
	}
	if len(r.Owners) != 1 || len(r.Epochs) != 1 {
		return "", 0, fmt.Errorf("directory: malformed claim result")
	}
	return r.Owners[0], r.Epochs[0], nil
}

// ClaimObjects is ClaimObject for many refs at once: the owners, in the order
// of refs. Up to 8192 refs go in one raft entry; more are split into entries
// of that size, applied concurrently, each atomically.
func (d *Directory) ClaimObjects(ctx context.Context, refs []objects.Ref, node string) (owners []string, err error) {
	if len(refs) == 0 {
		return nil, nil
	}
	type part struct {
		at  int
		res result
		err error
	}
	parts := (len(refs) + maxOpRefs - 1) / maxOpRefs
	done := make(chan part, parts)
	for at := 0; at < len(refs); at += maxOpRefs {
		chunk := refs[at:min(at+maxOpRefs, len(refs))]
		o := op{Kind: opClaim, Node: node, Refs: make([]wireRef, len(chunk))}
		for i, r := range chunk {
			o.Refs[i] = wireRef{Class: r.Class, ID: r.ID}
		}
		go func() {
			r, err := d.do(ctx, o)
			done <- part{at, r, err}
		}()
	}
	owners = make([]string, len(refs))
	for range parts {
		p := <-done
		if p.err != nil {
			err = p.err
			continue
		}
		n := min(maxOpRefs, len(refs)-p.at)
		if len(p.res.Owners) != n {
			err = fmt.Errorf("directory: malformed claim result")
			continue
		}
		copy(owners[p.at:], p.res.Owners)
	}
	if err != nil {
		return nil, err
	}
	return owners, nil
}

// MoveObject moves ref from one owner to another as a compare-and-set: it
// fails with ErrConflict unless ref is owned by from at epoch. It returns the
// new epoch, epoch+1. An unowned object counts as owned by "" at epoch 0.
func (d *Directory) MoveObject(ctx context.Context, ref objects.Ref, from, to string, epoch uint64) (newEpoch uint64, err error) {
	r, err := d.do(ctx, op{Kind: opMove, Refs: []wireRef{{Class: ref.Class, ID: ref.ID}}, Node: from, To: to, Epoch: epoch})
	if err != nil {
		return 0, err
	}
	return r.Epoch, nil
}

// ClaimUnique makes id the holder of the unique value (class, index, tuple) if
// it is free, and returns its holder either way (id itself if it holds it).
func (d *Directory) ClaimUnique(ctx context.Context, class, index string, tuple []byte, id string) (holder string, err error) {
	r, err := d.do(ctx, op{Kind: opClaimUnique, Class: class, Index: index, Tuple: tuple, Holder: id})
	if err != nil {
		return "", err
	}
	return r.Owner, nil
}

// FreeUnique frees the unique value if id holds it, and does nothing
// otherwise.
func (d *Directory) FreeUnique(ctx context.Context, class, index string, tuple []byte, id string) error {
	_, err := d.do(ctx, op{Kind: opFreeUnique, Class: class, Index: index, Tuple: tuple, Holder: id})
	return err
}

// PutClass records a class version. Putting the same name, version and source
// again does nothing (the first record stays); another source under an
// existing version fails with ErrConflict.
func (d *Directory) PutClass(ctx context.Context, rec persist.ClassRecord) error {
	_, err := d.do(ctx, op{Kind: opPutClass, Rec: &rec})
	return err
}
