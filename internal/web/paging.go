package web

import (
	"net/http"
	"net/url"
	"strconv"
)

// pager is one page of a long list: which page is shown, how many there are, and the links to the others. Its
// links keep the page's other query parameters (filters, sort order, purpose) — none of which is personal data.
type pager struct {
	Page, Pages, Size int
	Total             int64
	path              string
	query             url.Values
}

// newPager reads ?page= (from 1) of r for pages of size rows.
func newPager(r *http.Request, size int) pager {
	p := pager{Page: 1, Size: size, path: r.URL.Path, query: r.URL.Query()}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 && n < 1<<20 {
		p.Page = n
	}
	return p
}

// Offset is the number of rows before the page.
func (p pager) Offset() int { return (p.Page - 1) * p.Size }

// setTotal records how many rows there are, and so how many pages.
func (p *pager) setTotal(total int64) {
	p.Total = total
	p.Pages = int((total + int64(p.Size) - 1) / int64(p.Size))
	if p.Pages < 1 {
		p.Pages = 1
	}
}

// Prev and Next are the neighbouring page numbers.
func (p pager) Prev() int { return max(p.Page-1, 1) }
func (p pager) Next() int { return min(p.Page+1, p.Pages) }

// Href is the link to page n with the same query otherwise.
func (p pager) Href(n int) string {
	q := url.Values{}
	for k, v := range p.query {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(n))
	return p.path + "?" + q.Encode()
}
