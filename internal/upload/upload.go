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
	"sync"
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

// ChunkSize is the most the pump asks the caller's reader for in one read.
const ChunkSize = 256 << 10

// ringSize is the size of the buffer between the pump and Read: four
// reads of ChunkSize.
const ringSize = 4 * ChunkSize

// maxAhead is how many reads of the caller's reader the pump completes
// after the transport last took bytes, before it waits for the transport
// to take more: the time since the transport's last progress spans at most
// three of the stream's reads (the one in progress then, and two more),
// however small they are (a slow stream), as with the two buffers and the
// read in progress of the guard's earlier pump.
const maxAhead = 2

// Guard wraps the caller's reader for one attempt of a request.
//
// It makes two guarantees net/http alone does not. Reads return as soon as
// the attempt's context is done (its timeout, or the caller's
// cancellation), even while the caller's reader blocks (a stalled stream):
// net/http waits for the body's Read before it returns a cancelled request
// (over HTTP/1.1 its RoundTrip waits for the goroutine writing the body),
// so without this a cancel could wait forever. And once Release returns
// true, no read of the caller's reader is in progress or will start, so
// the reader can be rewound for the next attempt, or handed back to the
// caller: net/http may go on reading a body in its own goroutine after the
// response arrived.
//
// A reader that cannot block (a file, a bytes or strings reader) is read
// directly in Read. Any other is read by one pump goroutine, started on
// the first Read, into a ring buffer that Read copies out of. The two wake
// each other only when one waits for the other: Read when the ring is
// empty, the pump when it is full or maxAhead reads ahead, and then only
// once half the ring is free. A fast stream costs one wake-up per half
// ring (512 KiB), not a handoff per read.
type Guard struct {
	ctx    context.Context
	r      io.Reader
	onRead func(n int)
	direct bool
	read   atomic.Int64 // bytes read from r

	mu       sync.Mutex // guards what follows, up to ring
	released bool
	started  bool
	idle     chan struct{} // direct: holds a token while r is not being read

	// The ring: filled bytes from rpos (wrapping), the rest free for the
	// pump, which writes after them without holding mu.
	rpos, filled int
	ahead        int   // reads of the pump not yet taken from at all
	err          error // the reader's error, once the pump saw it
	readerWaits  bool  // Read waits for data
	pumpWaits    bool  // the pump waits for room
	ring         []byte

	dataReady chan struct{} // pump -> Read, when readerWaits
	roomReady chan struct{} // Read -> pump, when pumpWaits
	stop      chan struct{} // closed by Release
	done      chan struct{} // closed when the pump has exited
}

// NewGuard returns a guard over r for an attempt with context ctx. When
// direct, r is read in Read itself (it must not block), and onRead, if not
// nil, is called there; otherwise a pump goroutine reads r and calls onRead
// after each read, so that neither a stalled reader nor a slow callback
// holds up Read. Calls of onRead never overlap.
func NewGuard(ctx context.Context, r io.Reader, direct bool, onRead func(n int)) *Guard {
	g := &Guard{ctx: ctx, r: r, onRead: onRead, direct: direct, stop: make(chan struct{}), done: make(chan struct{})}
	if direct {
		g.idle = make(chan struct{}, 1)
		g.idle <- struct{}{}
	}
	return g
}

// Read reads from the wrapped reader unless the guard is released or its
// context is done.
func (g *Guard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := g.ctx.Err(); err != nil {
		return 0, err
	}
	if g.direct {
		return g.readDirect(p)
	}
	b, err := g.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	g.consume(n)
	return n, nil
}

