package codec

// MaxDepth bounds how deeply objects may nest (objects, arrays, Maps, Sets,
// Errors...). The encoder returns an error wrapping ErrTooDeep past it; the
// decoder rejects input nested deeper than decodeMaxDepth items.
const MaxDepth = 1000

// CBOR tags; doc.go has the table with the content of each.
const (
	tagEpochDate = 1
	tagPosBignum = 2
	tagNegBignum = 3
	tagShareable = 28
	tagSharedRef = 29
	tagAbsent    = 31
	tagSet       = 258 // RFC 8746 typed arrays, 64-87, are in typedArrayInfo

	// Odin tags, from the first-come-first-served range (unregistered).
	tagUTF16    = 48864
	tagDate     = 48865
	tagRegExp   = 48866
	tagMap      = 48867
	tagError    = 48868
	tagRef      = 48869
	tagDataView = 48870
	tagSparse   = 48871
)
