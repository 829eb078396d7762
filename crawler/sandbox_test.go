package crawler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"

	skimguard "github.com/skimguard/skimguard"
)

// The sandbox tests run Chromium the way the container does: as a user
// that is not root (so its sandbox stays on) under the shipped seccomp
// profile. No Docker engine is needed: the test binary runs itself again
// as nobody, loads the profile as a seccomp filter and scans a page.
const (
	sandboxHelperEnv  = "SKIMGUARD_SANDBOX_HELPER" // the profile, as JSON
	sandboxURLEnv     = "SKIMGUARD_SANDBOX_URL"
	sandboxProfileRel = "../docs/seccomp-chromium.json"
	nobody            = 65534
)

// dockerProfile is the part of Docker's seccomp profile format the shipped
// profile uses.
type dockerProfile struct {
	DefaultAction string `json:"defaultAction"`
	Syscalls      []struct {
		Names  []string `json:"names"`
		Action string   `json:"action"`
	} `json:"syscalls"`
}

func readProfile(t *testing.T) dockerProfile {
	t.Helper()
	b, err := os.ReadFile(sandboxProfileRel)
	if err != nil {
		t.Fatal(err)
	}
	var p dockerProfile
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s is not a seccomp profile: %v", sandboxProfileRel, err)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Fatalf("%s allows by default (%s): it must refuse what it does not name", sandboxProfileRel, p.DefaultAction)
	}
	return p
}

// allowed lists the system calls a profile allows.
func (p dockerProfile) allowed() []string {
	var names []string
	for _, g := range p.Syscalls {
		if g.Action == "SCMP_ACT_ALLOW" {
			names = append(names, g.Names...)
		}
	}
	return names
}

func TestSeccompProfileRefusesWhatEscapesAContainer(t *testing.T) {
	allowed := readProfile(t).allowed()
	for _, name := range []string{"mount", "umount2", "setns", "ptrace", "bpf", "keyctl", "add_key", "perf_event_open", "kexec_load", "init_module", "finit_module", "open_by_handle_at", "pivot_root", "io_uring_setup", "userfaultfd"} {
		for _, a := range allowed {
			if a == name {
				t.Errorf("the profile allows %s", name)
			}
		}
	}
}

func TestChromiumKeepsItsSandboxUnderTheShippedSeccompProfile(t *testing.T) {
	needBrowser(t)
	p := readProfile(t)
	site := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>checkout</title><script>document.title = 'ready';</script>`)
	}))

	t.Run("the shipped profile lets the sandbox start", func(t *testing.T) {
		out, err := runSandboxed(t, p.allowed(), site.URL)
		if err != nil || !strings.Contains(out, "scanned:") {
			t.Fatalf("Chromium did not scan under the shipped profile: %v\n%s", err, out)
		}
	})
	t.Run("without namespaces the error names the profile", func(t *testing.T) {
		// Docker's default refuses the namespaces: take them away.
		var fewer []string
		for _, n := range p.allowed() {
			if n != "unshare" && n != "clone" && n != "clone3" {
				fewer = append(fewer, n)
			}
		}
		out, err := runSandboxed(t, fewer, site.URL, "clone-without-namespaces")
		if err == nil || !strings.Contains(out, "docs/seccomp-chromium.json") {
			t.Fatalf("want a failure that names docs/seccomp-chromium.json; got %v:\n%s", err, out)
		}
	})
}

// runSandboxed runs this test binary again as nobody under a filter that
// allows names, to scan url, and returns what it printed.
func runSandboxed(t *testing.T, names []string, url string, extra ...string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: running Chromium as another user (to keep its sandbox on) needs root")
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("skipped: this kernel allows no user namespaces, which Chromium's sandbox needs")
	}
	// A directory nobody can reach: the binary and a home for Chromium.
	dir, err := os.MkdirTemp("", "skimguard-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "crawler.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, home} {
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	policy, err := json.Marshal(append([]string{strings.Join(names, " ")}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$")
	cmd.Env = []string{sandboxHelperEnv + "=" + string(policy), sandboxURLEnv + "=" + url, "HOME=" + home, "TMPDIR=" + home, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sandboxHelper runs in the re-started binary: it loads the filter for the
// whole process (Chromium inherits it) and scans the page.
func sandboxHelper() int {
	var policy []string
	if err := json.Unmarshal([]byte(os.Getenv(sandboxHelperEnv)), &policy); err != nil || len(policy) == 0 {
		fmt.Println("bad helper policy:", err)
		return 2
	}
	info, err := arch.GetInfo("")
	if err != nil {
		fmt.Println(err)
		return 2
	}
	// Docker skips names the architecture does not have; so does this.
	var names []string
	for _, n := range strings.Fields(policy[0]) {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	groups := []seccomp.SyscallGroup{{Names: names, Action: seccomp.ActionAllow}}
	if len(policy) > 1 && policy[1] == "clone-without-namespaces" {
		// As Docker's default profile: clone only without namespace flags.
		const namespaceFlags = 0x7E020000
		groups = append(groups, seccomp.SyscallGroup{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{{
			Name: "clone", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsNotSet, Value: namespaceFlags}},
		}}}, seccomp.SyscallGroup{
			// ENOSYS, as Docker answers, makes the C library fall back
			// to clone for its threads.
			Names: []string{"clone3"}, Action: seccomp.ActionErrno | seccomp.Action(syscall.ENOSYS),
		})
	}
	filter := seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: seccomp.Policy{DefaultAction: seccomp.ActionErrno, Syscalls: groups}}
	if err := seccomp.LoadFilter(filter); err != nil {
		fmt.Println("loading the seccomp filter:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := New(ctx, Options{LoadTimeout: 30 * time.Second, DefaultWait: time.Second})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer c.Close()
	o, err := c.Scan(ctx, skimguard.Page{Site: "s", Name: "p", URL: os.Getenv(sandboxURLEnv), Wait: time.Second})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("scanned: %d scripts, status %d\n", len(o.Scripts), o.Status)
	return 0
}
