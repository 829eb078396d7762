package main

import (
	"context"
	"fmt"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/report"
)

func runFindings(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "findings", "findings [--all] [flags]", "List open findings (with --all, approved and rejected ones too).")
	all := fs.Bool("all", false, "include closed findings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	filter := skimguard.FindingFilter{Sites: c.sites, Status: skimguard.StatusOpen}
	if *all {
		filter.Status = ""
	}
	list, err := a.store.Findings(ctx, filter)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no open findings")
		return nil
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tKIND\tPAGE\tSUBJECT\tLAST SEEN")
	for _, f := range report.Sorted(list) {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s/%s\t%s\t%s\n", f.ID, f.Status, f.Severity, f.Kind, f.Site, f.Page,
			clip(f.Subject, 70), f.LastSeen.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
