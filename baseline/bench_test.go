package baseline

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// bigPage returns load n of a page with 5,000 items: 2,500 external
// scripts behind cache busters, 500 inline scripts carrying per-load
// tokens (so they need the structural fingerprint), 1,000 iframes with
// session ids and 1,000 connection origins.
func bigPage(n int) *skimguard.Observation {
	top := "https://big.test/checkout"
	o := &skimguard.Observation{Site: "big", Page: "checkout", URL: top, FinalURL: top,
		Headers: map[string]string{"content-security-policy": fmt.Sprintf("script-src 'self' 'nonce-%s'", token(n, "nonce"))}}
	for i := 0; i < 2500; i++ {
		src := fmt.Sprintf(`(function(){var m%d={init:function(a){return a.map(function(x){return x*%d})}};window.m%d=m%d})();`, i, i, i, i)
		o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, fmt.Sprintf("https://cdn%d.big.test/lib/m%d.js?cb=%d", i%50, i, ts(n)), top, src))
	}
	for i := 0; i < 500; i++ {
		o.Scripts = append(o.Scripts, script(skimguard.ScriptInline, "", top,
			fmt.Sprintf(`window.cfg%d = {"csrf":"%s","ts":%d,"cart":"%d","api":"https://api.big.test/v1/"}; boot(window.cfg%d);`, i, token(n, fmt.Sprint(i)), ts(n), 4000+n, i)))
	}
	numberOrdinals(o)
	for i := 0; i < 1000; i++ {
		o.Frames = append(o.Frames, skimguard.Frame{URL: fmt.Sprintf("https://f%d.frames.test/w.html?session=%s", i, token(n, "f")), Origin: fmt.Sprintf("https://f%d.frames.test", i), Parent: top})
	}
	for i := 0; i < 1000; i++ {
		o.Connections = append(o.Connections, skimguard.Connection{Origin: fmt.Sprintf("https://c%d.beacons.test", i), Types: []string{"Ping"}, Count: 1})
	}
	return o
}

func BenchmarkCompare5000(b *testing.B) {
	base := learn(b, bigPage(1))
	o := bigPage(2)
	if fs := Compare(base, o); len(fs) != 0 {
		b.Fatalf("benchmark page is not unchanged: %d findings", len(fs))
	}
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		Compare(base, o)
	}
	reportCPU(b, start)
}

// BenchmarkCompare5000SameBytes is the same page loaded twice with
// identical bytes: no script needs its structural fingerprint.
func BenchmarkCompare5000SameBytes(b *testing.B) {
	base := learn(b, bigPage(1))
	o := bigPage(1)
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		Compare(base, o)
	}
	reportCPU(b, start)
}

// cpuTime is the process's user+system CPU time. The build machine is
// shared, so wall-clock ns/op swings with other jobs; CPU time per op
// (reported as cpu-ns/op) shows what Compare itself costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkCompare5000WithFindings adds a skimmer: the fingerprint and
// token diff of changed scripts are on the path.
func BenchmarkCompare5000WithFindings(b *testing.B) {
	base := learn(b, bigPage(1))
	o := bigPage(2)
	setSource(&o.Scripts[10], o.Scripts[10].Source+baPayload)
	o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://jquery-cdn.pw/j.js", o.FinalURL, baPayload))
	b.ReportAllocs()
	for b.Loop() {
		Compare(base, o)
	}
}

func BenchmarkLearn(b *testing.B) {
	samples := []*skimguard.Observation{shop(1), shop(2), shop(3)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Learn(samples, "bench", "bench", at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLearn5000(b *testing.B) {
	samples := []*skimguard.Observation{bigPage(1), bigPage(2), bigPage(3)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Learn(samples, "bench", "bench", at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFingerprint100KB(b *testing.B) {
	src := strings.Repeat(jquery+"\n"+modernizr+"\n", 100<<10/(len(jquery)+len(modernizr)))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		Fingerprint(src)
	}
}
