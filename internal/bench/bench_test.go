package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadCountsErrorsAndPercentiles checks the load generator on a server whose every tenth answer is an
// error and whose answers take a known time.
func TestLoadCountsErrorsAndPercentiles(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Load{Clients: 4, Duration: 400 * time.Millisecond, Request: func(c, i int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, srv.URL, nil)
	}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors == 0 || !strings.Contains(res.FirstError, "500") {
		t.Fatalf("requests %d errors %d first %q", res.Requests, res.Errors, res.FirstError)
	}
	if res.P50 < 2*time.Millisecond || res.P99 < res.P50 || res.Max < res.P99 {
		t.Fatalf("percentiles p50 %s p99 %s max %s", res.P50, res.P99, res.Max)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if percentile(d, 0.5) != 50 || percentile(d, 0.99) != 99 || percentile(d[:1], 0.99) != 1 {
		t.Fatalf("p50 %d p99 %d", percentile(d, 0.5), percentile(d, 0.99))
	}
}
