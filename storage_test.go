package stewai

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const folderULID = "01HZX3K7Q9V5M2N8P4R6T0W1YB"

// receivedUpload is what the test server read from an upload request.
type receivedUpload struct {
	fields      map[string]string
	partNames   []string
	filename    string
	contentType string
	content     []byte
	header      http.Header
	length      int64
	chunked     bool
}

// readUpload parses a multipart upload the way a strict server would.
func readUpload(t *testing.T, r *http.Request) receivedUpload {
	t.Helper()
	got := receivedUpload{fields: map[string]string{}, header: r.Header.Clone(), length: r.ContentLength,
		chunked: len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mt)
	mr, err := r.MultipartReader()
	require.NoError(t, err)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got.partNames = append(got.partNames, p.FormName())
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		if p.FileName() != "" {
			got.filename, got.contentType, got.content = p.FileName(), p.Header.Get("Content-Type"), b
		} else {
			got.fields[p.FormName()] = string(b)
		}
	}
	return got
}

func fileJSON(name string, size int) map[string]any {
	return map[string]any{"obj_ulid": "01JOBJ", "uri": "doc://01JOBJ", "filename": name, "size_bytes": size}
}

func TestUploadWire(t *testing.T) {
	env := setup(t)
	var got receivedUpload
	env.mux.HandleFunc("/storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		got = readUpload(t, r)
		writeJSON(w, http.StatusCreated, fileJSON(got.filename, len(got.content)))
	})
	content := "%PDF-1.7 quarterly numbers"
	file, err := env.client.Storage.Upload(testContext(t), strings.NewReader(content), "Q4 report.pdf", InFolder(folderULID))
	require.NoError(t, err)

	assert.Equal(t, []string{"folder_ulid", "file"}, got.partNames, "fields first, then the file, as the Python SDK sends them")
	assert.Equal(t, folderULID, got.fields["folder_ulid"])
	assert.Equal(t, "Q4 report.pdf", got.filename)
	assert.Equal(t, "application/pdf", got.contentType)
	assert.Equal(t, content, string(got.content))
	assert.False(t, got.chunked, "a reader of known size is sent with a Content-Length")
	assert.Greater(t, got.length, int64(len(content)))
	assert.Equal(t, "Bearer "+testKey, got.header.Get("Authorization"))
	_, err = ulid.ParseStrict(got.header.Get("Idempotency-Key"))
	assert.NoError(t, err)

	assert.Equal(t, &File{ObjULID: "01JOBJ", URI: "doc://01JOBJ", Filename: "Q4 report.pdf", SizeBytes: int64(len(content))}, file)
	assert.Equal(t, FileSource("doc://01JOBJ", "Q4"), file.IngestSource("Q4"))
	assert.NoError(t, file.IngestSource("").Validate())
}

func TestUploadContentTypeAndFilename(t *testing.T) {
	for _, tc := range []struct {
		filename string
		opts     []UploadOption
		wantType string
	}{
		{"a.pdf", nil, "application/pdf"},
		{"a.PNG", nil, "image/png"},
		{"data.json", nil, "application/json"},
		{"notes", nil, "application/octet-stream"},
		{"archive.zzzz", nil, "application/octet-stream"},
		{"a.pdf", []UploadOption{WithContentType("text/markdown")}, "text/markdown"},
		{`quote"and\back.txt`, []UploadOption{WithContentType("text/plain")}, "text/plain"},
		{"résumé 2026.pdf", nil, "application/pdf"},
	} {
		t.Run(tc.filename, func(t *testing.T) {
			env := setup(t)
			var got receivedUpload
			env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
				got = readUpload(t, r)
				writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
			})
			_, err := env.client.Storage.Upload(testContext(t), strings.NewReader("x"), tc.filename, tc.opts...)
			require.NoError(t, err)
			assert.Equal(t, tc.filename, got.filename)
			assert.Equal(t, tc.wantType, got.contentType)
			assert.Equal(t, []string{"file"}, got.partNames, "no folder field unless InFolder")
		})
	}
}

