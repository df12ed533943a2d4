package imitation

import (
	"net/http"
	"net/http/httptest"
	"time"
)

// A Target is a server Measure runs against: an imitation started with
// Start, or a real nginx or HAProxy (package real).
type Target interface {
	// URL is where to send the requests.
	URL() string
	// Ideal is the least time for n requests fired at once to all be
	// accepted and answered.
	Ideal(n int) time.Duration
	// Counts is what the server counted so far.
	Counts() Counts
	// Close stops the server.
	Close() error
}

// Server is a Handler listening on 127.0.0.1.
type Server struct {
	*Handler
	srv *httptest.Server
}

// Start starts h on a loopback port (httptest's, 127.0.0.1). Close stops
// it.
func Start(h *Handler) *Server {
	return &Server{Handler: h, srv: httptest.NewServer(h)}
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL + "/" + s.name }

// Close stops the server, cutting the connections still open.
func (s *Server) Close() error {
	s.srv.CloseClientConnections()
	s.srv.Close()
	return nil
}

var _ http.Handler = (*Handler)(nil)
