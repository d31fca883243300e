// Package record holds the domain types of a rights record (社会保险个人权益记录) and their validation.
// It imports no HTTP and no SQL driver: everything else builds on it.
package record

import (
	"errors"
	"fmt"
)

// Error codes. Every error a caller may act on carries one; the HTTP layer maps them to statuses in one place.
const (
	EInvalid      = "invalid"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	EForbidden    = "forbidden"
	EUnauthorized = "unauthorized"
	EInternal     = "internal"
)

// Error is the one error type of the application. For validation errors Field names the offending field
// (a JSON path such as "contributions[3].period") and Rule the rule it broke (such as "gb11643_check").
type Error struct {
	Code    string
	Field   string
	Rule    string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (rule %s)", e.Field, e.Message, e.Rule)
	}
	return e.Message
}

// Invalid returns a validation error naming the field and the rule.
func Invalid(field, rule, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// Errorf returns an error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EInternal when err carries none, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// WithField returns a copy of err with its field prefixed by prefix ("persons[2]" + "name" → "persons[2].name").
// Errors that are not *Error are returned unchanged.
func WithField(prefix string, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	switch {
	case c.Field == "":
		c.Field = prefix
	case prefix != "":
		c.Field = prefix + "." + c.Field
	}
	return &c
}

// Errors is a list of validation errors, for a batch in which every bad row is reported (I6).
type Errors []*Error

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	return fmt.Sprintf("%d problems; the first: %s", len(es), es[0].Error())
}

// Append adds err, converting it to *Error with code EInvalid when it is not one, prefixing its field.
func (es *Errors) Append(prefix string, err error) {
	if err == nil {
		return
	}
	var e *Error
	if errors.As(WithField(prefix, err), &e) {
		*es = append(*es, e)
		return
	}
	*es = append(*es, &Error{Code: EInvalid, Field: prefix, Message: err.Error()})
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
