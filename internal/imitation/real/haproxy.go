package real

import (
	"fmt"
	"time"

	"github.com/go-throttle/throttle/internal/imitation"
)

// haproxyLimit is the rate above which the HAProxy row denies, as in its
// imitation.
const haproxyLimit = 150

// haproxyConfig tracks every request by source in a stick table storing
// http_req_rate(1s), denies with 429 while sc_http_req_rate(0) is above
// haproxyLimit, and logs each request's status alone on a line to
// standard output.
func haproxyConfig(dir string, port int, backend string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
    maxconn 4096
    pidfile %[1]s/haproxy.pid

defaults
    mode http
    log global
    option dontlognull
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:%[2]d
    log-format "%%ST"
    stick-table type ip size 1k expire 30s store http_req_rate(1s)
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt %[4]d }
    default_backend be

backend be
    server app %[3]s
`, dir, port, backend, haproxyLimit)
}

func haproxySpecs() []Spec {
	return []Spec{{
		Name: "real-haproxy", What: "real HAProxy http_req_rate(1s) gt 150 denies 429",
		Limit:  imitation.Limit{Window: imitation.Rate{N: haproxyLimit, Per: time.Second}},
		Binary: "haproxy", Package: "haproxy",
		Start: startHAProxy,
	}}
}

func startHAProxy() (*Server, error) {
	bin, err := binary("haproxy", "haproxy")
	if err != nil {
		return nil, err
	}
	s, err := newServer("real-haproxy", reqService, func(n int) time.Duration {
		return imitation.IdealHTTPReqRate(haproxyLimit, time.Second, n, reqService)
	})
	if err != nil {
		return nil, err
	}
	backend := s.bsrv.Listener.Addr().String()
	err = launch(s, bin,
		func(dir string) []string { return []string{"-db", "-f", dir + "/haproxy.cfg"} },
		func(port int) string { return haproxyConfig(s.dir, port, backend) },
		"haproxy.cfg")
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Specs are the real servers of the table: nginx's limit_req (with and
// without a burst) and limit_conn, and HAProxy's http_req_rate.
func Specs() []Spec { return append(nginxSpecs(), haproxySpecs()...) }
