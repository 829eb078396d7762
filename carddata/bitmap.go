package carddata

import "math/bits"

// bitmap is a set of positions in a text.
type bitmap []uint64

// newBitmap returns an empty bitmap for positions 0 to n.
func newBitmap(n int) bitmap { return make(bitmap, n/64+1) }

func (b bitmap) set(i int) { b[i/64] |= 1 << (i % 64) }

// each calls fn with the set positions in increasing order until fn
// returns false.
func (b bitmap) each(fn func(int) bool) {
	for wi, w := range b {
		for w != 0 {
			if !fn(wi*64 + bits.TrailingZeros64(w)) {
				return
			}
			w &= w - 1
		}
	}
}

// any reports whether a position in [from, to) is set.
func (b bitmap) any(from, to int) bool {
	to = min(to, len(b)*64)
	for i := from; i < to; {
		w := b[i/64] >> (i % 64)
		if w == 0 {
			i = (i/64 + 1) * 64
			continue
		}
		return i+bits.TrailingZeros64(w) < to
	}
	return false
}
