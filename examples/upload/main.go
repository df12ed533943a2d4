// Command upload sends a multipart form, a field and a file, to a local
// server at no more than a set number of bytes per second: the file is
// streamed from disk as it is sent, never held in memory, and replayed
// from disk if the server answers 429.
//
//	go run ./examples/upload
//	go run ./examples/upload -size 4194304 -rate 1048576
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/go-throttle/throttle"
)

func main() {
	size := flag.Int64("size", 1<<20, "size of the file to upload, in bytes")
	rate := flag.Int64("rate", 512<<10, "the upload's cap, in bytes per second")
	flag.Parse()

	path, cleanup, err := makeFile(*size)
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()

	var received int64
	var first, last time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			first = time.Now()
			n, _ := io.Copy(io.Discard, part)
			last = time.Now()
			if part.FileName() != "" {
				received += n
			}
		}
		fmt.Fprintln(w, "stored")
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 3}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	form := throttle.NewMultipart()
	form.AddField("title", "nightly backup")
	if err := form.AddFileFromPath("file", path); err != nil {
		log.Fatal(err)
	}
	body, err := throttle.NewPayload(form, *rate) // this upload: *rate bytes/s at most
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := s.Post(ctx, srv.URL+"/upload", form.ContentType(), body)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(os.Stdout, resp.Body)
	resp.Body.Close()
	secs := last.Sub(first).Seconds()
	fmt.Printf("server received %d file bytes in %.1fs: %.0f KiB/s against a cap of %d KiB/s (plus one 100 ms chunk of burst)\n",
		received, secs, float64(received)/secs/1024, *rate/1024)
}

// makeFile writes size bytes to a temporary file.
func makeFile(size int64) (string, func(), error) {
	dir, err := os.MkdirTemp("", "throttle-upload-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "backup.bin")
	f, err := os.Create(path)
	if err == nil {
		_, err = io.CopyN(f, zeros{}, size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return path, func() { os.RemoveAll(dir) }, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
