package main

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/skimguard/skimguard/evidence"
)

func runReport(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "report", "report [--from DATE] [--to DATE] [--format html|csv|json] [--out FILE] [flags]",
		"Write the auditor's evidence for a period: the PCI DSS 6.4.3 script inventory with justifications and\n"+
			"approvals, and the 11.6.1 evidence (every scan and its result, every change detected and its review,\n"+
			"and whether each page was checked at least weekly, gaps listed). Dates are YYYY-MM-DD, in UTC; --to\n"+
			"includes its day. HTML is one self-contained file that prints well to PDF.")
	now := time.Now().UTC()
	from := fs.String("from", now.AddDate(0, 0, -30).Format(time.DateOnly), "first day of the period")
	to := fs.String("to", now.Format(time.DateOnly), "last day of the period")
	format := fs.String("format", "html", "html, csv or json")
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start, err := time.Parse(time.DateOnly, *from)
	if err != nil {
		return usageErr("--from %q: write a date as YYYY-MM-DD", *from)
	}
	end, err := time.Parse(time.DateOnly, *to)
	if err != nil {
		return usageErr("--to %q: write a date as YYYY-MM-DD", *to)
	}
	if !slices.Contains(evidence.Formats, *format) {
		return usageErr("unknown --format %q: use html, csv or json", *format)
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := evidence.Build(ctx, a.store, a.pages, start, end.AddDate(0, 0, 1), now)
	if err != nil {
		return err
	}
	write := func(w io.Writer) error { return evidence.Write(w, *format, r) }
	if *out != "" {
		return writeFile(*out, write)
	}
	return write(e.stdout)
}
