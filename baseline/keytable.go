package baseline

import "hash/maphash"

// keyTable finds numbered things (baseline items, observed entries) by
// string key: an open-addressing hash table of their numbers. On a
// 5,000-item page, Go maps keyed by (type, key) were a fifth of Compare's
// allocated bytes and much of its time; the caller knows each number's key,
// so the table stores no strings.
type keyTable struct {
	seed maphash.Seed
	// slots hold 1 + a number in the low 32 bits and the high half of the
	// key's hash above, so that most probes settle without looking at a
	// key; 0 marks a free slot.
	slots []uint64
	used  int
}

// newKeyTable makes a table for at most n numbers. It stays at most half
// full, so probe runs stay short and a free slot always ends them.
func newKeyTable(n int) keyTable {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return keyTable{seed: maphash.MakeSeed(), slots: make([]uint64, size)}
}

// keySlot is a place in a keyTable, as slot found it.
type keySlot struct {
	p   *uint64
	tag uint64 // the key's hash, high half
}

// slot returns the slot holding the number with key for which is(number)
// holds (is compares the number's key with key), or the free slot where
// such a number goes.
func (t *keyTable) slot(key string, is func(number int) bool) keySlot {
	h := maphash.String(t.seed, key)
	tag := h &^ (1<<32 - 1)
	mask := len(t.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 || s&^(1<<32-1) == tag && is(int(uint32(s))-1) {
			return keySlot{&t.slots[i], tag}
		}
	}
}

// number returns the number in the slot, or -1 for a free slot.
func (s keySlot) number() int { return int(uint32(*s.p)) - 1 }

// put stores number in slot s, as slot returned it.
func (t *keyTable) put(s keySlot, number int) {
	if *s.p == 0 {
		if t.used++; 2*t.used > len(t.slots) {
			panic("baseline: keyTable holds more numbers than it was made for")
		}
	}
	*s.p = s.tag | uint64(uint32(number+1))
}
