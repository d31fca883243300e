package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Load describes a closed-loop load: Clients goroutines, each sending its next request as soon as the last
// one is answered, for Duration (after a Warmup whose requests are not counted).
type Load struct {
	Clients  int
	Duration time.Duration
	Warmup   time.Duration
	// Request builds request number i of client c.
	Request func(c, i int) (*http.Request, error)
	Client  *http.Client
}

// LoadResult is what a load measured. Latencies are of whole requests, body read.
type LoadResult struct {
	Clients       int
	Requests      int64
	Errors        int64
	FirstError    string
	Elapsed       time.Duration
	P50, P99, Max time.Duration
}

// PerSecond is the throughput of answered requests.
func (r LoadResult) PerSecond() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// maxSamples bounds the latencies kept per client: memory grows with clients, not with time. Past it, a
// client keeps every k-th sample (k doubling), which keeps the percentiles of a steady load.
const maxSamples = 1 << 16

// Run applies the load and measures it. A response other than 200 counts as an error and its latency is not
// kept; the first error's text is reported.
func (l Load) Run(ctx context.Context) (LoadResult, error) {
	if l.Clients < 1 || l.Duration <= 0 || l.Request == nil {
		return LoadResult{}, fmt.Errorf("load: clients ≥ 1, duration > 0 and a request builder are required")
	}
	hc := l.Client
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.Clients, MaxConnsPerHost: l.Clients}}
	}
	type clientResult struct {
		samples  []time.Duration
		n, errs  int64
		firstErr string
	}
	results := make([]clientResult, l.Clients)
	warmEnd := time.Now().Add(l.Warmup)
	end := warmEnd.Add(l.Duration)
	var wg sync.WaitGroup
	for c := 0; c < l.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			res := &results[c]
			stride, seen := 1, 0
			for i := 0; ; i++ {
				now := time.Now()
				if now.After(end) || ctx.Err() != nil {
					return
				}
				req, err := l.Request(c, i)
				if err != nil {
					res.errs++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
					continue
				}
				start := time.Now()
				resp, err := hc.Do(req.WithContext(ctx))
				var status int
				if err == nil {
					status = resp.StatusCode
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				took := time.Since(start)
				if start.Before(warmEnd) {
					continue
				}
				if err != nil || status != http.StatusOK {
					res.errs++
					if res.firstErr == "" {
						if err == nil {
							err = fmt.Errorf("HTTP %d", status)
						}
						res.firstErr = err.Error()
					}
					continue
				}
				res.n++
				seen++
				if seen%stride != 0 {
					continue
				}
				res.samples = append(res.samples, took)
				if len(res.samples) == maxSamples {
					// Keep every other sample and take half as many from now on.
					k := 0
					for j := 0; j < len(res.samples); j += 2 {
						res.samples[k] = res.samples[j]
						k++
					}
					res.samples = res.samples[:k]
					stride *= 2
				}
			}
		}(c)
	}
	wg.Wait()
	out := LoadResult{Clients: l.Clients, Elapsed: l.Duration}
	var all []time.Duration
	for _, r := range results {
		out.Requests += r.n
		out.Errors += r.errs
		if out.FirstError == "" {
			out.FirstError = r.firstErr
		}
		all = append(all, r.samples...)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if len(all) == 0 {
		return out, fmt.Errorf("load: no request succeeded (%d errors; first: %s)", out.Errors, out.FirstError)
	}
	slices.Sort(all)
	out.P50 = percentile(all, 0.50)
	out.P99 = percentile(all, 0.99)
	out.Max = all[len(all)-1]
	return out, nil
}

// percentile returns the p-th quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
