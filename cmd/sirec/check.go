package main

import (
	"context"
	"fmt"
	"time"

	"sirec/internal/record"
)

// runCheck checks one identifier: `check id VALUE` (GB 11643) or `check uscc VALUE` (GB 32100). It prints
// "valid" and exits 0, or prints the reason and exits 1.
func runCheck(_ context.Context, args []string) error {
	if len(args) != 2 {
		return &exitError{code: 2, err: fmt.Errorf("usage: sirec check id VALUE | sirec check uscc VALUE")}
	}
	var err error
	switch args[0] {
	case "id":
		err = record.ValidateCitizenID("id", args[1], time.Now())
	case "uscc":
		err = record.ValidateUSCC("uscc", args[1])
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown identifier kind %q; use id or uscc", args[0])}
	}
	if err != nil {
		fmt.Println("invalid:", err)
		return &exitError{code: 1}
	}
	fmt.Println("valid")
	return nil
}
