package stewai

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// SourceKind says where an ingest source's content comes from.
type SourceKind string

const (
	// SourceURL is a web page or document fetched from an http:// or
	// https:// URI.
	SourceURL SourceKind = "url"
	// SourceFile is a file stored in StewAI's Pantry, with a doc:// URI
	// (see StorageService.Upload and File.IngestSource).
	SourceFile SourceKind = "file"
)

// IngestSource is one document for a recipe's ingest step. Make it with
// URLSource, FileSource or File.IngestSource.
type IngestSource struct {
	// URI is an http(s):// URL for SourceURL, a doc:// URI for SourceFile.
	URI string `json:"uri"`
	// Kind is SourceURL or SourceFile.
	Kind SourceKind `json:"kind"`
	// Label names the document for the recipe; optional.
	Label string `json:"label,omitempty"`
}

// URLSource returns a source that ingests the web page or document at uri,
// which must be an http:// or https:// URL.
func URLSource(uri string) IngestSource {
	return IngestSource{URI: uri, Kind: SourceURL}
}

// FileSource returns a source that ingests the Pantry file at uri, which must
// be a doc:// URI; label is optional.
func FileSource(uri, label string) IngestSource {
	return IngestSource{URI: uri, Kind: SourceFile, Label: label}
}

// Validate reports what is wrong with s, with an error matching
// ErrInvalidParams: a url source must be an http(s) URL with a host, a file
// source a doc:// URI, and the kind one of those two.
func (s IngestSource) Validate() error {
	if p := s.problem(); p != "" {
		return invalidf("%s", p)
	}
	return nil
}

// problem describes what is wrong with s, or returns "".
func (s IngestSource) problem() string {
	switch s.Kind {
	case SourceURL:
		u, err := url.Parse(s.URI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("url source %q is not an http:// or https:// URL", s.URI)
		}
	case SourceFile:
		if !strings.HasPrefix(s.URI, "doc://") || len(s.URI) == len("doc://") {
			return fmt.Sprintf("file source %q is not a doc:// URI", s.URI)
		}
	case "":
		return fmt.Sprintf("source %q has no kind (use URLSource or FileSource)", s.URI)
	default:
		return fmt.Sprintf("source %q has unknown kind %q (want %q or %q)", s.URI, s.Kind, SourceURL, SourceFile)
	}
	return ""
}

// ingestStep is the wire form of one ingest step: {"sources": [...]}.
type ingestStep struct {
	Sources []IngestSource `json:"sources"`
}

// encodeIngest checks every source and returns the wire form of an ingest
// map, or nil when there is nothing to ingest (the field is then omitted).
func encodeIngest(ingest map[string][]IngestSource) (map[string]ingestStep, error) {
	if len(ingest) == 0 {
		return nil, nil
	}
	steps := make([]string, 0, len(ingest))
	for step := range ingest {
		steps = append(steps, step)
	}
	sort.Strings(steps) // report the first bad source deterministically
	wire := make(map[string]ingestStep, len(ingest))
	for _, step := range steps {
		if strings.TrimSpace(step) == "" {
			return nil, invalidf("ingest has a step with an empty id")
		}
		sources := ingest[step]
		if len(sources) == 0 {
			return nil, invalidf("ingest[%q] has no sources (it would replace the step's documents with none; leave the step out instead)", step)
		}
		for i, src := range sources {
			if p := src.problem(); p != "" {
				return nil, invalidf("ingest[%q][%d]: %s", step, i, p)
			}
		}
		wire[step] = ingestStep{Sources: sources}
	}
	return wire, nil
}
