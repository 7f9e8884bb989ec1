package stewai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/oklog/ulid/v2"
	"github.com/stewai/stewai-go/internal/upload"
)

// File is a file stored in StewAI's Pantry.
type File struct {
	// ObjULID identifies the stored object.
	ObjULID string `json:"obj_ulid"`
	// URI is the file's doc:// URI, usable as a SourceFile ingest source.
	URI string `json:"uri"`
	// Filename is the name the file was stored under.
	Filename string `json:"filename"`
	// SizeBytes is the stored size.
	SizeBytes int64 `json:"size_bytes"`
}

// IngestSource returns a SourceFile ingest source for the file, with an
// optional label, to pass in CreateRunParams.Ingest.
func (f *File) IngestSource(label string) IngestSource {
	return FileSource(f.URI, label)
}

func (f *File) decode(b []byte) error { return json.Unmarshal(b, f) }

func (f *File) validate() error {
	if f.URI == "" {
		return errors.New("file object has no uri")
	}
	return nil
}

// UploadOption configures Upload and UploadFile.
type UploadOption func(*uploadConfig) error

type uploadConfig struct {
	folder      string
	progress    func(sent, total int64)
	contentType string
}

// InFolder stores the upload in the Pantry folder with this ULID. An id that
// is not a ULID fails with ErrInvalidParams before anything is sent.
func InFolder(folderULID string) UploadOption {
	return func(c *uploadConfig) error {
		if strings.TrimSpace(folderULID) == "" {
			return invalidf("InFolder: empty folder id")
		}
		if _, err := ulid.ParseStrict(folderULID); err != nil {
			return invalidf("InFolder: %q is not a folder id (a 26-character ULID such as 01HZX3K7Q9V5M2N8P4R6T0W1YB)", folderULID)
		}
		c.folder = folderULID
		return nil
	}
}

// WithProgress calls fn as the file's bytes are sent: sent is the number of
// content bytes sent so far and total the content's size, or -1 when the size
// is unknown (a stream). Calls come from the goroutine sending the body and
// never overlap; keep fn quick. If the upload is retried, sent starts again
// from 0.
func WithProgress(fn func(sent, total int64)) UploadOption {
	return func(c *uploadConfig) error {
		c.progress = fn
		return nil
	}
}

// WithContentType sets the file part's Content-Type. By default it follows
// the filename's extension, or is application/octet-stream.
func WithContentType(contentType string) UploadOption {
	return func(c *uploadConfig) error {
		if contentType == "" || !validHeaderValue(contentType) {
			return invalidf("WithContentType: %q is not a content type", contentType)
		}
		c.contentType = contentType
		return nil
	}
}

// Upload stores the content of r in the Pantry under filename and returns
// the stored file; pass File.IngestSource to a run to ingest it.
//
// The content is streamed, never held in memory, so r can be of any size.
// Cancelling ctx aborts the upload at once. A transient failure is retried
// only when the content can be sent again: when r is an io.Seeker (such as
// an *os.File) it is rewound to where it was, and a one-shot stream is
// retried only if the request never reached the server (the connection could
// not be made); otherwise the error is returned and nothing is sent twice.
//
// The request timeout (WithRequestTimeout) bounds a stall, not the
// transfer: an upload that keeps sending is never cut, one that sends
// nothing for that long fails with ErrRequestTimeout, and so does a server
// that takes that long to answer once the content is sent.
//
// r is not closed, and is no longer read once Upload returns, unless a
// read of r was blocked when the upload ended (a stalled stream, after a
// cancel or a timeout): that one read finishes in the background, and no
// other follows.
func (s *StorageService) Upload(ctx context.Context, r io.Reader, filename string, opts ...UploadOption) (*File, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, invalidf("Upload: nil reader")
	}
	return s.upload(ctx, r, filename, opts)
}

// UploadFile uploads the file at path, named after its base name, as Upload
// does. Retries reread the file from its start.
func (s *StorageService) UploadFile(ctx context.Context, path string, opts ...UploadOption) (*File, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("stewai: UploadFile: %w", err) // matches fs.ErrNotExist, fs.ErrPermission, ...
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stewai: UploadFile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, invalidf("UploadFile: %s is not a regular file", path)
	}
	return s.upload(ctx, f, filepath.Base(path), opts)
}

func (s *StorageService) upload(ctx context.Context, r io.Reader, filename string, opts []UploadOption) (*File, error) {
	var cfg uploadConfig
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(filename) == "" {
		return nil, invalidf("Upload: empty filename")
	}
	if !validHeaderValue(filename) {
		return nil, invalidf("Upload: filename %q has control characters", filename)
	}
	ctype := cfg.contentType
	if ctype == "" {
		ctype = mime.TypeByExtension(filepath.Ext(filename))
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	var fields []upload.Field
	if cfg.folder != "" {
		fields = append(fields, upload.Field{Name: "folder_ulid", Value: cfg.folder})
	}
	form, err := upload.NewForm(fields, "file", filename, ctype)
	if err != nil {
		return nil, fmt.Errorf("stewai: Upload: %w", err)
	}
	body, err := newUploadBody(form, r, cfg.progress)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A read of r still in progress (a stalled stream) is waited for
		// at most one request timeout, in real time: r is the caller's.
		wctx, cancel := context.WithTimeout(ctx, s.core.requestTimeout)
		defer cancel()
		body.release(wctx)
	}()

	var file File
	err = s.core.do(ctx, &request{
		method: http.MethodPost, path: pathUpload, body: body,
		idempotencyKey: ulid.Make().String(),
	}, &file)
	if err != nil {
		return nil, err
	}
	return &file, nil
}

