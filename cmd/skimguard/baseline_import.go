package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

func runBaselineImport(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "baseline import", "baseline import FILE --reason TEXT [--by NAME] [flags]",
		"Load a lock file's baselines into the database as each page's new baseline version; older versions are kept.")
	by := fs.String("by", currentUser(e), "who approves the import")
	reason := fs.String("reason", "", "why (required; e.g. the pull request that changed the lock file)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageErr("baseline import takes one lock file (see `skimguard baseline export`)")
	}
	file := files[0]
	if *reason == "" {
		return usageErr("baseline import needs --reason: say why these baselines are approved")
	}
	lock, err := readLock(file)
	if err != nil {
		return err
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	n := 0
	for _, b := range lock.Baselines() {
		if len(c.sites) > 0 && !slices.Contains(c.sites, b.Site) {
			continue
		}
		b.ApprovedBy, b.Reason, b.CreatedAt = *by, *reason, time.Now().UTC()
		if err := a.store.SaveBaseline(ctx, &b); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s/%s: baseline version %d imported from %s (%d items)\n", b.Site, b.Page, b.Version, file, len(b.Items))
		n++
	}
	if n == 0 {
		return errors.New("the lock file has no page of the selected sites")
	}
	return nil
}
