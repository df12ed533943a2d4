package real

import (
	"fmt"
	"time"

	"github.com/go-throttle/throttle/internal/imitation"
)

// reqService is the backend's service time behind the rate limits, as in
// the imitations (behind limit_conn 4 it is imitation.LimitConnService).
const reqService = 5 * time.Millisecond

// nginxConfig is a whole nginx.conf: one single-process server (no
// master, so SIGTERM stops it all) with every path in dir, logging each
// request's status alone on a line, and proxying to the backend with
// keep-alive connections.
func nginxConfig(dir string, port int, backend, location string, rate int) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    log_format status '$status';
    access_log %[1]s/access.log status;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    limit_req_zone $binary_remote_addr zone=req:1m rate=%[5]dr/s;
    limit_req_status 429;
    limit_conn_zone $binary_remote_addr zone=conn:1m;
    limit_conn_status 429;
    upstream backend {
        server %[3]s;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:%[2]d;
        location / {
            %[4]s
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`, dir, port, backend, location, rate)
}

// startNginx starts nginx with location's limit directive, and a
// limit_req zone of rate r/s, in front of a backend serving each request
// for service.
func startNginx(name, location string, rate int, service time.Duration, ideal func(int) time.Duration) (*Server, error) {
	bin, err := binary("nginx", "nginx-light")
	if err != nil {
		return nil, err
	}
	s, err := newServer(name, service, ideal)
	if err != nil {
		return nil, err
	}
	s.log.path = s.dir + "/access.log"
	backend := s.bsrv.Listener.Addr().String()
	err = launch(s, bin,
		func(dir string) []string {
			return []string{"-p", dir, "-c", dir + "/nginx.conf", "-e", dir + "/error.log"}
		},
		func(port int) string { return nginxConfig(s.dir, port, backend, location, rate) },
		"nginx.conf")
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// nginxSpecs are the nginx rows, with the same parameters as their
// imitations.
func nginxSpecs() []Spec {
	return []Spec{
		{
			Name: "real-nginx-req", What: "real nginx limit_req rate=150r/s, limit_req_status 429",
			Limit:  imitation.Limit{Bucket: imitation.Rate{N: 150, Per: time.Second}, Burst: 1},
			Binary: "nginx", Package: "nginx-light",
			Start: func() (*Server, error) {
				return startNginx("real-nginx-req", "limit_req zone=req;", 150, reqService, func(n int) time.Duration {
					return imitation.IdealLimitReq(150, 0, n, reqService)
				})
			},
		},
		{
			Name: "real-nginx-burst", What: "real nginx limit_req rate=140r/s burst=20 nodelay",
			Limit:  imitation.Limit{Bucket: imitation.Rate{N: 140, Per: time.Second}, Burst: 21},
			Binary: "nginx", Package: "nginx-light",
			Start: func() (*Server, error) {
				return startNginx("real-nginx-burst", "limit_req zone=req burst=20 nodelay;", 140, reqService, func(n int) time.Duration {
					return imitation.IdealLimitReq(140, 20, n, reqService)
				})
			},
		},
		{
			Name: "real-nginx-conn", What: "real nginx limit_conn 4, limit_conn_status 429",
			Limit:  imitation.Limit{InFlight: 4},
			Binary: "nginx", Package: "nginx-light",
			Start: func() (*Server, error) {
				return startNginx("real-nginx-conn", "limit_conn conn 4;", 150, imitation.LimitConnService, func(n int) time.Duration {
					return imitation.IdealInFlight(4, n, imitation.LimitConnService)
				})
			},
		},
	}
}
