package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Peak measures the peak resident memory of this process over a span: Reset at its start, MiB at its end.
// On Linux it resets and reads the kernel's high-water mark (VmHWM, reset by writing 5 to
// /proc/self/clear_refs), so C allocations — SQLite's page cache — count too. Where that cannot be done it
// falls back to the Go heap's peak as sampled by the runtime (HeapSys), and says so.
type Peak struct {
	kernel bool
}

// Reset starts a span.
func (p *Peak) Reset() {
	runtime.GC()
	p.kernel = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// MiB returns the peak resident memory since Reset, in MiB, and where the figure comes from.
func (p *Peak) MiB() (float64, string) {
	if p.kernel {
		if kb, err := statusKB("VmHWM"); err == nil {
			return float64(kb) / 1024, "VmHWM"
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapSys) / (1 << 20), "Go HeapSys"
}

// statusKB reads a "Name:   123 kB" line of /proc/self/status.
func statusKB(name string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), name+":")
		if !ok {
			continue
		}
		return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	}
	return 0, fmt.Errorf("%s not in /proc/self/status", name)
}

// HeapBytes is the Go heap held by objects now (live and not yet swept).
func HeapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// SampleHeap samples HeapBytes every 5 ms, from now until the returned stop is called, which returns the largest
// sample: the Go heap's peak over a span, for benchmarks that show their memory bounded by a batch, not by the
// data. (Peak, by contrast, measures the whole process, C allocations included.)
func SampleHeap() (stop func() uint64) {
	peak := HeapBytes()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if h := HeapBytes(); h > peak {
					peak = h
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}
