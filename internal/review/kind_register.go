package review

import "fmt"

// kindMaker names the post that makes the drafts of a business type registered with RegisterProcedureKind, when
// it is not the collector's.
var kindMaker = map[string]string{}

// RegisterProcedureKind adds a business type whose drafts are made by a procedure — never typed in at intake —
// by a holder of the maker post (for example a service institution's machine account, R5.3). Its drafts pass
// the review chain of their kind (k.Default unless configured) like any other, and only the final approval
// records them (I1). Call it from an init function, then RegisterProcedure for the same kind.
func RegisterProcedureKind(k Kind, maker string) {
	if _, dup := Kinds[k.Name]; dup {
		panic(fmt.Sprintf("review: business type %s registered twice", k.Name))
	}
	if err := ValidateChain("chain", k.Default); err != nil {
		panic(fmt.Sprintf("review: business type %s: %v", k.Name, err))
	}
	Kinds[k.Name] = k
	procedureKinds[k.Name] = true
	if maker != "" {
		kindMaker[k.Name] = maker
	}
}

// IsProcedureKind reports whether drafts of a business type are made only by their procedure (transfers,
// submissions of service institutions), so that intake forms leave it out.
func IsProcedureKind(kind string) bool { return procedureKinds[kind] }
