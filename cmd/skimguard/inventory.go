package main

import (
	"context"
	"fmt"
	"time"

	"github.com/skimguard/skimguard/evidence"
)

func runInventory(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "inventory", "inventory [--site S] [flags]",
		"List each page's approved scripts, named as checks recognise them (parts of a URL that vary per load\n"+
			"shown as *), with their hashes, origin, first-seen date, the last check that verified them (in the\n"+
			"last 30 days), approver and justification, and what of the card each is approved to see (the card fields\n"+
			"it listens to or reads): the script inventory PCI DSS 6.4.3 asks for.")
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
	now := time.Now().UTC()
	inv, err := evidence.Inventory(ctx, a.store, bs, now.Add(-evidence.Lookback), now.Add(time.Second))
	if err != nil {
		return err
	}
	structure := false
	for _, b := range bs {
		fmt.Fprintf(e.stdout, "%s/%s  %s  (baseline version %d, %s by %s: %s)\n", b.Site, b.Page, b.URL, b.Version,
			b.CreatedAt.Local().Format("2006-01-02"), b.ApprovedBy, b.Reason)
		tw := newTable(e.stdout)
		fmt.Fprintln(tw, "  SCRIPT\tKIND\tORIGIN\tSHA-256\tFIRST SEEN\tLAST VERIFIED\tAPPROVED BY\tJUSTIFICATION\tSEES THE CARD")
		for _, s := range inv {
			if s.Site != b.Site || s.Page != b.Page {
				continue
			}
			origin := s.Origin
			if origin == "" {
				origin = "(page)"
			}
			opt := ""
			if s.Optional {
				opt = " (sometimes)"
			}
			verified := "not in 30 days"
			if s.LastVerified != nil {
				verified = s.LastVerified.Local().Format("2006-01-02 15:04")
			}
			hash := short(s.SHA256)
			if s.MatchedBy == evidence.MatchedByStructure {
				hash, structure = "by structure *", true
			}
			sees := s.CardAccess
			if sees == "" {
				sees = "-"
			}
			fmt.Fprintf(tw, "  %s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clip(s.Identity, 60), opt, s.Kind, origin,
				hash, s.FirstSeen.Local().Format("2006-01-02"), verified, s.ApprovedBy, s.Justification, sees)
		}
		tw.Flush()
		fmt.Fprintln(e.stdout)
	}
	if structure {
		fmt.Fprintln(e.stdout, "* matched by structure: text varies per load (tokens, timestamps, build stamps); checks accept any text with the approved structure.")
	}
	return nil
}
