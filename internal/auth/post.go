package auth

import (
	"slices"
	"strings"

	"sirec/internal/record"
)

// Post is a post (岗位): the duties a user holds, and with them the permissions (R7). A user holds any number of
// posts, subject to the separation of duties (S1).
type Post string

// The posts. Their string values are what the database, the API and the CLI use.
const (
	PostCollector       Post = "collector"        // 采集经办: takes in information from original documents
	PostInitialReviewer Post = "initial_reviewer" // 初审: first review stage
	PostReviewer        Post = "reviewer"         // 审核: second review stage
	PostRechecker       Post = "rechecker"        // 复核: third review stage
	PostApprover        Post = "approver"         // 审批: final approval, after which a draft becomes record
	PostMaintainer      Post = "maintainer"       // 数据维护: corrects and supplements data by the set procedure (R11)
	PostSupervisor      Post = "supervisor"       // 监督: read-only, sees all logs
	PostSysadmin        Post = "sysadmin"         // 系统管理员: manages users and the system (information unit)
	PostDBAdmin         Post = "dbadmin"          // 数据库管理员: keeps the database sound (information unit)
	PostQuery           Post = "query"            // 查询: reads records to answer queries
	// PostInstitution is held by the machine account of a service institution under agreement (服务机构, R5.3):
	// it submits its kind of information, and reads nothing.
	PostInstitution Post = "institution"
)

// PostKind groups posts for the separation of duties.
type PostKind string

// Post kinds. S1 forbids one user to hold an admin post together with a business or query post.
const (
	KindBusiness   PostKind = "business"   // collection, review and maintenance
	KindQuery      PostKind = "query"      // answering queries
	KindSupervisor PostKind = "supervisor" // the supervising department: neither business nor admin
	KindAdmin      PostKind = "admin"      // the information unit
	// KindInstitution is a service institution outside the agency: its post is never held with any other.
	KindInstitution PostKind = "institution"
)

// PostInfo describes a post.
type PostInfo struct {
	Post    Post
	Kind    PostKind
	Chinese string // display name in Simplified Chinese
	English string // display name in English
	Scopes  []Scope
}

var readScopes = []Scope{ScopePersonsRead, ScopeEmployersRead}

// Posts lists every post in the order of the workflow, with its display names and the scopes a session of a
// user holding it has.
var Posts = []PostInfo{
	{PostCollector, KindBusiness, "采集经办", "Collector", scopes(readScopes, ScopeDraftsRead, ScopeDraftsWrite, ScopeCalc, ScopeFeedsWrite)},
	{PostInitialReviewer, KindBusiness, "初审", "Initial reviewer", scopes(readScopes, ScopeDraftsRead, ScopeReviewInitial, ScopeCalc)},
	{PostReviewer, KindBusiness, "审核", "Reviewer", scopes(readScopes, ScopeDraftsRead, ScopeReviewReview, ScopeCalc)},
	{PostRechecker, KindBusiness, "复核", "Re-checker", scopes(readScopes, ScopeDraftsRead, ScopeReviewRecheck, ScopeCalc)},
	{PostApprover, KindBusiness, "审批", "Approver", scopes(readScopes, ScopeDraftsRead, ScopeReviewApprove, ScopeCalc)},
	{PostMaintainer, KindBusiness, "数据维护", "Data maintainer", scopes(readScopes, ScopeDraftsRead, ScopeDraftsWrite, ScopeMaintain, ScopeCalc, ScopeFeedsWrite)},
	{PostSupervisor, KindSupervisor, "监督", "Supervisor", scopes(readScopes, ScopeDraftsRead, ScopeLogsRead)},
	{PostSysadmin, KindAdmin, "系统管理员", "System administrator", []Scope{ScopeUsersAdmin}},
	{PostDBAdmin, KindAdmin, "数据库管理员", "Database administrator", []Scope{ScopeStoreVerify, ScopeStoreBackup}},
	{PostQuery, KindQuery, "查询", "Query", scopes(readScopes, ScopeCalc)},
	{PostInstitution, KindInstitution, "服务机构", "Service institution",
		[]Scope{ScopeSubmitMedical, ScopeSubmitPharmacy, ScopeSubmitRehab, ScopeSubmitDevice, ScopeSubmitBank}},
}

