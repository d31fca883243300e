package store_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/postgres"
	"sirec/internal/store/sqlite"
	"sirec/internal/store/storetest"
)

const crashPersons = 600

func crashBatch(year int) []record.Fact {
	var facts []record.Fact
	for i := 0; i < crashPersons; i++ {
		for m := 1; m <= 12; m++ {
			for _, typ := range []string{record.Pension, record.Medical, record.Unemployment} {
				facts = append(facts, &record.ContributionPosted{PersonRef: ref(crashID(i)), Employer: employerA, Period: record.MakePeriod(year, m),
					Type: typ, Status: record.StatusPaid, Wage: int64(500000 + 100*i)})
			}
		}
	}
	return facts
}

func crashID(i int) string {
	body := fmt.Sprintf("1101051980%04d%03d", 101+i/1000*100+i%28, i%1000)
	return body + string(record.IDCheckChar(body))
}

// TestCrashChild is the child process of TestCrashSafety: it appends one large batch and is killed meanwhile.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv("SIREC_CRASH_DSN")
	if dsn == "" {
		t.Skip("run by TestCrashSafety only")
	}
	ctx := context.Background()
	keys, err := keyring.Load(os.Getenv("SIREC_CRASH_KEYS"))
	if err != nil {
		t.Fatal(err)
	}
	var d store.Driver
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		d, err = sqlite.Open(p)
	} else {
		d, err = postgres.Open(ctx, dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.New(ctx, d, keys, store.Config{Region: storetest.Region})
	if err != nil {
		t.Fatal(err)
	}
	var year int
	fmt.Sscan(os.Getenv("SIREC_CRASH_YEAR"), &year)
	facts := crashBatch(year)
	fmt.Println("appending")
	if _, err := s.Record(ctx, "crash", facts); err != nil {
		t.Fatal(err)
	}
	fmt.Println("done")
}

// TestCrashSafety kills a child process with SIGKILL at a random moment of a large batch append, several
// times, and checks each time that verify passes and the batch is wholly present or wholly absent (I6).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		facts := []record.Fact{&record.EmployerRegistered{CreditCode: employerA, IndustryClass: 1, Name: "测试单位", Region: "350100", RegisteredOn: "2001-01-01"}}
		for i := 0; i < crashPersons; i++ {
			facts = append(facts, &record.PersonRegistered{PersonRef: ref(crashID(i)), Name: "测试", Region: "110105", RegisteredOn: "2010-01-01"})
		}
		if _, err := s.Record(ctx, "setup", facts); err != nil {
			t.Fatal(err)
		}
		batch := int64(len(crashBatch(2020)))
		// Measure how long one append takes here, so that kills land inside it.
		start := time.Now()
		if _, err := s.Record(ctx, "timing", crashBatch(2010)); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		s.Close()
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		kills := 0
		for round := 0; round < 5; round++ {
			before := mustVerify(t, env).Events
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SIREC_CRASH_DSN="+env.DSN, "SIREC_CRASH_KEYS="+env.KeysDir, fmt.Sprintf("SIREC_CRASH_YEAR=%d", 2011+round))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() && sc.Text() != "appending" {
			}
			delay := time.Duration(r.Int64N(int64(took) + 1))
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
			for sc.Scan() {
			}
			err = cmd.Wait()
			if err != nil {
				kills++
			}
			after := mustVerify(t, env).Events
			if after != before && after != before+batch {
				t.Fatalf("round %d (killed after %v): journal went from %d to %d events; the batch has %d", round, delay, before, after, batch)
			}
			t.Logf("round %d: killed after %v of ~%v: batch %s", round, delay, took, map[bool]string{true: "absent", false: "present"}[after == before])
		}
		if kills == 0 {
			t.Fatal("no child was killed mid-append; the test proved nothing")
		}
	})
}
