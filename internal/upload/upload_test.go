package upload

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormFraming(t *testing.T) {
	f, err := NewForm([]Field{{"folder_ulid", "01HZX3K7Q9V5M2N8P4R6T0W1YB"}}, "file", `we"ird\name.pdf`, "application/pdf")
	require.NoError(t, err)
	body, err := io.ReadAll(f.Reader(strings.NewReader("content bytes")))
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), f.Overhead()+int64(len("content bytes")), "Overhead + content = body length")

	_, params, err := mime.ParseMediaType(f.ContentType())
	require.NoError(t, err)
	mr := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])
	p, err := mr.NextPart()
	require.NoError(t, err)
	assert.Equal(t, "folder_ulid", p.FormName())
	v, _ := io.ReadAll(p)
	assert.Equal(t, "01HZX3K7Q9V5M2N8P4R6T0W1YB", string(v))
	p, err = mr.NextPart()
	require.NoError(t, err)
	assert.Equal(t, "file", p.FormName())
	assert.Equal(t, `we"ird\name.pdf`, p.FileName())
	assert.Equal(t, "application/pdf", p.Header.Get("Content-Type"))
	v, _ = io.ReadAll(p)
	assert.Equal(t, "content bytes", string(v))
	_, err = mr.NextPart()
	assert.Equal(t, io.EOF, err)
}

// blockingReader blocks every Read until released.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
	reads   atomic.Int64
}

func (b *blockingReader) Read(p []byte) (int, error) {
	b.reads.Add(1)
	b.started <- struct{}{}
	<-b.release
	return copy(p, "x"), nil
}

func TestGuardCancelWhileBlocked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	br := &blockingReader{started: make(chan struct{}, 1), release: make(chan struct{})}
	g := NewGuard(ctx, br, false, nil)
	errc := make(chan error, 1)
	go func() { _, err := g.Read(make([]byte, 8)); errc <- err }()
	<-br.started
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled, "Read returns although the reader is still blocked")
	assert.False(t, g.Release(ctx), "not idle: a read is in progress")
	close(br.release)
	_, err := g.Read(make([]byte, 8))
	assert.Error(t, err)
	assert.Equal(t, int64(1), br.reads.Load(), "the reader is not read again")
}

func TestGuardReleaseWaitsForReadInProgress(t *testing.T) {
	br := &blockingReader{started: make(chan struct{}, 1), release: make(chan struct{})}
	g := NewGuard(context.Background(), br, false, nil)
	readDone := make(chan struct{})
	go func() { _, _ = g.Read(make([]byte, 8)); close(readDone) }()
	<-br.started
	done, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, g.Release(done), "a read is in progress: not idle")
	released := make(chan bool)
	go func() { released <- g.Release(context.Background()) }()
	close(br.release)
	assert.True(t, <-released)
	<-readDone
	n, err := g.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, ErrReleased)
	assert.Equal(t, int64(1), br.reads.Load())
	assert.Equal(t, int64(1), g.BytesRead())
}

func TestGuardCountsAndReports(t *testing.T) {
	for _, direct := range []bool{true, false} {
		var seen []int
		g := NewGuard(context.Background(), strings.NewReader("hello world"), direct, func(n int) { seen = append(seen, n) })
		b, err := io.ReadAll(io.LimitReader(g, 100))
		require.NoError(t, err)
		assert.Equal(t, "hello world", string(b))
		assert.Equal(t, int64(11), g.BytesRead())
		require.True(t, g.Release(context.Background()))
		total := 0
		for _, n := range seen {
			total += n
		}
		assert.Equal(t, 11, total, "direct=%v", direct)
	}
}

// A progress callback that blocks holds up neither Read's return on
// cancellation nor the caller: it runs on the pump.
func TestGuardBlockingCallbackDoesNotBlockCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inCallback, unblock := make(chan struct{}, 1), make(chan struct{})
	g := NewGuard(ctx, strings.NewReader(strings.Repeat("x", 3*ChunkSize)), false, func(int) {
		select {
		case inCallback <- struct{}{}:
		default:
		}
		<-unblock
	})
	errc := make(chan error, 1)
	go func() { _, err := io.ReadAll(g); errc <- err }()
	<-inCallback
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled, "Read returns at once")
	assert.False(t, g.Release(ctx), "the callback is still running")
	close(unblock)
	assert.True(t, g.Release(context.Background()), "and the pump ends once it returns")
}

// A reader that cannot block is read without any goroutine.
func TestGuardDirectNeedsNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	g := NewGuard(context.Background(), bytes.NewReader(make([]byte, 1<<20)), true, nil)
	buf := make([]byte, 32<<10)
	for {
		_, err := g.Read(buf)
		assert.LessOrEqual(t, runtime.NumGoroutine(), before, "no goroutine was started")
		if err != nil {
			break
		}
	}
	assert.Equal(t, int64(1<<20), g.BytesRead())
	assert.True(t, g.Release(context.Background()))
	_, err := g.Read(buf)
	assert.ErrorIs(t, err, ErrReleased)
}

// smallReads yields the bytes of r at most n a read, and hides r's type.
type smallReads struct {
	r io.Reader
	n int
}

func (s smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

// Read and WriteTo give the stream's bytes in order, across the ring's
// wrap, whatever the sizes of the stream's reads and of the reader's.
func TestGuardStreamsThroughTheRing(t *testing.T) {
	content := make([]byte, 3*ringSize+12345)
	for i := range content {
		content[i] = byte(i * 7 / 5)
	}
	for _, readSize := range []int{1000, ChunkSize, 3 * ChunkSize} {
		g := NewGuard(context.Background(), smallReads{bytes.NewReader(content), readSize}, false, nil)
		var got bytes.Buffer
		_, err := io.CopyBuffer(&got, readerOnly{g}, make([]byte, 7000))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(content, got.Bytes()), "Read, stream reads of %d", readSize)
		require.True(t, g.Release(context.Background()))

		g = NewGuard(context.Background(), smallReads{bytes.NewReader(content), readSize}, false, nil)
		got.Reset()
		n, err := g.WriteTo(&got)
		require.NoError(t, err)
		assert.Equal(t, int64(len(content)), n)
		assert.True(t, bytes.Equal(content, got.Bytes()), "WriteTo, stream reads of %d", readSize)
		assert.Equal(t, int64(len(content)), g.BytesRead())
		require.True(t, g.Release(context.Background()))
	}
}

// WriteTo, as Read, returns as soon as the context ends, while the
// caller's reader is blocked.
func TestGuardWriteToCancelWhileBlocked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	br := &blockingReader{started: make(chan struct{}, 1), release: make(chan struct{})}
	g := NewGuard(ctx, br, false, nil)
	errc := make(chan error, 1)
	go func() { _, err := g.WriteTo(io.Discard); errc <- err }()
	<-br.started
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
	assert.False(t, g.Release(ctx), "not idle: a read is in progress")
	close(br.release)
	assert.True(t, g.Release(context.Background()))
	assert.Equal(t, int64(1), br.reads.Load(), "the reader is not read again")
}
