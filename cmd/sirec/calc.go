package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"sirec/internal/api"
	"sirec/internal/rules"
	"sirec/internal/store"
)

// runCalc is the agency's calculator (and the pension estimate, 养老金测算): `sirec calc NAME` reads one JSON
// object on stdin and writes one on stdout. Invalid input exits 1 with a message naming the field. It uses the
// built-in national rules; `POST /api/v1/calc/{name}` on a running service uses the rule sets its journal adopted.
func runCalc(_ context.Context, args []string) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return &exitError{code: 2, err: fmt.Errorf("usage: sirec calc %s < input.json", strings.Join(rules.Calculators, "|"))}
	}
	in, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return err
	}
	out, err := rules.Calc(rules.NewBook(), args[0], in)
	if err != nil {
		return err
	}
	os.Stdout.Write(append(out, '\n'))
	return nil
}

// calculator serves the calculator with the rule sets the store holds.
func calculator(s *store.Store) api.Calculator {
	return func(name string, input []byte) ([]byte, error) {
		return rules.Calc(s.Book(), name, input)
	}
}
