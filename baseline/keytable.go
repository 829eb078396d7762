package baseline

import "hash/maphash"

// keyTable finds numbered things (baseline items, observed entries) by
// string key: an open-addressing hash table of their numbers. On a
// 5,000-item page, Go maps keyed by (type, key) were a fifth of Compare's
// allocated bytes and much of its time; the caller knows each number's key,
// so the table stores no strings.
type keyTable struct {
	seed  maphash.Seed
	slots []int32 // 1 + a number; 0 marks a free slot
	used  int
}

// newKeyTable makes a table for at most n numbers. It stays at most half
// full, so probe runs stay short and a free slot always ends them.
func newKeyTable(n int) keyTable {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return keyTable{seed: maphash.MakeSeed(), slots: make([]int32, size)}
}

// slot returns the slot holding the number with key for which is(number)
// holds (is compares the number's key with key), or the free slot where
// such a number goes.
func (t *keyTable) slot(key string, is func(number int) bool) *int32 {
	mask := len(t.slots) - 1
	for i := int(maphash.String(t.seed, key)) & mask; ; i = (i + 1) & mask {
		if s := t.slots[i]; s == 0 || is(int(s-1)) {
			return &t.slots[i]
		}
	}
}

// put stores number in slot p, as slot returned it.
func (t *keyTable) put(p *int32, number int) {
	if *p == 0 {
		if t.used++; 2*t.used > len(t.slots) {
			panic("baseline: keyTable holds more numbers than it was made for")
		}
	}
	*p = int32(number + 1)
}

// number returns the number in slot p, or -1 for a free slot.
func number(p *int32) int { return int(*p) - 1 }
