package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/skimguard/skimguard/config"
)

func runJourneyImport(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("journey import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: skimguard journey import FILE\n\n"+
			"Print, as the steps: of a page in sites.yaml, the journey a flow recorded with Chrome DevTools'\n"+
			"Recorder and exported as JSON replays as. A page can also name the export itself (recording: FILE).\n"+
			"Steps that cannot be replayed are errors naming their index and line in FILE.\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("journey import needs one file: a flow exported as JSON from Chrome DevTools' Recorder")
	}
	j, title, err := config.LoadRecording(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# Chrome Recorder flow %q (%s):\n"+
		"# the steps of a page in sites.yaml whose url is the page they end on.\n", title, fs.Arg(0))
	return config.WriteSteps(e.stdout, j.Steps)
}