func TestUploadUnknownSizeIsChunked(t *testing.T) {
	env := setup(t)
	var got receivedUpload
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		got = readUpload(t, r)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	var sizes []int64
	_, err := env.client.Storage.Upload(testContext(t), io.MultiReader(strings.NewReader("stream")), "s.txt",
		WithProgress(func(_, total int64) { sizes = append(sizes, total) }))
	require.NoError(t, err)
	assert.True(t, got.chunked)
	assert.Equal(t, "stream", string(got.content))
	assert.NotEmpty(t, sizes)
	for _, s := range sizes {
		assert.Equal(t, int64(-1), s, "total is -1 for a stream")
	}
}

func TestUploadFromOffset(t *testing.T) {
	env := setup(t)
	var got receivedUpload
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		got = readUpload(t, r)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	r := strings.NewReader("skip:payload")
	_, err := r.Seek(5, io.SeekStart)
	require.NoError(t, err)
	_, err = env.client.Storage.Upload(testContext(t), r, "p.bin")
	require.NoError(t, err)
	assert.Equal(t, "payload", string(got.content), "a reader is uploaded from where it stands")
}

func TestUploadInvalidSendsNothing(t *testing.T) {
	env := setup(t)
	ctx := testContext(t)
	dir := t.TempDir()
	for name, call := range map[string]func() error{
		"folder not a ULID": func() error {
			_, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), "a.txt", InFolder("Reports"))
			return err
		},
		"folder lowercase ULID is not strict": func() error {
			_, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), "a.txt", InFolder("01jexamplefolder000000000z!"))
			return err
		},
		"nil reader":     func() error { _, err := env.client.Storage.Upload(ctx, nil, "a.txt"); return err },
		"empty filename": func() error { _, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), " "); return err },
		"filename with CRLF": func() error {
			_, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), "a\r\nb.txt")
			return err
		},
		"empty content type": func() error {
			_, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), "a", WithContentType(""))
			return err
		},
		"directory":     func() error { _, err := env.client.Storage.UploadFile(ctx, dir); return err },
		"empty resolve": func() error { _, err := env.client.Storage.ResolvePath(ctx, ""); return err },
		"root resolve":  func() error { _, err := env.client.Storage.ResolvePath(ctx, "/"); return err },
		"empty folder": func() error {
			_, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), "a.txt", InFolder(""))
			return err
		},
		"nil context": func() error {
			_, err := env.client.Storage.Upload(nilContext(), strings.NewReader("x"), "a.txt")
			return err
		},
		"nil context, file": func() error {
			_, err := env.client.Storage.UploadFile(nilContext(), filepath.Join(dir, "x"))
			return err
		},
		"nil context, resolve": func() error { _, err := env.client.Storage.ResolvePath(nilContext(), "a"); return err },
		"a Seeker whose end is before its offset": func() error {
			_, err := env.client.Storage.Upload(ctx, lyingSeeker{strings.NewReader("content")}, "a.txt")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, call(), ErrInvalidParams)
		})
	}
	_, err := env.client.Storage.Upload(ctx, strings.NewReader("x"), "a.txt", InFolder(""))
	assert.ErrorContains(t, err, "empty folder id", "speaks of folder ids, not ULID internals")
	_, err = env.client.Storage.Upload(ctx, strings.NewReader("x"), "a.txt", InFolder("Reports"))
	assert.ErrorContains(t, err, "is not a folder id")
	assert.NotContains(t, err.Error(), "unmarshal")

	// An I/O failure is not a parameter problem: it matches the fs error.
	_, err = env.client.Storage.UploadFile(ctx, filepath.Join(dir, "nope.pdf"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.NotErrorIs(t, err, ErrInvalidParams)
	assert.Zero(t, env.requests.Load())
}

// lyingSeeker reports an end before its current offset.
type lyingSeeker struct{ *strings.Reader }

func (l lyingSeeker) Seek(offset int64, whence int) (int64, error) {
	if whence == io.SeekEnd {
		return 0, nil
	}
	return 5, nil
}

func TestResolvePath(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /storage/resolve/", func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Query().Get("path"); p {
		case "Reports/Q4 2025 & more.pdf":
			assert.Equal(t, "path=Reports%2FQ4+2025+%26+more.pdf", r.URL.RawQuery, "the path is one escaped query value")
			writeJSON(w, 200, fileJSON("Q4 2025 & more.pdf", 10))
		default:
			writeJSON(w, 404, map[string]any{"detail": "Not found."})
		}
	})
	f, err := env.client.Storage.ResolvePath(testContext(t), "Reports/Q4 2025 & more.pdf")
	require.NoError(t, err)
	assert.Equal(t, "doc://01JOBJ", f.URI)

	f, err = env.client.Storage.ResolvePath(testContext(t), "Reports/missing.pdf?x=1")
	assert.Nil(t, f)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "GET storage/resolve/: 404 Not Found")
}

