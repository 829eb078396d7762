package host

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParsers(t *testing.T) {
	kb, ok := kbField([]byte("MemTotal:       24684084 kB\nMemAvailable:   23298556 kB\n"), "MemAvailable")
	if !ok || kb != 23298556 {
		t.Errorf("kbField = %d, %v", kb, ok)
	}
	if _, ok := kbField([]byte("MemTotal: 1 kB\n"), "MemAvailable"); ok {
		t.Error("a missing field was read")
	}
	p, ok := someAvg10([]byte("some avg10=83.85 avg60=71.98 avg300=50.06 total=7524864973\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	if !ok || p != 83.85 {
		t.Errorf("someAvg10 = %v, %v", p, ok)
	}
}

func TestThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc")
	}
	if n, ok := MemAvailable(); !ok || n <= 0 {
		t.Errorf("MemAvailable = %d, %v", n, ok)
	}
	if l, ok := LoadPerCPU(); !ok || l < 0 {
		t.Errorf("LoadPerCPU = %v, %v", l, ok)
	}
	// A child that spins counts in this process's tree while it runs and,
	// once waited for, in this process's own times.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 5")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Process.Kill()
	before, ok := TreeCPU(os.Getpid())
	if !ok {
		t.Fatal("TreeCPU of this process failed")
	}
	time.Sleep(1500 * time.Millisecond)
	after, _ := TreeCPU(os.Getpid())
	if after <= before {
		t.Errorf("TreeCPU did not grow while a child spun: %v then %v", before, after)
	}
	mem, ok := TreeMemory(os.Getpid())
	if self := ProcessMemory(os.Getpid()); !ok || mem <= self {
		t.Errorf("TreeMemory = %d (%v), not above this process's own %d", mem, ok, self)
	}
	if _, ok := TreeMemory(1 << 30); ok {
		t.Error("TreeMemory of a process that does not exist")
	}
	if v, ok := Status("self", "VmRSS"); !ok || v == "" {
		t.Errorf("Status VmRSS = %q, %v", v, ok)
	}
}