// WriteTo writes what Read would return to w, straight from the ring: the
// transport's io.Copy of a body of unknown length (HTTP/1.1 chunked) uses
// it, which spares a copy of every byte and sends larger chunks.
func (g *Guard) WriteTo(w io.Writer) (int64, error) {
	if err := g.ctx.Err(); err != nil {
		return 0, err
	}
	if g.direct {
		return io.Copy(w, readerOnly{g})
	}
	var sum int64
	for {
		b, err := g.next()
		if err == io.EOF {
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		n, err := w.Write(b)
		sum += int64(n)
		g.consume(n)
		if err != nil {
			return sum, err
		}
	}
}

// readerOnly hides a Guard's WriteTo from io.Copy.
type readerOnly struct{ io.Reader }

// next waits for filled bytes in the ring and returns them (up to the
// ring's end, ChunkSize at most), or the reader's error once all are
// taken, or why it stopped waiting. The bytes stay in the ring, where the
// pump does not write, until consume.
func (g *Guard) next() ([]byte, error) {
	if !g.start() {
		return nil, ErrReleased
	}
	for {
		g.mu.Lock()
		if g.released {
			g.mu.Unlock()
			return nil, ErrReleased
		}
		if g.filled > 0 {
			start := g.rpos
			b := g.ring[start : start+min(g.filled, len(g.ring)-start, ChunkSize)]
			g.mu.Unlock()
			return b, nil
		}
		if g.err != nil {
			err := g.err
			g.mu.Unlock()
			return nil, err
		}
		g.readerWaits = true
		g.mu.Unlock()
		select {
		case <-g.dataReady:
		case <-g.ctx.Done():
			return nil, g.ctx.Err()
		case <-g.stop:
			return nil, ErrReleased
		}
	}
}

// consume frees the first n filled bytes of the ring, and wakes the pump
// when it waits and half the ring is free.
func (g *Guard) consume(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rpos = (g.rpos + n) % len(g.ring)
	g.filled -= n
	g.ahead = 0
	if g.pumpWaits && len(g.ring)-g.filled >= len(g.ring)/2 {
		g.pumpWaits = false
		g.roomReady <- struct{}{} // room for one token: only the pump takes it
	}
}

// readDirect reads r in the caller's goroutine.
func (g *Guard) readDirect(p []byte) (int, error) {
	<-g.idle // Read is not called concurrently: only Release can hold it
	defer func() { g.idle <- struct{}{} }()
	g.mu.Lock()
	released := g.released
	g.mu.Unlock()
	if released {
		return 0, ErrReleased
	}
	n, err := g.r.Read(p)
	g.count(n)
	return n, err
}

func (g *Guard) count(n int) {
	if n > 0 {
		g.read.Add(int64(n))
		if g.onRead != nil {
			g.onRead(n)
		}
	}
}

// start starts the pump on the first Read; false when already released.
func (g *Guard) start() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released {
		return false
	}
	if !g.started {
		g.started = true
		g.ring = make([]byte, ringSize)
		g.dataReady, g.roomReady = make(chan struct{}, 1), make(chan struct{}, 1)
		go g.pump()
	}
	return true
}

// pump reads r into the ring's free part, until r ends or the guard is
// released.
func (g *Guard) pump() {
	defer close(g.done)
	for {
		buf, ok := g.room()
		if !ok {
			return
		}
		n, err := g.r.Read(buf)
		g.count(n)
		g.mu.Lock()
		g.filled += n
		if n > 0 {
			g.ahead++
		}
		if err != nil {
			g.err = err
		}
		if g.readerWaits && (g.filled > 0 || err != nil) {
			g.readerWaits = false
			g.dataReady <- struct{}{} // room for one token: only Read takes it
		}
		g.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// room returns the free part of the ring after the filled one (up to its
// end, and ChunkSize at most), waiting for it while the ring is full or the
// pump is maxAhead reads ahead; false once the guard is released.
func (g *Guard) room() ([]byte, bool) {
	for {
		g.mu.Lock()
		if g.released {
			g.mu.Unlock()
			return nil, false
		}
		if free := len(g.ring) - g.filled; free > 0 && g.ahead < maxAhead {
			w := (g.rpos + g.filled) % len(g.ring)
			n := min(free, len(g.ring)-w, ChunkSize)
			g.mu.Unlock()
			return g.ring[w : w+n], true
		}
		g.pumpWaits = true
		g.mu.Unlock()
		select {
		case <-g.roomReady:
		case <-g.stop:
			return nil, false
		}
	}
}

// Release stops all further reads and waits, until ctx is done, for a read
// in progress to return. It reports false if ctx ended first, in which case
// one read (or one onRead call) may still be in progress; none follows it.
func (g *Guard) Release(ctx context.Context) bool {
	g.mu.Lock()
	if !g.released {
		g.released = true
		close(g.stop)
	}
	started := g.started
	g.mu.Unlock()
	switch {
	case g.direct:
		select {
		case <-g.idle:
			g.idle <- struct{}{}
			return true
		case <-ctx.Done():
			return false
		}
	case !started:
		return true
	}
	select {
	case <-g.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// BytesRead is the number of bytes read from the wrapped reader so far.
func (g *Guard) BytesRead() int64 { return g.read.Load() }