// flakyUploadServer answers 503 to the first upload after reading 64 KiB
// of its body (so some content was surely read), then stores the next one
// and records its digest.
func flakyUploadServer(t *testing.T, env *testEnv) (digests chan [32]byte) {
	digests = make(chan [32]byte, 4)
	var n atomic.Int64
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			// Answer mid-body, then keep reading until the client hangs up
			// (full duplex: a server that stops reading would linger).
			_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
			rc := http.NewResponseController(w)
			require.NoError(t, rc.EnableFullDuplex())
			w.WriteHeader(503)
			require.NoError(t, rc.Flush())
			_, _ = io.Copy(io.Discard, r.Body)
			return
		}
		got := readUpload(t, r)
		digests <- sha256.Sum256(got.content)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	return digests
}

func TestUploadRetriesRewindableContent(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB: the 503 comes mid-body
	want := sha256.Sum256(content)
	path := filepath.Join(t.TempDir(), "big.bin")
	require.NoError(t, os.WriteFile(path, content, 0o600))

	for name, upload := range map[string]func(*Client, ...UploadOption) (*File, error){
		"ReadSeeker": func(c *Client, o ...UploadOption) (*File, error) {
			return c.Storage.Upload(context.Background(), bytes.NewReader(content), "big.bin", o...)
		},
		"UploadFile": func(c *Client, o ...UploadOption) (*File, error) {
			return c.Storage.UploadFile(context.Background(), path, o...)
		},
		"open *os.File": func(c *Client, o ...UploadOption) (*File, error) {
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			return c.Storage.Upload(context.Background(), f, "big.bin", o...)
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := setup(t)
			digests := flakyUploadServer(t, env)
			var last, restarts atomic.Int64
			file, err := upload(env.client, WithProgress(func(sent, total int64) {
				assert.Equal(t, int64(len(content)), total)
				if sent < last.Load() {
					restarts.Add(1)
				}
				last.Store(sent)
			}))
			require.NoError(t, err)
			assert.Equal(t, int64(len(content)), file.SizeBytes)
			assert.Equal(t, want, <-digests, "the retry sent the whole content again, from its start")
			assert.Equal(t, int64(2), env.requests.Load())
			assert.Equal(t, int64(len(content)), last.Load(), "progress ends at the total")
			assert.Equal(t, int64(1), restarts.Load(), "progress starts again from 0 on the retry")
		})
	}
}

func TestUploadDoesNotResendAStream(t *testing.T) {
	env := setup(t)
	flakyUploadServer(t, env)
	stream := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20)))
	_, err := env.client.Storage.Upload(testContext(t), stream, "s.bin")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr, "the server's error, not a second partial body")
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, int64(1), env.requests.Load())
}

