package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/sqlite"
)

func runMigrate(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "migrate", "migrate --from FILE --to postgres://USER@HOST/DATABASE",
		"Copy the whole history of a SQLite database into PostgreSQL: scans with their observations and screenshots,\n"+
			"baselines and every version, findings with their reviews, the audit log, alert deliveries, users, shoppers'\n"+
			"reports with their verdicts and the sites' report tokens, each with its id and times, so that links and\n"+
			"audit references stay valid. Stop serve first. Running it again copies what is missing and what changed,\n"+
			"and nothing else, so a run cut short can be finished. It ends by counting each table's rows in both and\n"+
			"fails when they differ. The role's password comes from PGPASSWORD, or the variable sites.yaml's\n"+
			"database_password_env names.")
	from := fs.String("from", "", "the SQLite database to copy")
	to := fs.String("to", "", "the PostgreSQL database to copy into, postgres://USER@HOST:5432/DATABASE?sslmode=require; a new one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *from == "" || *to == "":
		return usageErr("migrate: give the SQLite file with --from and the PostgreSQL URL with --to")
	case postgres.IsURL(*from):
		return usageErr("migrate: --from %s is a PostgreSQL URL: give the SQLite file to copy", *from)
	case !postgres.IsURL(*to):
		return usageErr("migrate: --to is not a PostgreSQL URL: write postgres://USER@HOST:5432/DATABASE?sslmode=require")
	case missing(*from):
		return fmt.Errorf("migrate: %s does not exist: give the SQLite database to copy", *from)
	}
	// sites.yaml, when there is one, may name the password's variable.
	var cfg *config.Config
	if !missing(c.config) {
		var err error
		if cfg, err = config.Load(c.config); err != nil {
			return err
		}
	}
	// A serve writing the file while it is copied would leave the copy
	// behind; the other commands write rarely, and a second run copies
	// what they wrote.
	lock, err := sqlite.LockServe(*from)
	if err != nil {
		return fmt.Errorf("migrate: stop serve first: %w", err)
	}
	defer lock.Release()
	src, err := sqlite.Open(ctx, *from)
	if err != nil {
		return err
	}
	defer src.Close()
	store, err := openDatabase(ctx, e, *to, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	dst, ok := store.(*postgres.DB)
	if !ok {
		return errors.New("migrate: --to did not open a PostgreSQL database")
	}

	fmt.Fprintf(e.stderr, "copying %s into %s\n", *from, *to)
	tables, err := dst.Copy(ctx, src, func(tc postgres.TableCopy) {
		fmt.Fprintf(e.stderr, "  %-17s %d rows, %d new, %d updated\n", tc.Table, tc.Source, tc.Copied, tc.Updated)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w (what was copied stays: run migrate again to go on)", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\tsqlite\tpostgres\tnew\tupdated")
	var differ []string
	for _, tc := range tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", tc.Table, tc.Source, tc.Target, tc.Copied, tc.Updated)
		if tc.Source != tc.Target {
			differ = append(differ, fmt.Sprintf("%s (%d in SQLite, %d in PostgreSQL)", tc.Table, tc.Source, tc.Target))
		}
	}
	tw.Flush()
	fmt.Fprintln(e.stdout, "Sessions and failed sign-ins are not copied: people sign in again.")
	if len(differ) > 0 {
		return fmt.Errorf("migrate: the copy is not whole: %s: either PostgreSQL holds rows of its own (copy into a new, empty database) or the SQLite file changed while it was copied (run migrate again)",
			strings.Join(differ, "; "))
	}
	fmt.Fprintln(e.stdout, "Every table has as many rows in PostgreSQL as in the SQLite file.")
	return nil
}
