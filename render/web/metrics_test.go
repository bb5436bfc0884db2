package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMetricsRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hrvs_up 1\n") })
	cases := []struct {
		name  string
		opt   Options
		query string
		code  int
	}{
		{"without a metrics handler there is no /metrics", Options{}, "", http.StatusNotFound},
		{"the handler is served as /metrics", Options{Metrics: metrics}, "", http.StatusOK},
		{"a keyed view refuses /metrics without the token", Options{Metrics: metrics, Token: "s3cret"}, "", http.StatusUnauthorized},
		{"a keyed view refuses /metrics with a wrong token", Options{Metrics: metrics, Token: "s3cret"}, "?token=nope", http.StatusUnauthorized},
		{"a keyed view serves /metrics with the token", Options{Metrics: metrics, Token: "s3cret"}, "?token=s3cret", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, url := start(t, c.opt)
			resp, err := http.Get(url + "/metrics" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("GET /metrics%s: %d, want %d", c.query, resp.StatusCode, c.code)
			}
			if c.code == http.StatusOK && !strings.Contains(string(body), "hrvs_up 1") {
				t.Fatalf("GET /metrics%s served %q, not the handler's", c.query, body)
			}
		})
	}
}