func TestUploadRetriesAStreamNeverRead(t *testing.T) {
	// A connection that fails before the body is read: the stream is
	// untouched, so sending it is still safe.
	var trips atomic.Int64
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if trips.Add(1) == 1 {
			return nil, errors.New("dial tcp: connection refused")
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	env := setup(t, WithHTTPClient(hc))
	var got receivedUpload
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		got = readUpload(t, r)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	_, err := env.client.Storage.Upload(testContext(t), io.MultiReader(strings.NewReader("once")), "s.txt")
	require.NoError(t, err)
	assert.Equal(t, int64(2), trips.Load())
	assert.Equal(t, "once", string(got.content))
}

func TestUploadProgress(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		got := readUpload(t, r)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	const size = 3<<20 + 17
	var calls []int64
	_, err := env.client.Storage.Upload(testContext(t), bytes.NewReader(make([]byte, size)), "z.bin",
		WithProgress(func(sent, total int64) {
			assert.Equal(t, int64(size), total)
			calls = append(calls, sent)
		}))
	require.NoError(t, err)
	require.Greater(t, len(calls), 10, "reported as bytes go out, not once at the end")
	for i := 1; i < len(calls); i++ {
		assert.Greater(t, calls[i], calls[i-1])
	}
	assert.Equal(t, int64(size), calls[len(calls)-1])
}

// zeroSource is a seekable source of n zero bytes that is never in memory.
type zeroSource struct{ size, off int64 }

func (z *zeroSource) Read(p []byte) (int, error) {
	if z.off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-z.off))
	clear(p[:n])
	z.off += int64(n)
	return n, nil
}

func (z *zeroSource) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		z.off = offset
	case io.SeekCurrent:
		z.off += offset
	case io.SeekEnd:
		z.off = z.size + offset
	}
	return z.off, nil
}

// countingUploadServer reads each upload as a stream and answers its size.
func countingUploadServer(env *testEnv) {
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var size int64
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			n, _ := io.Copy(io.Discard, p)
			if p.FormName() == "file" {
				size = n
			}
		}
		writeJSON(w, 201, fileJSON("big.bin", int(size)))
	})
}

// uploadPeakHeap uploads size bytes and returns the largest heap growth seen
// while the bytes went out (sampled every 8 MiB sent) and the bytes allocated
// in all.
func uploadPeakHeap(t testing.TB, c *Client, size int64) (peak, allocated uint64, file *File) {
	runtime.GC()
	var before, now runtime.MemStats
	runtime.ReadMemStats(&before)
	var next int64
	progress := func(sent, _ int64) {
		if sent >= next {
			next += 8 << 20
			runtime.ReadMemStats(&now)
			if now.HeapAlloc > before.HeapAlloc {
				peak = max(peak, now.HeapAlloc-before.HeapAlloc)
			}
		}
	}
	file, err := c.Storage.Upload(context.Background(), &zeroSource{size: size}, "big.bin", WithProgress(progress))
	require.NoError(t, err)
	runtime.ReadMemStats(&now)
	return peak, now.TotalAlloc - before.TotalAlloc, file
}

func TestUploadStreamsInConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 256 MiB")
	}
	env := setup(t)
	countingUploadServer(env)
	const small, big = 1 << 10, 256 << 20
	_, smallAlloc, _ := uploadPeakHeap(t, env.client, small)
	peak, bigAlloc, file := uploadPeakHeap(t, env.client, big)
	require.Equal(t, int64(big), file.SizeBytes, "the server got every byte")
	t.Logf("256 MiB upload: peak heap growth %.2f MiB, allocated %.2f MiB (1 KiB upload allocated %.2f MiB)",
		float64(peak)/(1<<20), float64(bigAlloc)/(1<<20), float64(smallAlloc)/(1<<20))
	// Client and server run in this process: both stream. Holding the body
	// anywhere would cost at least 256 MiB.
	assert.Less(t, peak, uint64(16<<20), "peak heap growth while uploading 256 MiB")
	assert.Less(t, bigAlloc, uint64(32<<20), "bytes allocated for 256 MiB")
}

func BenchmarkUpload(b *testing.B) {
	for _, size := range []int64{1 << 10, 1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			env := setup(b)
			countingUploadServer(env)
			b.SetBytes(size)
			b.ReportAllocs()
			for range b.N {
				if _, err := env.client.Storage.Upload(context.Background(), &zeroSource{size: size}, "big.bin"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer() // the peak is measured once, outside the timed loop (it forces a GC)
			peak, _, _ := uploadPeakHeap(b, env.client, size)
			b.ReportMetric(float64(peak), "peak-heap-B")
		})
	}
}

// stalledReader gives some bytes, then blocks until released.
type stalledReader struct {
	first   []byte
	stalled chan struct{}
	release chan struct{}
}

