package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
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
	case "role":
		return runUserRole(ctx, e, args)
	case "remove":
		return runUserRemove(ctx, e, args)
	case "-h", "--help", "help":
		fmt.Fprint(e.stdout, userUsage)
		return nil
	}
	return usageErr("user: say what to do: add, list, role or remove\n\n%s", userUsage)
}

const userUsage = `Usage:
  skimguard user add NAME [--role ROLE] [--db FILE]
                                          add a web interface user, or set a new password; the password is
                                          asked twice on a terminal, else read as one line from standard input
  skimguard user role NAME ROLE [--db FILE]  give a user another role
  skimguard user list [--db FILE]         list the users and their roles
  skimguard user remove NAME [--db FILE]  remove a user
Roles: viewer reads everything and changes nothing; reviewer also approves and rejects findings; admin
also manages users and settings. A new user is a viewer, or an admin when it is the database's first.
Removing a user, or giving one a new password or role, applies to its sessions in a running serve at once.
`

// openUsers opens the store for a user command; setup, when not nil, adds
// the command's own flags.
func openUsers(ctx context.Context, e env, name string, args []string, setup func(*flag.FlagSet)) (*app, []string, error) {
	fs, c := newFlags(e, "user "+name, "user "+name+" [NAME] [flags]", strings.TrimSpace(userUsage))
	if setup != nil {
		setup(fs)
	}
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
	var roleFlag string
	a, pos, err := openUsers(ctx, e, "add", args, func(fs *flag.FlagSet) {
		fs.StringVar(&roleFlag, "role", "", "viewer, reviewer or admin (default: viewer, or admin for the first user)")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usageErr("user add: give one user name: skimguard user add NAME")
	}
	name := pos[0]
	role, err := newUserRole(ctx, a.store, name, roleFlag)
	if err != nil {
		return err
	}
	password, err := readPassword(e, name)
	if err != nil {
		return err
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("user add %s: %w", name, err)
	}
	u := &skimguard.User{Name: name, PasswordHash: hash, Role: role}
	if err := a.store.SaveUser(ctx, u, currentUser(e)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s (%s) can now sign in to `skimguard serve`\n", name, u.Role)
	return nil
}

// newUserRole is the role of a user being added: --role, else viewer, the
// least, or admin for the database's first user, who must be able to do
// everything. An existing user keeps its role: `user add` then only sets
// its password.
func newUserRole(ctx context.Context, store skimguard.Store, name, flag string) (skimguard.Role, error) {
	u, err := store.User(ctx, name)
	switch {
	case err == nil && flag != "" && skimguard.Role(flag) != u.Role:
		return "", usageErr("user %s exists and is a %s: `user add` only sets its password; give it another role with `skimguard user role %s %s`",
			name, u.Role, name, flag)
	case err == nil:
		return u.Role, nil
	case !errors.Is(err, skimguard.ErrNotFound):
		return "", err
	case flag != "":
		role, err := skimguard.ParseRole(flag)
		if err != nil {
			return "", usageErr("--role: %v", err)
		}
		return role, nil
	}
	users, err := store.Users(ctx)
	if err != nil {
		return "", err
	}
	if len(users) == 0 {
		return skimguard.RoleAdmin, nil
	}
	return skimguard.RoleViewer, nil
}

func runUserRole(ctx context.Context, e env, args []string) error {
	a, pos, err := openUsers(ctx, e, "role", args, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if len(pos) != 2 {
		return usageErr("user role: give a user name and a role: skimguard user role NAME viewer|reviewer|admin")
	}
	role, err := skimguard.ParseRole(pos[1])
	if err != nil {
		return usageErr("user role: %v", err)
	}
	if err := a.store.SetUserRole(ctx, pos[0], role, currentUser(e)); err != nil {
		if errors.Is(err, skimguard.ErrNotFound) {
			return fmt.Errorf("no user %q: `skimguard user list` shows the users", pos[0])
		}
		return err
	}
	fmt.Fprintf(e.stdout, "user %s is now a %s\n", pos[0], role)
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
	a, pos, err := openUsers(ctx, e, "list", args, nil)
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
	fmt.Fprintln(tw, "USER\tROLE\tADDED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func runUserRemove(ctx context.Context, e env, args []string) error {
	a, pos, err := openUsers(ctx, e, "remove", args, nil)
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
