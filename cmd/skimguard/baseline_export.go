package main

import (
	"context"

	"github.com/skimguard/skimguard/lockfile"
)

func runBaselineExport(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "baseline export", "baseline export [--site S] [--out FILE] [flags]",
		"Write the approved baselines as a stable, sorted lock file (one item per line), to commit beside the code\nand check in CI with `skimguard check --baseline-file`.")
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	bs, err := a.approved(ctx, c.sites)
	if err != nil {
		return err
	}
	lock := lockfile.FromBaselines(bs)
	if *out != "" {
		return writeFile(*out, lock.Write)
	}
	return lock.Write(e.stdout)
}
