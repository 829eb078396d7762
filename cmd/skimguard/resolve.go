package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	skimguard "github.com/skimguard/skimguard"
)

func runApprove(ctx context.Context, e env, args []string) error {
	return resolve(ctx, e, args, skimguard.StatusApproved)
}

func runReject(ctx context.Context, e env, args []string) error {
	return resolve(ctx, e, args, skimguard.StatusRejected)
}

func resolve(ctx context.Context, e env, args []string, status skimguard.FindingStatus) error {
	verb := map[skimguard.FindingStatus]string{skimguard.StatusApproved: "approve", skimguard.StatusRejected: "reject"}[status]
	summary := "Accept findings into their pages' baselines as a new baseline version (older versions are kept)."
	if status == skimguard.StatusRejected {
		summary = "Close findings as rejected: the baseline stays as it is, and the change is flagged again if seen again."
	}
	fs, c := newFlags(e, verb, verb+" ID... --reason TEXT [--by NAME]", summary)
	by := fs.String("by", currentUser(e), "who decides")
	reason := fs.String("reason", "", "the business or technical justification (required)")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	var ids []int64
	for _, arg := range positional {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || id <= 0 {
			return usageErr("%s: %q is not a finding id (see `skimguard findings`)", verb, arg)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return usageErr("%s needs finding ids (see `skimguard findings`)", verb)
	}
	if *reason == "" {
		return usageErr("%s needs --reason: PCI DSS 6.4.3 asks for a justification of every script", verb)
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.mon.Resolve(ctx, ids, skimguard.Resolution{Status: status, By: *by, Reason: *reason}); err != nil {
		if errors.Is(err, skimguard.ErrSameReviewer) {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		return err
	}
	// Under the two-person rule a first approval leaves a finding open.
	open, err := a.store.Findings(ctx, skimguard.FindingFilter{IDs: ids, Status: skimguard.StatusOpen})
	if err != nil {
		return err
	}
	if closed := len(ids) - len(open); closed > 0 || len(open) == 0 {
		fmt.Fprintf(e.stdout, "%s %d finding(s) as %s\n", status, closed, *by)
	}
	for _, f := range open {
		fmt.Fprintf(e.stdout, "finding %d (%s) approved by %s, waiting for a second reviewer (approvals: %s): another reviewer confirms it with `skimguard approve %d --by NAME --reason TEXT`\n",
			f.ID, f.Severity, *by, skimguard.ApprovalsTwoPerson, f.ID)
	}
	return nil
}
