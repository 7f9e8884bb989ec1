package stewaitest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"

	"github.com/oklog/ulid/v2"
	"github.com/stewai/stewai-go"
)

// MaxKeptContent is how much of each uploaded file StoredFile.Content keeps;
// the size and digest always cover the whole file.
const MaxKeptContent = 1 << 20

// DefaultMaxStoredBytes is how much upload content a server keeps unless
// WithMaxStoredBytes says otherwise: 64 MiB.
const DefaultMaxStoredBytes = 64 << 20

// WithMaxStoredBytes bounds the upload content the server keeps in memory
// (the StoredFile.Content of every file, at most MaxKeptContent of each) to
// n bytes; the default is DefaultMaxStoredBytes. An upload that would pass
// it is answered 413 with a detail that says so, and stores nothing; the
// files stored before are kept, and a repeated Idempotency-Key still
// answers its file. With n of 0 or less only empty files are accepted.
// Files given to PutFile count toward n but are never refused.
func WithMaxStoredBytes(n int64) Option {
	return func(s *Server) { s.maxStored = max(n, 0) }
}

// StoredFile is a file in the fake Pantry.
type StoredFile struct {
	stewai.File
	// Folder is the folder_ulid it was uploaded with, if any.
	Folder string
	// ContentType is the Content-Type of the uploaded part.
	ContentType string
	// SHA256 is the digest of the whole content.
	SHA256 [32]byte
	// Content is the content's first MaxKeptContent bytes.
	Content []byte
}

type fileStore struct {
	byURI  map[string]*StoredFile
	byPath map[string]string // Pantry path → uri
	order  []string
	bytes  int64 // of Content, over every file
}

func newFileStore() *fileStore {
	return &fileStore{byURI: map[string]*StoredFile{}, byPath: map[string]string{}}
}

func (fs *fileStore) has(uri string) bool { _, ok := fs.byURI[uri]; return ok }

func (fs *fileStore) add(f *StoredFile, at string) {
	fs.byURI[f.URI] = f
	fs.byPath[at] = f.URI
	fs.order = append(fs.order, f.URI)
	fs.bytes += int64(len(f.Content))
}

func (s *Server) newStoredFile(name string) *StoredFile {
	id := s.newID()
	return &StoredFile{File: stewai.File{ObjULID: id, URI: "doc://" + id, Filename: name}}
}

// PutFile stores content in the fake Pantry at path (a filename, or folders
// and a filename such as "Reports/Q4.pdf"), so that ResolvePath finds it and
// runs can ingest it, and returns it. Its content counts toward
// WithMaxStoredBytes, but PutFile is never refused.
func (s *Server) PutFile(at string, content []byte) stewai.File {
	f := s.newStoredFile(path.Base(at))
	f.SizeBytes = int64(len(content))
	f.SHA256 = sha256.Sum256(content)
	f.Content = append([]byte(nil), content[:min(len(content), MaxKeptContent)]...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files.add(f, at)
	return f.File
}

// Files returns the stored files, oldest first.
func (s *Server) Files() []StoredFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredFile, 0, len(s.files.order))
	for _, uri := range s.files.order {
		out = append(out, *s.files.byURI[uri])
	}
	return out
}

// upload handles POST storage/upload/: a multipart form with a file part and
// an optional folder_ulid field, read as a stream.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, _ string) []byte {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be multipart/form-data.")
		return nil
	}
	// Keep no more than could fit: an upload bound to be refused leaves
	// (almost) no garbage behind. The room only shrinks meanwhile, so a
	// file cut short here is refused below.
	s.mu.Lock()
	room := min(max(s.maxStored-s.files.bytes, 0), MaxKeptContent)
	s.mu.Unlock()
	keep := min(int(room)+1, MaxKeptContent)
	file, problem := s.readUploadForm(r, keep, r.ContentLength)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if uri, seen := s.replayed(w, r, "upload", file.SHA256); seen {
		if uri != "" {
			writeJSON(w, http.StatusCreated, s.files.byURI[uri].File)
		}
		return nil
	}
	if adds := min(file.SizeBytes, MaxKeptContent); s.files.bytes+adds > s.maxStored {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"Storage full: the fake keeps at most %d bytes of uploaded content (WithMaxStoredBytes, --max-stored-bytes); %d are stored and this file would add %d. Earlier files are kept.",
			s.maxStored, s.files.bytes, adds))
		return nil
	}
	s.files.add(file, file.Filename)
	s.remember(r, "upload", file.SHA256, file.URI)
	writeJSON(w, http.StatusCreated, file.File)
	return nil
}

// readUploadForm reads an upload's form as a stream, keeping the file's
// size, digest and first keep bytes (keep ≤ MaxKeptContent). sizeHint is
// the request's Content-Length, -1 when unknown. problem says what is
// wrong with the form, in the words of a 400 answer.
func (s *Server) readUploadForm(r *http.Request, keep int, sizeHint int64) (file *StoredFile, problem string) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "Malformed multipart body."
	}
	var folder string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "Malformed multipart body."
		}
		switch part.FormName() {
		case "folder_ulid":
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			if _, err := ulid.ParseStrict(string(v)); err != nil {
				return nil, fmt.Sprintf("folder_ulid %q is not a ULID.", v)
			}
			folder = string(v)
		case "file":
			if file != nil {
				return nil, "Only one file part is allowed."
			}
			if file, problem = s.readFilePart(part, keep, sizeHint); problem != "" {
				return nil, problem
			}
		default:
			return nil, fmt.Sprintf("Unexpected form field %q.", part.FormName())
		}
	}
	if file == nil {
		return nil, "The form has no file part."
	}
	file.Folder = folder
	return file, ""
}

// readFilePart reads the file part of an upload, keeping its first keep
// bytes. sizeHint, the request's Content-Length (-1 when unknown), sizes
// the kept content so that reading it leaves no garbage behind.
func (s *Server) readFilePart(part *multipart.Part, keep int, sizeHint int64) (*StoredFile, string) {
	if part.FileName() == "" {
		return nil, "The file part needs a filename."
	}
	file := s.newStoredFile(part.FileName())
	file.ContentType = part.Header.Get("Content-Type")
	h := sha256.New()
	kept := &limitedBuffer{max: keep}
	if sizeHint > 0 {
		kept.b = make([]byte, 0, min(sizeHint, int64(keep)))
	}
	n, err := io.Copy(io.MultiWriter(h, kept), part)
	if err != nil {
		return nil, "Could not read the file part."
	}
	if cap(kept.b)-len(kept.b) > len(kept.b)/8 {
		kept.b = bytes.Clone(kept.b) // do not keep the unused capacity
	}
	file.SizeBytes, file.Content = n, kept.b
	copy(file.SHA256[:], h.Sum(nil))
	return file, ""
}

// resolve handles GET storage/resolve/?path=...
func (s *Server) resolve(w http.ResponseWriter, r *http.Request, _ string) []byte {
	at := r.URL.Query().Get("path")
	if at == "" {
		writeError(w, http.StatusBadRequest, "The path query parameter is required.")
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uri, ok := s.files.byPath[at]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No file at %q.", at))
		return nil
	}
	writeJSON(w, http.StatusOK, s.files.byURI[uri].File)
	return nil
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
