package throttle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
)

// TestHostKey: a request's key is its host lower-cased, an IDN in ASCII,
// an IPv6 address in canonical form and brackets, with the port unless it
// is 80 or 443 (issue 7, item 5).
func TestHostKey(t *testing.T) {
	cases := []struct{ url, want string }{
		{"https://api.example.com/x", "api.example.com"},
		{"https://API.Example.com:443/x", "api.example.com"},
		{"http://api.example.com:80/x", "api.example.com"},
		{"http://h:443/", "h"},
		{"https://h:80/", "h"},
		{"http://h:0443/", "h"},
		{"http://h:/", "h"},
		{"http://localhost:8080/", "localhost:8080"},
		{"http://LocalHost:08080/", "localhost:8080"},
		{"http://127.0.0.5/", "127.0.0.5"},
		{"http://127.0.0.5:80/", "127.0.0.5"},
		{"http://[::1]/", "[::1]"},
		{"http://[::1]:80/", "[::1]"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"http://[FE80::1]/", "[fe80::1]"},
		{"http://[0:0:0:0:0:0:0:1]:443/", "[::1]"},
		{"https://Bücher.example/", "xn--bcher-kva.example"},
		{"https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
		{"https://bücher.example:8443/", "xn--bcher-kva.example:8443"},
		{"http://h_x:80/", "h_x"},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := hostKey(u); got != tc.want {
			t.Errorf("hostKey(%s) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

// TestHostOption: an option's host is normalised by the same rule as a
// request's, so it names the key of the requests it is meant for; a form
// that could never match is refused, naming the caller's value.
func TestHostOption(t *testing.T) {
	ok := []struct{ host, want string }{
		{"api.example.com", "api.example.com"},
		{"api.example.com:443", "api.example.com"},
		{"API.example.com:80", "api.example.com"},
		{"127.0.0.5:80", "127.0.0.5"},
		{"localhost:8080", "localhost:8080"},
		{"::1", "[::1]"},
		{"[::1]", "[::1]"},
		{"[::1]:443", "[::1]"},
		{"[::1]:8080", "[::1]:8080"},
		{"FE80::1", "[fe80::1]"},
		{"Bücher.example", "xn--bcher-kva.example"},
		{"bücher.example:8443", "xn--bcher-kva.example:8443"},
	}
	for _, tc := range ok {
		got, err := hostOption("WithRateLimitFor", tc.host)
		if err != nil || got != tc.want {
			t.Errorf("hostOption(%q) = %q, %v; want %q", tc.host, got, err, tc.want)
		}
	}
	bad := []string{
		"", " ", " api.example.com", "api.example.com ", "api example.com", "api.example.com\n",
		"https://api.example.com", "http://h:80", "api.example.com/v1", "/v1", "h?x", "h#x",
		"h:", "h:x", "h:0", "h:65536", "h:-1", "h:+80", "h:8080:1",
		"user@h", "[::1", "[::1]x", "[::1]:", "[127.0.0.1]", "[h]", ":8080", "a\x00b",
		"bü cher.example",
	}
	for _, host := range bad {
		_, err := hostOption("WithRateLimitFor", host)
		if !errors.Is(err, ErrInvalidOption) {
			t.Errorf("hostOption(%q): err = %v, want one wrapping ErrInvalidOption", host, err)
			continue
		}
		if want := "WithRateLimitFor(" + quote(host) + ")"; !strings.Contains(err.Error(), want) {
			t.Errorf("hostOption(%q): err = %q, want it to name %s", host, err, want)
		}
	}
}

// TestHostOverrideMatchesItsRequests: WithRateLimitFor and
// WithHostConcurrencyFor given with the scheme's default port hold for the
// requests to that host, end to end (issue 7, item 5: they were accepted
// and never matched).
func TestHostOverrideMatchesItsRequests(t *testing.T) {
	base := rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
	})
	cases := []struct {
		name   string
		opt    Option
		target string
		key    string // the host the limit is reported for
	}{
		{"WithRateLimitFor", WithRateLimitFor("api.example.com:443", 1, time.Hour), "https://API.example.com/items", "api.example.com"},
		{"WithRateLimitFor/http on 443", WithRateLimitFor("api.example.com:443", 1, time.Hour), "http://api.example.com:443/items", "api.example.com"},
		{"WithRateLimitFor/IDN", WithRateLimitFor("Bücher.example", 1, time.Hour), "https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
		{"WithHostConcurrencyFor", WithHostConcurrencyFor("127.0.0.5:80", 1), "http://127.0.0.5/", "127.0.0.5"},
		{"WithHostConcurrencyFor/IPv6", WithHostConcurrencyFor("::1", 1), "http://[::1]:80/", "[::1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTransport(base, tc.opt, WithClock(clock.NewFake(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			get := func(ctx context.Context) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, "GET", tc.target, nil)
				if err != nil {
					t.Fatal(err)
				}
				return tr.RoundTrip(req)
			}
			first, err := get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer first.Body.Close() // holds the host's slot until the end
			// The override allows one: a second attempt must wait, and
			// with a deadline already past it fails at once.
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			if resp, err := get(ctx); err == nil {
				resp.Body.Close()
				t.Fatalf("second request to %s passed: the option %s did not apply to it", tc.target, tc.name)
			} else if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "of host "+tc.key+":") {
				t.Fatalf("second request: err = %v, want one wrapping context.DeadlineExceeded from the limit of host %s", err, tc.key)
			}
		})
	}
}

// TestHostKeyAllocs: the common keys cost no allocation.
func TestHostKeyAllocs(t *testing.T) {
	for _, raw := range []string{
		"https://api.example.com/x", "https://api.example.com:443/x",
		"http://127.0.0.1:8080/x", "http://[::1]:8080/x",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { hostKey(u) }); n != 0 {
			t.Errorf("hostKey(%s): %v allocations, want 0", raw, n)
		}
	}
}

func BenchmarkHostKey(b *testing.B) {
	for _, bc := range []struct{ name, url string }{
		{"form=plain", "https://api.example.com/x"},
		{"form=defaultport", "https://api.example.com:443/x"},
		{"form=port", "http://127.0.0.1:8080/x"},
		{"form=upper", "https://API.example.com/x"},
		{"form=idn", "https://bücher.example/x"},
	} {
		u, err := url.Parse(bc.url)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hostKey(u)
			}
		})
	}
}
