package main

import (
	"context"
	"fmt"

	skimguard "github.com/skimguard/skimguard"
)

func runInventory(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "inventory", "inventory [--site S] [flags]",
		"List each page's approved scripts with their hashes, origin, first-seen date, approver and justification:\nthe script inventory PCI DSS 6.4.3 asks for.")
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
	for _, b := range bs {
		fmt.Fprintf(e.stdout, "%s/%s  %s  (baseline version %d, %s by %s: %s)\n", b.Site, b.Page, b.URL, b.Version,
			b.CreatedAt.Local().Format("2006-01-02"), b.ApprovedBy, b.Reason)
		tw := newTable(e.stdout)
		fmt.Fprintln(tw, "  SCRIPT\tKIND\tORIGIN\tSHA-256\tFIRST SEEN\tAPPROVED BY\tJUSTIFICATION")
		for _, it := range b.Items {
			if it.Type != skimguard.ItemScript {
				continue
			}
			origin := it.Origin
			if origin == "" {
				origin = "(page)"
			}
			opt := ""
			if it.Optional {
				opt = " (sometimes)"
			}
			fmt.Fprintf(tw, "  %s%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clip(it.Subject, 60), opt, it.ScriptKind(), origin,
				short(it.SHA256), it.FirstSeen.Local().Format("2006-01-02"), it.ApprovedBy, it.Reason)
		}
		tw.Flush()
		fmt.Fprintln(e.stdout)
	}
	return nil
}
