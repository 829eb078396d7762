package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/web"
)

func runUser(ctx context.Context, e env, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "add":
		return runUserAdd(ctx, e, args)
	case "list":
		return runUserList(ctx, e, args)
	case "remove":
		return runUserRemove(ctx, e, args)
	case "-h", "--help", "help":
		fmt.Fprint(e.stdout, userUsage)
		return nil
	}
	return usageErr("user: say what to do: add, list or remove\n\n%s", userUsage)
}

const userUsage = `Usage:
  skimguard user add NAME [--db FILE]     add a web interface user, or set a new password; the password is
                                           asked twice on a terminal, else read as one line from standard input
  skimguard user list [--db FILE]         list the users
  skimguard user remove NAME [--db FILE]  remove a user
Removing a user, or giving one a new password, ends that user's sessions in a running serve at once.
`

// openUsers opens the store for a user command.
func openUsers(ctx context.Context, e env, name string, args []string) (*app, []string, error) {
	fs, c := newFlags(e, "user "+name, "user "+name+" [NAME] [flags]", strings.TrimSpace(userUsage))
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	return a, pos, nil
}

func runUserAdd(ctx context.Context, e env, args []string) error {
	a, pos, err := openUsers(ctx, e, "add", args)
	if err != nil {
		return err
	}
	defer a.Close()
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usageErr("user add: give one user name: skimguard user add NAME")
	}
	name := pos[0]
	password, err := readPassword(e, name)
	if err != nil {
		return err
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("user add %s: %w", name, err)
	}
	u := &skimguard.User{Name: name, PasswordHash: hash}
	if err := a.store.SaveUser(ctx, u, currentUser(e)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s can now sign in to `skimguard serve`\n", name)
	return nil
}

// readPassword asks for a password twice without echo on a terminal, or
// reads one line from standard input (for scripts).
func readPassword(e env, name string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "Password for %s (at least 12 characters): ", name)
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		fmt.Fprint(e.stderr, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return string(p1), nil
	}
	if e.stdin == nil {
		return "", errors.New("no password: give it on standard input")
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func runUserList(ctx context.Context, e env, args []string) error {
	a, pos, err := openUsers(ctx, e, "list", args)
	if err != nil {
		return err
	}
	defer a.Close()
	if len(pos) > 0 {
		return usageErr("user list takes no arguments")
	}
	users, err := a.store.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(e.stdout, "no users yet: add one with `skimguard user add NAME`")
		return nil
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "USER\tADDED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\n", u.Name, u.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func runUserRemove(ctx context.Context, e env, args []string) error {
	a, pos, err := openUsers(ctx, e, "remove", args)
	if err != nil {
		return err
	}
	defer a.Close()
	if len(pos) != 1 {
		return usageErr("user remove: give one user name: skimguard user remove NAME")
	}
	if err := a.store.DeleteUser(ctx, pos[0], currentUser(e)); err != nil {
		if errors.Is(err, skimguard.ErrNotFound) {
			return fmt.Errorf("no user %q: `skimguard user list` shows the users", pos[0])
		}
		return err
	}
	fmt.Fprintf(e.stdout, "user %s removed\n", pos[0])
	return nil
}
