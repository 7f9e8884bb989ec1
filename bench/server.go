package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxRuns bounds the run ids a wait benchmark may use.
const maxRuns = 1 << 17

// pollsToDone is how many polls of a run answer before it is done.
const pollsToDone = 5

// runBody is a run as the API answers it, with the fields Run names.
func runBody(id, status string) []byte {
	return []byte(`{"id":"` + id + `","recipe_id":"01JEXAMPLE00000000000000000","status":"` + status +
		`","created_at":"2026-01-15T10:30:00Z","duration_ms":1234,"inputs":{"topic":"bench"}}`)
}

// backend answers runs and uploads, and counts what it accepted.
type backend struct {
	polls [maxRuns]atomic.Int32
	conns [2]atomic.Int64 // connections accepted: 0 plain, 1 TLS
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/runs/"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/runs/"), "/")
		status := "running"
		if i, err := strconv.Atoi(id); err == nil && i >= 0 && i < maxRuns && b.polls[i].Add(1) >= pollsToDone {
			status = "done"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(runBody(id, status))
	case r.Method == http.MethodPost && r.URL.Path == "/v1/storage/upload/":
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"obj_ulid":"01JEXAMPLE00000000000000000","uri":"doc://01JEXAMPLE00000000000000000","filename":"big.bin","size_bytes":%d}`, n)
	default:
		http.NotFound(w, r)
	}
}

// admin resets and reports the counts, on a listener of its own so that
// asking does not count.
func (b *backend) admin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/reset":
		for i := range b.polls {
			b.polls[i].Store(0)
		}
		b.conns[0].Store(0)
		b.conns[1].Store(0)
	case "/stats":
		json.NewEncoder(w).Encode(map[string]int64{"plain": b.conns[0].Load(), "tls": b.conns[1].Load()})
	default:
		http.NotFound(w, r)
	}
}

// serve runs the server until killed, or for -for at most: HTTPS (HTTP/2
// and HTTP/1.1, a self-signed certificate for 127.0.0.1), plain HTTP/1.1,
// and the admin listener. It writes their URLs and the certificate in -dir.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", "/tmp/stewai-bench", "where to write addrs.json and cert.pem")
	life := fs.Duration("for", time.Hour, "how long to serve")
	fs.Parse(args)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	cert, err := selfSigned(filepath.Join(*dir, "cert.pem"))
	if err != nil {
		return err
	}
	b := new(backend)
	listen := func() (net.Listener, string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		return l, l.Addr().String(), nil
	}
	lt, at, err := listen()
	if err != nil {
		return err
	}
	lp, ap, err := listen()
	if err != nil {
		return err
	}
	la, aa, err := listen()
	if err != nil {
		return err
	}
	count := func(i int) func(net.Conn, http.ConnState) {
		return func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				b.conns[i].Add(1)
			}
		}
	}
	tlsSrv := &http.Server{Handler: b, ConnState: count(1), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	plainSrv := &http.Server{Handler: b, ConnState: count(0)}
	adminSrv := &http.Server{Handler: http.HandlerFunc(b.admin)}
	errc := make(chan error, 3)
	go func() { errc <- tlsSrv.ServeTLS(lt, "", "") }()
	go func() { errc <- plainSrv.Serve(lp) }()
	go func() { errc <- adminSrv.Serve(la) }()
	addrs, _ := json.Marshal(map[string]string{"h2": "https://" + at, "h1": "http://" + ap, "admin": "http://" + aa})
	if err := os.WriteFile(filepath.Join(*dir, "addrs.json"), addrs, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s\n", addrs)
	select {
	case err := <-errc:
		return err
	case <-time.After(*life):
		return nil
	}
}

// selfSigned makes a certificate for 127.0.0.1 and writes it, PEM, to path.
func selfSigned(path string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "stewai bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	if der == nil {
		return tls.Certificate{}, errors.New("no certificate")
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
