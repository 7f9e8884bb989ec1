// Package upload streams a file as a multipart/form-data request body
// without holding it in memory, and guards the caller's reader across
// attempts of one request.
package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strings"
	"sync/atomic"
)

// Field is a plain form field.
type Field struct{ Name, Value string }

// Form is the multipart framing around one file part: the bytes before the
// file's content (fields and the part's headers) and after it (the closing
// boundary). The content itself is streamed by Reader.
type Form struct {
	contentType string
	head, tail  []byte
}

// NewForm frames fields, then a file part named fileField with the given
// filename and content type.
func NewForm(fields []Field, fileField, filename, fileType string) (*Form, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f.Name, f.Value); err != nil {
			return nil, err
		}
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quote(fileField), quote(filename)))
	h.Set("Content-Type", fileType)
	if _, err := w.CreatePart(h); err != nil {
		return nil, err
	}
	head := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := w.Close(); err != nil { // writes only the closing boundary
		return nil, err
	}
	return &Form{contentType: w.FormDataContentType(), head: head, tail: bytes.Clone(buf.Bytes())}, nil
}

// quote escapes a Content-Disposition parameter value as mime/multipart does.
var quote = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace

// ContentType is the body's Content-Type, boundary included.
func (f *Form) ContentType() string { return f.contentType }

// Overhead is the number of bytes the framing adds to the content.
func (f *Form) Overhead() int64 { return int64(len(f.head) + len(f.tail)) }

// Reader returns the whole body with content in the file part.
func (f *Form) Reader(content io.Reader) io.Reader {
	return io.MultiReader(bytes.NewReader(f.head), content, bytes.NewReader(f.tail))
}

// ErrReleased is returned by reads of a Guard after Release.
var ErrReleased = errors.New("upload: body read after the request ended")

// maxChunk bounds the guard's own buffer.
const maxChunk = 64 << 10

// Guard wraps the caller's reader for one attempt of a request.
//
// It makes two guarantees net/http alone does not. Reads return as soon as
// the context is done, even while the caller's reader blocks (a stalled
// stream): net/http waits for the body's Read before it returns a cancelled
// request, so without this a cancel could wait forever. And once Release
// returns true, no read of the caller's reader is in progress or will start,
// so the reader can be rewound for the next attempt, or handed back to the
// caller, with nobody else touching it: net/http may go on reading a body in
// its own goroutine after the response arrived.
type Guard struct {
	ctx    context.Context
	r      io.Reader
	onRead func(n int)
	idle   chan struct{} // holds a token while no read of r is in progress
	buf    []byte        // r is read into this, never into the caller's p
	done   atomic.Bool   // released: no more reads of r
	read   atomic.Int64  // bytes read from r
}

type readResult struct {
	n   int
	err error
}

// NewGuard returns a guard over r. Reads fail once ctx is done. onRead, if
// not nil, is called after each read with the number of bytes read; calls
// never overlap.
func NewGuard(ctx context.Context, r io.Reader, onRead func(n int)) *Guard {
	g := &Guard{ctx: ctx, r: r, onRead: onRead, idle: make(chan struct{}, 1)}
	g.idle <- struct{}{}
	return g
}

// Read reads from the wrapped reader unless the guard is released or its
// context is done. The wrapped reader's Read runs on its own goroutine; if
// the context ends first, Read returns at once and that goroutine finishes
// the read in the background, after which the reader is not read again.
func (g *Guard) Read(p []byte) (int, error) {
	select {
	case <-g.idle:
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
	if g.done.Load() {
		g.idle <- struct{}{}
		return 0, ErrReleased
	}
	if err := g.ctx.Err(); err != nil {
		g.idle <- struct{}{}
		return 0, err
	}
	if len(p) == 0 {
		g.idle <- struct{}{}
		return 0, nil
	}
	if want := min(len(p), maxChunk); len(g.buf) < want {
		g.buf = make([]byte, want)
	}
	buf := g.buf[:min(len(p), len(g.buf))]
	res := make(chan readResult, 1)
	go func() {
		n, err := g.r.Read(buf)
		res <- readResult{n, err}
	}()
	select {
	case rr := <-res:
		n := copy(p, buf[:rr.n])
		if n > 0 {
			g.read.Add(int64(n))
			if g.onRead != nil {
				g.onRead(n)
			}
		}
		g.idle <- struct{}{}
		return n, rr.err
	case <-g.ctx.Done():
		// The read goes on without us; the token stays taken, so r is
		// never read again and Release does not claim it is idle.
		return 0, g.ctx.Err()
	}
}

// Release stops all further reads and waits for a read in progress to
// return. It reports false if ctx ended first, in which case one read may
// still be in progress (the caller's reader is blocked); none follows it.
func (g *Guard) Release(ctx context.Context) bool {
	g.done.Store(true)
	select {
	case <-g.idle:
		g.idle <- struct{}{}
		return true
	case <-ctx.Done():
		return false
	}
}

// BytesRead is the number of bytes read through the guard so far.
func (g *Guard) BytesRead() int64 { return g.read.Load() }
