package main

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
)

// Outside helpers from the command line (R11.2): sirec user external USERNAME yes|no marks a user, and
// sirec user agreement add|list files and lists signed confidentiality agreements, whose documents are kept by
// SHA-256 with the original materials.

const agreementUsage = `usage: sirec user agreement add USERNAME --file FILE --signed YYYY-MM-DD --expires YYYY-MM-DD
       sirec user agreement list USERNAME`

// storeDocument stores a file as an original material and returns the agreement it documents.
func (u *userCLI) storeDocument(ctx context.Context, path, signed, expires string) (*auth.AgreementSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := u.db.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sha, err := review.New(s).AddMaterial(ctx, b)
	if err != nil {
		return nil, record.WithField("file", err)
	}
	ct := mime.TypeByExtension(strings.ToLower(filepath.Ext(path)))
	return &auth.AgreementSpec{SHA256: sha, Name: filepath.Base(path), ContentType: ct, SignedOn: signed, ExpiresOn: expires}, nil
}

func (u *userCLI) agreement(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New(agreementUsage)}
	}
	switch args[0] {
	case "add":
		fs := u.flags("agreement add")
		file := fs.String("file", "", "the signed agreement's scan or file (required)")
		signed := fs.String("signed", "", "the date it was signed, YYYY-MM-DD (required)")
		expires := fs.String("expires", "", "its last valid day, YYYY-MM-DD (required)")
		pos, err := u.parse(fs, args[1:], 1, 1, "agreement add USERNAME --file FILE --signed YYYY-MM-DD --expires YYYY-MM-DD")
		if err != nil {
			return err
		}
		if *file == "" {
			return record.Invalid("file", "required", "give the signed agreement with --file")
		}
		svc, closeDB, err := u.service(ctx)
		if err != nil {
			return err
		}
		defer closeDB()
		now := time.Now()
		// The dates are checked before the document is stored.
		probe := auth.AgreementSpec{SHA256: strings.Repeat("0", 64), Name: filepath.Base(*file), SignedOn: *signed, ExpiresOn: *expires}
		if err := probe.Validate(svc.Today(now)); err != nil {
			return err
		}
		if _, err := svc.GetUser(ctx, pos[0]); err != nil {
			return err
		}
		spec, err := u.storeDocument(ctx, *file, *signed, *expires)
		if err != nil {
			return err
		}
		a, err := svc.AddAgreement(ctx, pos[0], *spec, u.actor, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(u.stdout, "confidentiality agreement filed for %s, signed %s, valid until %s · 已为 %s 登记保密协议，%s 签订，有效期至 %s\n",
			a.Username, a.SignedOn, a.ExpiresOn, a.Username, a.SignedOn, a.ExpiresOn)
		fmt.Fprintf(u.stdout, "  document 文件: %s sha256 %s\n", a.Name, a.SHA256)
		if usr, err := svc.GetUser(ctx, pos[0]); err == nil && usr.Disabled {
			fmt.Fprintf(u.stdout, "the user is disabled; enable with: sirec user enable %s · 该用户仍为停用状态，可用 sirec user enable %s 启用\n", pos[0], pos[0])
		}
		return nil
	case "list":
		fs := u.flags("agreement list")
		pos, err := u.parse(fs, args[1:], 1, 1, "agreement list USERNAME")
		if err != nil {
			return err
		}
		svc, closeDB, err := u.service(ctx)
		if err != nil {
			return err
		}
		defer closeDB()
		as, err := svc.Agreements(ctx, pos[0])
		if err != nil {
			return err
		}
		if len(as) == 0 {
			fmt.Fprintf(u.stdout, "%s has no confidentiality agreement on file · %s 未登记保密协议\n", pos[0], pos[0])
			return nil
		}
		today := svc.Today(time.Now())
		rows := [][]string{{"SIGNED 签订", "VALID UNTIL 有效期至", "STATUS 状态", "DOCUMENT 文件", "SHA-256", "FILED BY 登记人"}}
		for _, a := range as {
			status := "in force 有效"
			switch {
			case a.ExpiresOn < today:
				status = "expired 已过期"
			case a.SignedOn > today:
				status = "not yet 未生效"
			}
			rows = append(rows, []string{a.SignedOn, a.ExpiresOn, status, a.Name, a.SHA256, a.AddedBy})
		}
		writeTable(u.stdout, "", rows)
		return nil
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown command user agreement %q\n\n%s", args[0], agreementUsage)}
}

// external marks a user as an outside helper (yes) or as the agency's own staff (no).
func (u *userCLI) external(ctx context.Context, args []string) error {
	fs := u.flags("external")
	pos, err := u.parse(fs, args, 2, 2, "external USERNAME yes|no")
	if err != nil {
		return err
	}
	var ext bool
	switch strings.ToLower(pos[1]) {
	case "yes", "true", "on":
		ext = true
	case "no", "false", "off":
	default:
		return &exitError{code: 2, err: fmt.Errorf("usage: sirec user external USERNAME yes|no (not %q)", pos[1])}
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	usr, err := svc.SetExternal(ctx, pos[0], ext, u.actor, time.Now())
	if err != nil {
		return err
	}
	if !ext {
		fmt.Fprintf(u.stdout, "%s is marked as the agency's own staff · %s 已改为本机构工作人员\n", usr.Username, usr.Username)
		return nil
	}
	fmt.Fprintf(u.stdout, "%s is marked as an outside helper · %s 已标记为外部人员\n", usr.Username, usr.Username)
	if usr.Disabled {
		fmt.Fprintf(u.stdout, "no confidentiality agreement in force: the user is disabled · 无有效保密协议，账号已停用（sirec user agreement add %s …）\n", usr.Username)
	}
	return nil
}
