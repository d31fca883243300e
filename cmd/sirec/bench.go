package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/bench/suite"
)

// runBench builds datasets of each size on each engine and measures posting, reading, verifying and
// rebuilding, each next to its baseline, then prints (or writes) a Markdown report with the machine it ran on.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var c suite.Config
	engines := fs.String("engines", "sqlite,postgres", "engines to measure, comma-separated")
	fs.StringVar(&c.Postgres, "pg", envOr("SIREC_BENCH_PG", os.Getenv("SIREC_TEST_PG")), "PostgreSQL server DSN whose user may create databases (env SIREC_BENCH_PG)")
	sizes := fs.String("sizes", "100000,1000000", "dataset sizes in insured persons, comma-separated")
	fs.IntVar(&c.Years, "years", 1, "years of monthly contributions (pension, medical, unemployment) per person in each dataset")
	fs.IntVar(&c.FromYear, "from", 2016, "first year of the datasets' contributions")
	fs.IntVar(&c.BatchRows, "batch", 100000, "rows in the posted monthly batch")
	clients := fs.String("clients", "1,16,64", "concurrent clients of the read load, comma-separated")
	fs.DurationVar(&c.ReadFor, "read-for", 10*time.Second, "how long each read load runs")
	fs.StringVar(&c.Dir, "dir", "", "scratch folder for SQLite files and keys (default: a new temporary folder)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the scratch databases afterwards")
	fs.StringVar(&c.Profile, "profile", "", "write a CPU profile of each timed phase into this folder (<engine>-<persons>-<phase>.pprof)")
	replay := fs.Bool("replay", true, "also run the full verify (replay every event and compare the projections), which runs at rebuild speed")
	rebuild := fs.Bool("rebuild", true, "also rebuild the projections (the longest phase of a large run)")
	out := fs.String("out", "", "write the report to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	c.Engines = strings.Split(*engines, ",")
	c.NoReplay = !*replay
	c.NoRebuild = !*rebuild
	var err error
	if c.Sizes, err = ints("sizes", *sizes); err != nil {
		return err
	}
	if c.Clients, err = ints("clients", *clients); err != nil {
		return err
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "sirec-bench-"); err != nil {
			return err
		}
		if !c.Keep {
			defer os.RemoveAll(c.Dir)
		}
	}
	c.Log = os.Stderr
	c.Progress = progressPrinter()
	start := time.Now()
	figs, err := suite.Run(ctx, c)
	fmt.Fprintln(os.Stderr)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Measured %s by `%s` in %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(append([]string{"sirec bench"}, args...), " "), time.Since(start).Round(time.Second))
	fmt.Fprintf(&b, "Machine: %s\n\n", machine(c.Dir))
	if slices.Contains(c.Engines, "postgres") && c.Postgres != "" {
		if pg, perr := suite.PostgresSettings(ctx, c.Postgres); perr == nil {
			fmt.Fprintf(&b, "%s\n\n", pg)
		}
	}
	if berr := suite.Markdown(&b, figs); berr != nil {
		return berr
	}
	if err != nil {
		fmt.Fprintf(&b, "\nThe run stopped early: %v\n", err)
	}
	if *out != "" {
		if werr := os.WriteFile(*out, b.Bytes(), 0o644); werr != nil {
			return werr
		}
		fmt.Fprintf(os.Stderr, "bench: report written to %s\n", *out)
	} else {
		os.Stdout.Write(b.Bytes())
	}
	return err
}

func ints(field, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--%s: %q is not a positive whole number", field, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// machine describes the machine: CPU model and cores, memory, the scratch folder's file system, Go version.
func machine(dir string) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
					mem = fmt.Sprintf(", %.0f GiB memory", float64(kb)/(1<<20))
				}
			}
		}
	}
	disk := ""
	if o, err := exec.Command("df", "-hT", dir).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(o)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 3 {
			disk = fmt.Sprintf(", scratch on %s (%s, %s)", f[0], f[1], f[2])
		}
	}
	return fmt.Sprintf("%s, %d cores%s%s, %s", cpu, runtime.NumCPU(), mem, disk, runtime.Version())
}
