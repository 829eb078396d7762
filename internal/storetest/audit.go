package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func testAudit(t *testing.T, h Harness) {
	t.Run("entries cannot be changed or removed", func(t *testing.T) {
		db := h.Open(t)
		MustSaveBaseline(t, db, BaselineOf("shop", "checkout", "a"))
		before := MustAudit(t, db)
		for _, q := range []string{
			"UPDATE audit SET actor = 'mallory'",
			"DELETE FROM audit",
		} {
			err := h.Exec(t, db, q)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only refusal", q, err)
			}
		}
		if after := MustAudit(t, db); !reflect.DeepEqual(after, before) {
			t.Errorf("audit log changed: %+v", after)
		}
	})

	t.Run("entries are listed oldest first", func(t *testing.T) {
		db := h.Open(t)
		for i := 0; i < 3; i++ {
			b := BaselineOf("shop", "checkout", "a")
			b.CreatedAt = T0.Add(time.Duration(i) * time.Hour)
			MustSaveBaseline(t, db, b)
		}
		log := MustAudit(t, db)
		for i, e := range log {
			if want := fmt.Sprintf("version %d, 1 items", i+1); e.Detail != want || !e.At.Equal(T0.Add(time.Duration(i)*time.Hour)) {
				t.Errorf("entry %d = %+v, want %q", i, e, want)
			}
		}
	})
}

func testAppendAudit(t *testing.T, h Harness) {
	db := h.Open(t)
	e := skimguard.AuditEntry{At: T0, Actor: "203.0.113.66", Action: "signin.failed", Detail: `sign-in as "mallory" failed from 203.0.113.66`}
	if err := db.AppendAudit(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	log := MustAudit(t, db)
	if len(log) != 1 {
		t.Fatalf("audit log = %+v, want the one entry", log)
	}
	got := log[0]
	got.ID = 0
	if !reflect.DeepEqual(got, e) {
		t.Errorf("entry = %+v, want %+v", got, e)
	}
}