func (s *stalledReader) Read(p []byte) (int, error) {
	if len(s.first) > 0 {
		n := copy(p, s.first)
		s.first = s.first[n:]
		return n, nil
	}
	select {
	case s.stalled <- struct{}{}:
	default:
	}
	<-s.release
	return 0, io.EOF
}

// A one-shot stream that stalls ends the upload after the request timeout,
// even with a context that has no deadline: no upload can hang.
func TestUploadStallEndsWithTheRequestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // reads until the client gives up
	}))
	defer srv.Close()
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL), WithRequestTimeout(200*time.Millisecond)) // real time: the scenario is a real stall
	require.NoError(t, err)
	r := &stalledReader{first: []byte("some bytes"), stalled: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(r.release)
	_, err = c.Storage.Upload(context.Background(), r, "stall.bin")
	require.ErrorIs(t, err, ErrRequestTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

// The request timeout bounds a stall, not a transfer that is making
// progress: an upload that takes longer than the timeout but keeps sending
// goes through.
func TestUploadMakingProgressIsNotCut(t *testing.T) {
	content := &slowReader{chunks: 12, every: 3 * time.Second, call: make(chan context.Context, 1)}
	env := setup(t, WithRequestTimeout(10*time.Second), WithMiddleware(func(r *http.Request, next MiddlewareNext) (*http.Response, error) {
		select {
		case content.call <- r.Context(): // the upload's call, which the reader's sleeps belong to
		default: // a second attempt: the test fails on its error
		}
		return next(r)
	}))
	content.clock = env.clock
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		got := readUpload(t, r)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	// Each chunk of the content arrives 3 s (of the virtual clock) after
	// the last: 12 chunks take 36 s, more than three times the request
	// timeout. The upload reads at most three chunks ahead of what the
	// transport has sent (two buffers, one being filled), so the clock can
	// run 3 × 3 s = 9 s past the last progress the transport made: under
	// the 10 s timeout. At 4 s a chunk it would be 12 s, and the upload
	// rightly cut.
	file, err := env.client.Storage.Upload(testContext(t), content, "slow.bin")
	require.NoError(t, err)
	assert.Equal(t, int64(12*1024), file.SizeBytes)
}

// slowReader yields a KiB per read, each after sleeping on the virtual
// clock as part of the upload's call (a slow source the call waits on).
type slowReader struct {
	clock  *testClock
	call   chan context.Context
	ctx    context.Context
	chunks int
	every  time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.chunks == 0 {
		return 0, io.EOF
	}
	if s.ctx == nil {
		s.ctx = <-s.call
	}
	s.chunks--
	if err := s.clock.Sleep(s.ctx, s.every); err != nil {
		return 0, err
	}
	return copy(p, bytes.Repeat([]byte("x"), min(len(p), 1024))), nil
}

// A progress callback that blocks does not hold up cancellation.
func TestUploadBlockingProgressCallbackDoesNotBlockCancel(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	ctx, cancel := context.WithCancel(testContext(t))
	unblock := make(chan struct{})
	defer close(unblock)
	var once sync.Once
	_, err := env.client.Storage.Upload(ctx, bytes.NewReader(make([]byte, 1<<20)), "p.bin", WithProgress(func(sent, total int64) {
		once.Do(cancel) // the caller gives up ...
		<-unblock       // ... while its callback is stuck
	}))
	assert.ErrorIs(t, err, context.Canceled, "Upload returned at once")
}

// A leading slash in a Pantry path stands for the root, as in a file
// system: "/Reports/Q4.pdf" is the same file as "Reports/Q4.pdf".
func TestResolvePathLeadingSlash(t *testing.T) {
	env := setup(t)
	var queries []string
	env.mux.HandleFunc("GET /storage/resolve/", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		writeJSON(w, http.StatusOK, fileJSON("Q4.pdf", 3))
	})
	for _, p := range []string{"/Reports/Q4.pdf", "Reports/Q4.pdf", "//Reports/Q4.pdf"} {
		_, err := env.client.Storage.ResolvePath(testContext(t), p)
		require.NoError(t, err, p)
	}
	assert.Equal(t, []string{"path=Reports%2FQ4.pdf", "path=Reports%2FQ4.pdf", "path=Reports%2FQ4.pdf"}, queries)
}
