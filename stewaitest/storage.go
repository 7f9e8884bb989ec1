package stewaitest

import (
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
}

func newFileStore() *fileStore {
	return &fileStore{byURI: map[string]*StoredFile{}, byPath: map[string]string{}}
}

func (fs *fileStore) has(uri string) bool { _, ok := fs.byURI[uri]; return ok }

func (fs *fileStore) add(f *StoredFile, at string) {
	fs.byURI[f.URI] = f
	fs.byPath[at] = f.URI
	fs.order = append(fs.order, f.URI)
}

func newStoredFile(name string) *StoredFile {
	id := ulid.Make().String()
	return &StoredFile{File: stewai.File{ObjULID: id, URI: "doc://" + id, Filename: name}}
}

// PutFile stores content in the fake Pantry at path (a filename, or folders
// and a filename such as "Reports/Q4.pdf"), so that ResolvePath finds it and
// runs can ingest it, and returns it.
func (s *Server) PutFile(at string, content []byte) stewai.File {
	f := newStoredFile(path.Base(at))
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
	file, problem := readUploadForm(r)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	if prev, ok := s.idem["upload:"+key]; ok && key != "" {
		if prev.digest != file.SHA256 {
			writeError(w, http.StatusUnprocessableEntity, "Idempotency-Key was already used with a different file.")
			return nil
		}
		writeJSON(w, http.StatusCreated, s.files.byURI[prev.id].File)
		return nil
	}
	s.files.add(file, file.Filename)
	if key != "" {
		s.idem["upload:"+key] = idempotent{digest: file.SHA256, id: file.URI}
	}
	writeJSON(w, http.StatusCreated, file.File)
	return nil
}

// readUploadForm reads an upload's form as a stream, keeping the file's
// size, digest and first MaxKeptContent bytes. problem says what is wrong
// with the form, in the words of a 400 answer.
func readUploadForm(r *http.Request) (file *StoredFile, problem string) {
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
			if file, problem = readFilePart(part); problem != "" {
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

// readFilePart reads the file part of an upload.
func readFilePart(part *multipart.Part) (*StoredFile, string) {
	if part.FileName() == "" {
		return nil, "The file part needs a filename."
	}
	file := newStoredFile(part.FileName())
	file.ContentType = part.Header.Get("Content-Type")
	h := sha256.New()
	kept := &limitedBuffer{max: MaxKeptContent}
	n, err := io.Copy(io.MultiWriter(h, kept), part)
	if err != nil {
		return nil, "Could not read the file part."
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
