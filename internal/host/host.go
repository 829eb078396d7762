// Package host reads what the crawler needs to know about the machine from
// Linux's /proc: the memory still available, how short of CPU it is, and
// the memory and CPU time of a process tree (a browser and its renderers).
//
// Every reader reports ok=false, never a guess, where /proc or a file in it
// is missing (another OS, a locked-down container): callers then fall back
// to their defaults.
package host

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// proc is the procfs root; tests keep the real one.
const proc = "/proc"

// MemAvailable returns /proc/meminfo's MemAvailable in bytes: the kernel's
// estimate of what can be allocated without swapping, page cache included.
func MemAvailable() (int64, bool) {
	return meminfo("MemAvailable")
}

// MemTotal returns /proc/meminfo's MemTotal in bytes.
func MemTotal() (int64, bool) {
	return meminfo("MemTotal")
}

func meminfo(field string) (int64, bool) {
	data, err := os.ReadFile(filepath.Join(proc, "meminfo"))
	if err != nil {
		return 0, false
	}
	kb, ok := kbField(data, field)
	return kb << 10, ok
}

// kbField reads "Field:   123 kB" from data, in kB.
func kbField(data []byte, field string) (int64, bool) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		fs := bytes.Fields(rest)
		if len(fs) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(string(fs[0]), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// CPUPressure returns the share, 0 to 100, of the last 10 seconds in which
// some runnable task waited for a CPU (/proc/pressure/cpu, "some avg10"):
// near 0 while the CPUs keep up, near 100 when they never do.
func CPUPressure() (float64, bool) {
	data, err := os.ReadFile(filepath.Join(proc, "pressure", "cpu"))
	if err != nil {
		return 0, false
	}
	return someAvg10(data)
}

func someAvg10(data []byte) (float64, bool) {
	for line := range bytes.Lines(data) {
		if !bytes.HasPrefix(line, []byte("some ")) {
			continue
		}
		for _, f := range bytes.Fields(line) {
			if v, ok := bytes.CutPrefix(f, []byte("avg10=")); ok {
				x, err := strconv.ParseFloat(string(v), 64)
				return x, err == nil
			}
		}
	}
	return 0, false
}

// LoadPerCPU returns the one-minute load average (/proc/loadavg) divided by
// the CPUs this process may use: 1 means as many runnable tasks as CPUs.
func LoadPerCPU() (float64, bool) {
	data, err := os.ReadFile(filepath.Join(proc, "loadavg"))
	if err != nil {
		return 0, false
	}
	fs := strings.Fields(string(data))
	if len(fs) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(fs[0], 64)
	if err != nil {
		return 0, false
	}
	return l / float64(runtime.NumCPU()), true
}

// stat is what /proc/PID/stat tells of one process.
type stat struct {
	ppid int
	// cpu is the time the process spent on a CPU, and its children that it
	// waited for (renderers that exited), in clock ticks.
	cpu int64
}

// readStat reads /proc/PID/stat. The command name is in parentheses and
// may hold spaces and parentheses, so fields are counted from the last ')'.
func readStat(pid string) (stat, bool) {
	data, err := os.ReadFile(filepath.Join(proc, pid, "stat"))
	if err != nil {
		return stat{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return stat{}, false
	}
	fs := strings.Fields(string(data[i+1:]))
	// After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
	if len(fs) < 15 {
		return stat{}, false
	}
	ppid, err := strconv.Atoi(fs[1])
	if err != nil {
		return stat{}, false
	}
	var cpu int64
	for _, f := range fs[11:15] {
		n, _ := strconv.ParseInt(f, 10, 64)
		cpu += n
	}
	return stat{ppid: ppid, cpu: cpu}, true
}

// tree returns pid and its descendants with their stats.
func tree(pid int) map[int]stat {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	all := map[int]stat{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(e.Name()); ok {
			all[n] = st
		}
	}
	out := map[int]stat{}
	for p, st := range all {
		// Walk up to pid; a cycle cannot happen, but a bound is cheap.
		for q, depth := p, 0; depth < 64; depth++ {
			if q == pid {
				out[p] = st
				break
			}
			parent, ok := all[q]
			if !ok || parent.ppid == q {
				break
			}
			q = parent.ppid
		}
	}
	return out
}

// TreeMemory returns the memory of process pid and its descendants, in
// bytes: the sum of their proportional set sizes (smaps_rollup's Pss, which
// counts a page shared by n processes as 1/n in each, so the sum is what
// the tree really holds), or of their resident sizes where Pss cannot be
// read. ok is false when pid is gone.
func TreeMemory(pid int) (int64, bool) {
	procs := tree(pid)
	if _, ok := procs[pid]; !ok {
		return 0, false
	}
	var total int64
	for p := range procs {
		total += ProcessMemory(p)
	}
	return total, true
}

// ProcessMemory returns one process's proportional set size in bytes, its
// resident size where Pss cannot be read, 0 when it is gone.
func ProcessMemory(pid int) int64 {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	if data, err := os.ReadFile(filepath.Join(dir, "smaps_rollup")); err == nil {
		if kb, ok := kbField(data, "Pss"); ok {
			return kb << 10
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		if kb, ok := kbField(data, "VmRSS"); ok {
			return kb << 10
		}
	}
	return 0
}

// ticksPerSecond is the kernel's USER_HZ, 100 on every Linux architecture
// Go supports.
const ticksPerSecond = 100

// TreeCPU returns the CPU time process pid and its descendants have used,
// those of their children that exited and were waited for included (a
// browser's closed renderers). ok is false when pid is gone.
func TreeCPU(pid int) (time.Duration, bool) {
	procs := tree(pid)
	if _, ok := procs[pid]; !ok {
		return 0, false
	}
	var ticks int64
	for _, st := range procs {
		ticks += st.cpu
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond, true
}

// Children returns the pids whose parent is pid.
func Children(pid int) []int {
	var out []int
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if st, ok := readStat(e.Name()); ok && st.ppid == pid {
			n, _ := strconv.Atoi(e.Name())
			out = append(out, n)
		}
	}
	return out
}

// Status reads one "Field: value" line of /proc/PID/status ("self" for
// this process), value as written.
func Status(pid, field string) (string, bool) {
	f, err := os.Open(filepath.Join(proc, pid, "status"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}