// ResolvePath returns the Pantry file at path, such as "Reports/Q4.pdf";
// a leading slash stands for the Pantry's root ("/Reports/Q4.pdf" is the
// same file). When nothing is there it fails with an error matching
// ErrNotFound.
func (s *StorageService) ResolvePath(ctx context.Context, path string) (*File, error) {
	path = strings.TrimLeft(path, "/")
	if strings.TrimSpace(path) == "" {
		return nil, invalidf("ResolvePath: empty path")
	}
	return get[File](ctx, s.core, pathResolve, url.Values{"path": {path}}.Encode())
}

// uploadBody is the multipart body of an upload, opened once per attempt.
type uploadBody struct {
	form     *upload.Form
	r        io.Reader
	direct   bool      // r cannot block: read it without a goroutine
	seeker   io.Seeker // r as a seeker, when it can rewind
	start    int64     // offset of the content in seeker
	total    int64     // content size, or -1
	progress func(sent, total int64)
	cur      *upload.Guard // the current attempt's reader
}

// newUploadBody measures r: a regular file or any io.Seeker has a known size
// and can be rewound; a reader with a Len method (bytes.Buffer) has a known
// size; anything else is a one-shot stream of unknown size.
func newUploadBody(form *upload.Form, r io.Reader, progress func(sent, total int64)) (*uploadBody, error) {
	b := &uploadBody{form: form, r: r, total: -1, progress: progress}
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return b, nil // a pipe or device: a stream
		}
	}
	switch r.(type) {
	case *os.File, *bytes.Reader, *strings.Reader, *bytes.Buffer:
		// Reads never block, so none needs a goroutine to stay
		// cancellable; a progress callback still gets one, so that it
		// cannot hold up a cancel.
		b.direct = progress == nil
	}
	if sk, ok := r.(io.Seeker); ok {
		start, err1 := sk.Seek(0, io.SeekCurrent)
		end, err2 := sk.Seek(0, io.SeekEnd)
		if err1 == nil && err2 == nil {
			if _, err := sk.Seek(start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("stewai: Upload: rewind reader: %w", err)
			}
			if end < start {
				return nil, invalidf("Upload: the reader's end (%d) is before its offset (%d): its Seek is not consistent", end, start)
			}
			b.seeker, b.start, b.total = sk, start, end-start
			return b, nil
		}
	}
	if l, ok := r.(interface{ Len() int }); ok {
		b.total = int64(l.Len())
	}
	return b, nil
}

func (b *uploadBody) contentType() string { return b.form.ContentType() }

func (b *uploadBody) size() int64 {
	if b.total < 0 {
		return -1
	}
	return b.form.Overhead() + b.total
}

func (b *uploadBody) streams() bool { return true }

// replayable reports whether another attempt can send the same content: a
// seekable source always can; a one-shot stream only if the last attempt
// never reached the server and none of the stream was read. It first waits,
// until ctx ends, for the previous attempt to stop reading r.
func (b *uploadBody) replayable(ctx context.Context, reached bool) bool {
	if b.cur == nil {
		return true
	}
	if b.seeker == nil && reached {
		return false // no need to wait: a stream that reached the server is never sent again
	}
	if !b.cur.Release(ctx) {
		return false
	}
	return b.seeker != nil || (!reached && b.cur.BytesRead() == 0)
}

// open returns the body for an attempt with context ctx. The pipeline
// calls it again only after replayable said yes, so r is idle.
func (b *uploadBody) open(ctx context.Context) (io.Reader, error) {
	if b.cur != nil && b.seeker != nil {
		if _, err := b.seeker.Seek(b.start, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewind upload content: %w", err)
		}
	}
	content := b.r
	if b.total >= 0 {
		content = io.LimitReader(b.r, b.total) // exactly the length announced
	}
	var onRead func(int)
	if b.progress != nil {
		var sent int64
		onRead = func(n int) {
			sent += int64(n)
			b.progress(sent, b.total)
		}
	}
	b.cur = upload.NewGuard(ctx, content, b.direct, onRead)
	return b.form.Reader(b.cur), nil
}

// release makes sure r is no longer read once the upload returns, waiting
// at most until ctx ends for a read in progress.
func (b *uploadBody) release(ctx context.Context) {
	if b.cur != nil {
		b.cur.Release(ctx)
	}
}

// StorageService is the storage (Pantry) part of the API; use it as
// Client.Storage.
type StorageService struct{ core *core }
