// Command politeness prints issue 9's table: how many rejections each
// client earns from each imitation server (and real nginx and HAProxy,
// where installed), and how long 300 requests fired at once take, as a
// multiple of that server's ideal.
//
//	go run ./examples/politeness [-n 300] [-bound 8s] [-only silent,haproxy] [-real=false]
//
// Servers run one after another, never in parallel, so that they do not
// disturb each other's timing; each cell gets a fresh server and a fresh
// client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-throttle/throttle/internal/imitation"
	"github.com/go-throttle/throttle/internal/imitation/clients"
	"github.com/go-throttle/throttle/internal/imitation/real"
)

func main() {
	n := flag.Int("n", imitation.ScaleN, "requests fired at once at each server")
	bound := flag.Duration("bound", 0, "bound on each run (0: 4x the ideal, at most 10 s)")
	only := flag.String("only", "", "comma-separated server names to run (default: all)")
	withReal := flag.Bool("real", true, "also run real nginx and HAProxy (Debian nginx-light, haproxy) where installed")
	flag.Parse()
	if *n <= 0 || *bound < 0 {
		fmt.Fprintf(os.Stderr, "politeness: -n=%d and -bound=%v must be positive\n", *n, *bound)
		os.Exit(2)
	}
	rows := selectRows(*only, *withReal)
	if len(rows) == 0 {
		fmt.Fprintf(os.Stderr, "politeness: -only=%q names no server; have %s\n", *only, strings.Join(names(*withReal), ","))
		os.Exit(2)
	}
	modes := clients.Modes()
	fmt.Printf("| server | what it does | ideal |")
	for _, m := range modes {
		fmt.Printf(" %s |", m.Name)
	}
	fmt.Printf("\n|---|---|---|%s\n", strings.Repeat("---|", len(modes)))
	for _, row := range rows {
		fmt.Println(line(row, modes, *n, *bound))
	}
}

// line runs every mode against row and formats the table's line.
func line(row row, modes []clients.Mode, n int, bound time.Duration) string {
	var cells []string
	var ideal time.Duration
	for _, m := range modes {
		res, err := runCell(row, m, n, bound)
		if errors.Is(err, real.ErrNotInstalled) {
			return fmt.Sprintf("| %s | %s | - | %v |", row.Name, row.What, err)
		}
		if err != nil {
			cells = append(cells, err.Error())
			continue
		}
		ideal = res.Ideal
		cells = append(cells, res.Cell())
	}
	return fmt.Sprintf("| %s | %s | %.2f s | %s |", row.Name, row.What, ideal.Seconds(), strings.Join(cells, " | "))
}

// runCell runs one client mode against a fresh server of row.
func runCell(row row, m clients.Mode, n int, bound time.Duration) (imitation.Result, error) {
	t, err := row.start()
	if err != nil {
		return imitation.Result{}, err
	}
	defer t.Close()
	client, release, err := m.New(row.Limit)
	if err != nil {
		return imitation.Result{Ideal: t.Ideal(n)}, err
	}
	defer release()
	ctx := context.Background()
	if bound > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, bound)
		defer cancel()
	}
	return imitation.Measure(ctx, client, t, n), nil
}

// row is one server of the table.
type row struct {
	Name, What string
	Limit      imitation.Limit
	start      func() (imitation.Target, error)
}

func allRows(withReal bool) []row {
	var rows []row
	for _, s := range imitation.Imitations() {
		rows = append(rows, row{Name: s.Name, What: s.What, Limit: s.Limit, start: func() (imitation.Target, error) {
			return imitation.Start(s.New()), nil
		}})
	}
	if !withReal {
		return rows
	}
	for _, s := range real.Specs() {
		rows = append(rows, row{Name: s.Name, What: s.What, Limit: s.Limit, start: func() (imitation.Target, error) {
			srv, err := s.Start()
			if err != nil {
				return nil, err
			}
			return srv, nil
		}})
	}
	return rows
}

func selectRows(only string, withReal bool) []row {
	all := allRows(withReal)
	if only == "" {
		return all
	}
	want := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		want[strings.TrimSpace(name)] = true
	}
	var rows []row
	for _, r := range all {
		if want[r.Name] {
			rows = append(rows, r)
		}
	}
	return rows
}

func names(withReal bool) []string {
	var out []string
	for _, r := range allRows(withReal) {
		out = append(out, r.Name)
	}
	return out
}
