package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCmd runs the command in-process with stdin and returns its exit code,
// standard output and standard error.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, interrupt: make(chan os.Signal)}
	code := run(e, args)
	return code, out.String(), errOut.String()
}

func TestFlagErrorsExit2NamingFlagAndValue(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"rate word", []string{"fetch", "--rate", "fast", "http://x"}, []string{"--rate", `"fast"`}},
		{"rate zero", []string{"fetch", "--rate=0/s", "http://x"}, []string{"--rate", `"0/s"`}},
		{"rate unit", []string{"fetch", "--host-rate", "5/fortnight", "http://x"}, []string{"--host-rate", `"5/fortnight"`}},
		{"concurrency zero", []string{"fetch", "--concurrency", "0", "http://x"}, []string{"--concurrency", `"0"`}},
		{"host concurrency word", []string{"fetch", "--host-concurrency", "many", "http://x"}, []string{"--host-concurrency", `"many"`}},
		{"retries negative", []string{"fetch", "--retries", "-1", "http://x"}, []string{"--retries", `"-1"`}},
		{"timeout", []string{"fetch", "--timeout", "soon", "http://x"}, []string{"--timeout", `"soon"`}},
		{"burst", []string{"fetch", "--burst", "0", "http://x"}, []string{"--burst", `"0"`}},
		{"header", []string{"fetch", "-H", "no colon", "http://x"}, []string{"-H", `"no colon"`}},
		{"unknown flag", []string{"fetch", "--nope", "http://x"}, []string{"--nope"}},
		{"resume without -o", []string{"fetch", "--resume", "http://x"}, []string{"--resume", "-o"}},
		{"limit parsecs", []string{"upload", "--limit", "2 parsecs", "-F", "a=b", "http://x"}, []string{"--limit", `"2 parsecs"`}},
		{"form", []string{"upload", "-F", "novalue", "http://x"}, []string{"-F", `"novalue"`}},
		{"upload missing file", []string{"upload", "-F", "f=@/nonexistent/file", "http://x"}, []string{"-F", "/nonexistent/file"}},
		{"upload no URL", []string{"upload", "-F", "a=b"}, []string{"one URL"}},
		{"demo argument", []string{"demo", "extra"}, []string{`"extra"`}},
		{"unknown command", []string{"fly"}, []string{`"fly"`}},
		{"no command", nil, []string{"Usage"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", c.args...)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, out)
			for _, w := range c.want {
				assert.Contains(t, errOut, w)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	cases := map[string]struct {
		n   int
		per time.Duration
	}{
		"50/s":     {50, time.Second},
		"3000/min": {3000, time.Minute},
		"10/2s":    {10, 2 * time.Second},
		"5/500ms":  {5, 500 * time.Millisecond},
		"7/h":      {7, time.Hour},
		"1/5min":   {1, 5 * time.Minute},
	}
	for in, want := range cases {
		var r rateValue
		require.NoError(t, r.Set(in), in)
		assert.Equal(t, want.n, r.n, in)
		assert.Equal(t, want.per, r.per, in)
	}
	for _, bad := range []string{"", "50", "x/s", "-1/s", "5/", "5/0s", "5/-2s", "5/3parsecs"} {
		var r rateValue
		assert.Error(t, r.Set(bad), bad)
	}
}

func TestByteRate(t *testing.T) {
	for in, want := range map[string]int64{"2MiB/s": 2 << 20, "500KB/s": 500_000, "1.5MB": 1_500_000, "64k": 64_000} {
		var b byteRate
		require.NoError(t, b.Set(in), in)
		assert.Equal(t, want, b.n, in)
	}
	for _, bad := range []string{"2 parsecs", "fast", "0", ""} {
		var b byteRate
		assert.Error(t, b.Set(bad), bad)
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	code, out, _ := runCmd(t, "", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "Examples:")
	for cmd, flags := range map[string][]string{
		"fetch":  {"--rate", "--host-rate", "--burst", "--concurrency", "--host-concurrency", "--retries", "--timeout", "-H", "-o", "--resume", "--jsonl"},
		"upload": {"-F", "--limit", "--retries", "-H"},
		"demo":   {"--out"},
	} {
		code, out, _ := runCmd(t, "", cmd, "--help")
		assert.Equal(t, exitOK, code, cmd)
		assert.Contains(t, out, "Example", cmd)
		for _, f := range flags {
			assert.Contains(t, out, "  "+f+" ", "%s --help documents %s", cmd, f)
		}
	}
}

func TestFileForIsSafeAndStable(t *testing.T) {
	cases := map[string]string{
		"https://example.com/a/b.json": "example.com_a_b.json",
		"https://example.com/":         "example.com_index.html",
		"https://example.com":          "example.com_index.html",
	}
	for in, want := range cases {
		assert.Equal(t, filepath.Join("d", want), fileFor("d", in), in)
	}
	q1, q2 := fileFor("d", "https://e.com/p?a=1"), fileFor("d", "https://e.com/p?a=2")
	assert.NotEqual(t, q1, q2)
	assert.Equal(t, q1, fileFor("d", "https://e.com/p?a=1"))
	assert.NotEqual(t, fileFor("d", "https://e.com/a_b"), fileFor("d", "https://e.com/a/b"))
	for _, u := range []string{"https://e.com/../../etc/passwd", "https://e.com/" + strings.Repeat("x", 500), "http://../x"} {
		name := filepath.Base(fileFor("d", u))
		assert.Equal(t, filepath.Join("d", name), fileFor("d", u), "stays in the folder: %s", u)
		assert.False(t, strings.HasPrefix(name, "."), u)
		assert.LessOrEqual(t, len(name), maxNameLen+13, u)
	}
}

// fetchServer answers /ok/* with their path, /missing with 404, and
// counts requests.
func fetchServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "body of "+r.URL.Path+" "+r.Header.Get("X-Token"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func decodeJSONL(t *testing.T, out string) map[string]fetchRecord {
	t.Helper()
	recs := map[string]fetchRecord{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r fetchRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		recs[r.URL] = r
	}
	return recs
}

func TestFetchEndToEnd(t *testing.T) {
	srv, _ := fetchServer(t)
	dir := t.TempDir()
	urls := []string{srv.URL + "/ok/a", srv.URL + "/ok/b", srv.URL + "/ok/c.txt"}
	args := append([]string{"fetch", "--rate", "100/s", "--host-concurrency", "2", "--retries", "1", "--timeout", "10s",
		"-H", "X-Token: t0k", "-o", dir, "--jsonl"}, urls...)
	code, out, errOut := runCmd(t, "", args...)
	require.Equal(t, exitOK, code, errOut)
	recs := decodeJSONL(t, out)
	require.Len(t, recs, 3)
	for _, u := range urls {
		r := recs[u]
		assert.Equal(t, 200, r.Status, u)
		assert.Empty(t, r.Error, u)
		assert.Equal(t, int64(1), r.Attempts, u)
		assert.Positive(t, r.Bytes, u)
		body, err := os.ReadFile(fileFor(dir, u))
		require.NoError(t, err)
		path := strings.TrimPrefix(u, srv.URL)
		assert.Equal(t, "body of "+path+" t0k", string(body))
	}
	assert.Contains(t, errOut, "fetched 3 URLs")
	assert.Contains(t, errOut, "3 ok, 0 failed")
	left, _ := filepath.Glob(filepath.Join(dir, ".throttle-*"))
	assert.Empty(t, left, "no temporary files left")
}

func TestFetchStdinFailuresAndResume(t *testing.T) {
	srv, hits := fetchServer(t)
	dir := t.TempDir()
	stdin := "# a comment\n\n" + srv.URL + "/ok/1\n  " + srv.URL + "/missing  \nnot a url\n" + srv.URL + "/ok/2\n"
	code, out, errOut := runCmd(t, stdin, "fetch", "--jsonl", "-o", dir)
	assert.Equal(t, exitFailed, code, errOut)
	recs := decodeJSONL(t, out)
	require.Len(t, recs, 4)
	assert.Equal(t, 404, recs[srv.URL+"/missing"].Status)
	assert.Contains(t, recs[srv.URL+"/missing"].Error, "404")
	assert.NotEmpty(t, recs["not a url"].Error)
	assert.Empty(t, recs[srv.URL+"/ok/2"].Error)
	_, err := os.Stat(fileFor(dir, srv.URL+"/missing"))
	assert.True(t, os.IsNotExist(err), "no file for a failed response")
	assert.Equal(t, int64(3), hits.Load())

	// --resume skips the files already there.
	code, out, errOut = runCmd(t, stdin, "fetch", "--jsonl", "-o", dir, "--resume")
	assert.Equal(t, exitFailed, code, errOut)
	recs = decodeJSONL(t, out)
	assert.Contains(t, recs[srv.URL+"/ok/1"].Error, "skipped")
	assert.Contains(t, errOut, "2 skipped")
	assert.Equal(t, int64(4), hits.Load(), "only /missing was asked again")
}

func TestFetchPlainProgressLinesWhenNotATerminal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	urls := []string{"fetch", "--rate", "2/s"}
	for range 6 { // 2/s: about 2.5 s, so at least one 2 s line
		urls = append(urls, srv.URL)
	}
	code, _, errOut := runCmd(t, "", urls...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, errOut, "fetch: ")
	assert.Contains(t, errOut, "/6 done")
	assert.NotContains(t, errOut, "\r", "no bar drawing without a terminal")
}

func TestUploadEndToEnd(t *testing.T) {
	type got struct{ title, file, name, auth string }
	results := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, h, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		results <- got{r.FormValue("title"), string(b), h.Filename, r.Header.Get("Authorization")}
		io.WriteString(w, "stored\n")
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "data.bin")
	content := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	code, out, errOut := runCmd(t, "", "upload", "--limit", "256KiB/s", "--retries", "2", "-H", "Authorization: Bearer x",
		"-F", "title=backup", "-F", "file=@"+path, srv.URL)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "stored\n", out)
	g := <-results
	assert.Equal(t, got{"backup", content, "data.bin", "Bearer x"}, g)
	assert.Contains(t, errOut, "uploaded 64 KiB")
	assert.Contains(t, errOut, "(cap 256 KiB/s)")
	assert.Contains(t, errOut, "200 OK")

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer bad.Close()
	code, _, errOut = runCmd(t, "", "upload", "-F", "a=b", bad.URL)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "403")
}

func TestDemoEndToEnd(t *testing.T) {
	// A smaller scenario than the real one, so the test takes seconds.
	defer func(b, l, s, c int) { demoBurst, demoLimit, demoUploadSize, demoUploadCap = b, l, s, c }(demoBurst, demoLimit, demoUploadSize, demoUploadCap)
	demoBurst, demoLimit, demoUploadSize, demoUploadCap = 40, 20, 64<<10, 128<<10
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "", "demo", "--out", dir)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "| plain http.Client | states its limit | 40 | 20 | 20 |")
	assert.Contains(t, out, "Session, no configuration")
	assert.Contains(t, out, "Upload: 64 KiB")
	svg, err := os.ReadFile(filepath.Join(dir, "demo.svg"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(svg, []byte("<svg")))
	assert.Contains(t, string(svg), "server limit: 20 in any 1 s")
	assert.Equal(t, 5, strings.Count(string(svg), "to the API that"))
}