func scopes(base []Scope, more ...Scope) []Scope {
	return append(slices.Clone(base), more...)
}

// Info returns the description of p; ok is false for an unknown post.
func (p Post) Info() (info PostInfo, ok bool) {
	for _, i := range Posts {
		if i.Post == p {
			return i, true
		}
	}
	return PostInfo{}, false
}

// Kind returns the kind of p, "" for an unknown post.
func (p Post) Kind() PostKind {
	i, _ := p.Info()
	return i.Kind
}

// IsBusiness reports whether p is a business post (collector … maintainer).
func (p Post) IsBusiness() bool { return p.Kind() == KindBusiness }

// IsQuery reports whether p is the query post.
func (p Post) IsQuery() bool { return p.Kind() == KindQuery }

// IsAdmin reports whether p is an administrator post (sysadmin, dbadmin).
func (p Post) IsAdmin() bool { return p.Kind() == KindAdmin }

// Label returns "code 中文 / English", for people.
func (p Post) Label() string {
	i, ok := p.Info()
	if !ok {
		return string(p)
	}
	return string(p) + " " + i.Chinese + " / " + i.English
}

// ParsePost returns the post named s, or an error naming field and rule "post_known".
func ParsePost(field, s string) (Post, error) {
	p := Post(strings.TrimSpace(s))
	if _, ok := p.Info(); !ok {
		return "", record.Invalid(field, "post_known", "unknown post %q; the posts are %s", s, postNames())
	}
	return p, nil
}

func postNames() string {
	names := make([]string, len(Posts))
	for i, p := range Posts {
		names[i] = string(p.Post)
	}
	return strings.Join(names, ", ")
}

// CheckSeparation returns an error when a user holding posts may not also hold add (S1): a system or database
// administrator may not hold a business or query post, and the other way round. The error is EConflict with
// field "post" and rule "separation_of_duties", and names both posts.
func CheckSeparation(posts []Post, add Post) error {
	for _, p := range posts {
		if conflicting(p, add) {
			why := ": administrators may not also be business or query users (S1)"
			if p.Kind() == KindInstitution || add.Kind() == KindInstitution {
				why = ": a service institution's machine account holds no other post (R5.3)"
			}
			return &record.Error{Code: record.EConflict, Field: "post", Rule: "separation_of_duties",
				Message: "post " + add.Label() + " cannot be held together with " + p.Label() + why}
		}
	}
	return nil
}

func conflicting(a, b Post) bool {
	if a != b && (a.Kind() == KindInstitution || b.Kind() == KindInstitution) {
		return true // a service institution's account is no agency user at all
	}
	userSide := func(p Post) bool { return p.IsBusiness() || p.IsQuery() }
	return a.IsAdmin() && userSide(b) || userSide(a) && b.IsAdmin()
}

// ValidatePosts checks a set of posts: each known, none twice, and no two that S1 keeps apart.
func ValidatePosts(posts []Post) error {
	for i, p := range posts {
		if _, ok := p.Info(); !ok {
			return record.Invalid("posts", "post_known", "unknown post %q; the posts are %s", p, postNames())
		}
		if slices.Contains(posts[:i], p) {
			return record.Invalid("posts", "unique", "post %s is listed twice", p)
		}
		if err := CheckSeparation(posts[:i], p); err != nil {
			return err
		}
	}
	return nil
}

// ScopesOf returns the scopes a holder of posts has, in the order of Scopes.
func ScopesOf(posts []Post) []Scope {
	var out []Scope
	for _, s := range Scopes {
		for _, p := range posts {
			if i, ok := p.Info(); ok && slices.Contains(i.Scopes, s.Scope) {
				out = append(out, s.Scope)
				break
			}
		}
	}
	return out
}

// sortPosts orders posts as Posts lists them.
func sortPosts(posts []Post) {
	idx := func(p Post) int {
		return slices.IndexFunc(Posts, func(i PostInfo) bool { return i.Post == p })
	}
	slices.SortFunc(posts, func(a, b Post) int { return idx(a) - idx(b) })
}
