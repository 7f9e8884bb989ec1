package stewai

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

// Page is one page of a list answer, in the API's Django REST shape:
// {"count": 42, "next": "...", "previous": null, "results": [...]}.
type Page[T any] struct {
	// Count is the number of items in the whole list, over every page.
	Count int
	// Next is the URL of the next page, or "" on the last page.
	Next string
	// Previous is the URL of the previous page, or "" on the first page.
	Previous string
	// Results are this page's items, in the server's order.
	Results []T
	// Raw is the page exactly as received.
	Raw json.RawMessage
}

// UnmarshalJSON decodes a page and keeps it whole in Raw. next and previous
// may be null or absent; results must be a list.
func (p *Page[T]) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	var w struct {
		Count    json.Number `json:"count"`
		Next     *string     `json:"next"`
		Previous *string     `json:"previous"`
		Results  *[]T        `json:"results"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Page[T]{Raw: bytes.Clone(trimJSONSpace(b))}
	if w.Results != nil {
		p.Results = *w.Results
	}
	if n, err := w.Count.Int64(); err == nil && n >= 0 && n <= 1<<31 {
		p.Count = int(n)
	}
	if w.Next != nil {
		p.Next = *w.Next
	}
	if w.Previous != nil {
		p.Previous = *w.Previous
	}
	return nil
}

func (p *Page[T]) decode(b []byte) error { return p.UnmarshalJSON(b) }

// validate rejects a page without a results list, and checks each result
// that is an answer of its own (a run needs an id).
func (p *Page[T]) validate() error {
	if p.Results == nil {
		return errors.New(`page has no "results" list`)
	}
	for i := range p.Results {
		if c, ok := any(&p.Results[i]).(answer); ok {
			if err := c.validate(); err != nil {
				return errors.New("result " + strconv.Itoa(i) + ": " + err.Error())
			}
		}
	}
	return nil
}

// pageQuery checks the paging parameters every list takes and adds them to
// q: zero values are not sent, negative ones are an error.
func pageQuery(q url.Values, page, pageSize int) error {
	if page < 0 {
		return invalidf("page %d is negative", page)
	}
	if pageSize < 0 {
		return invalidf("page size %d is negative", pageSize)
	}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	return nil
}

// all iterates over every item of a list from page first (or 1) on. It
// fetches a page only when the loop reaches it, yields an error once and
// then ends; breaking out of the loop stops all requests. It follows the
// server's paging rather than counting on it: it stops after a page whose
// Next is empty or that has no results, once Count results are yielded
// (from page 1), and with an ErrMalformedResponse when a page repeats one
// already seen, as a server that ignores ?page= (paging by a cursor in
// next) sends page 1 again and again. It never loops.
func all[T any](ctx context.Context, first int, fetch func(ctx context.Context, page int) (*Page[T], error)) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		page := first
		if page == 0 {
			page = 1 // a negative page reaches fetch, which rejects it
		}
		var seen pagesSeen
		yielded := 0
		for ; ; page++ {
			p, err := fetch(ctx, page)
			if err == nil {
				err = seen.add(page, p.Next, p.Raw)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range p.Results {
				if !yield(&p.Results[i], nil) {
					return
				}
			}
			yielded += len(p.Results)
			if p.Next == "" || len(p.Results) == 0 || first <= 1 && p.Count > 0 && yielded >= p.Count {
				return
			}
		}
	}
}

// pagesSeen remembers the pages of one listing, by their next link and by
// their results, to tell when the server sends one again.
type pagesSeen struct {
	byNext    map[[sha256.Size]byte]int // by a digest: links may be long
	byResults map[[sha256.Size]byte]int
}

// add records page n, or returns an error matching ErrMalformedResponse
// when its next link or its results are those of a page already seen. The
// results are compared as received (from Raw), whatever else the page says.
func (s *pagesSeen) add(n int, next string, raw []byte) error {
	if s.byNext == nil {
		s.byNext, s.byResults = map[[sha256.Size]byte]int{}, map[[sha256.Size]byte]int{}
	}
	var w struct {
		Results json.RawMessage `json:"results"`
	}
	_ = json.Unmarshal(raw, &w) // decoded once already: it cannot fail
	sum := sha256.Sum256(w.Results)
	prev, again := s.byResults[sum]
	if !again && next != "" {
		prev, again = s.byNext[sha256.Sum256([]byte(next))]
	}
	if again {
		return fmt.Errorf("%w: list page %d repeats page %d (the server does not page by ?page=); stopped rather than loop", ErrMalformedResponse, n, prev)
	}
	s.byResults[sum] = n
	if next != "" {
		s.byNext[sha256.Sum256([]byte(next))] = n
	}
	return nil
}
