package guard_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/guard"
)

// ok answers 200 "ok" to whatever reaches it.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

type request struct {
	method, target, host, body string
	header                     map[string]string
}

func (rq request) do(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(cmpOr(rq.method, http.MethodGet), cmpOr(rq.target, "/api/stations"), strings.NewReader(rq.body))
	r.Host = cmpOr(rq.host, "127.0.0.1:8080")
	r.RemoteAddr = "192.0.2.7:4000"
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestWithoutToken(t *testing.T) {
	h := guard.New(ok, guard.Options{})
	tests := []struct {
		name string
		req  request
		want int
	}{
		{"IPv4 host", request{host: "127.0.0.1:8080"}, 200},
		{"IPv6 host", request{host: "[::1]:8080"}, 200},
		{"localhost", request{host: "localhost:8080"}, 200},
		{"a name rebound to this machine", request{host: "evil.example:8080"}, http.StatusMisdirectedRequest},
		{"a JSON POST from the same origin", request{method: "POST", body: "{}", header: map[string]string{
			"Content-Type": "application/json; charset=utf-8", "Sec-Fetch-Site": "same-origin"}}, 200},
		{"a POST with no body (curl -X POST)", request{method: "POST"}, 200},
		{"a POST from another site's page", request{method: "POST", body: "{}", header: map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}}, http.StatusForbidden},
		{"a POST whose Origin is another site", request{method: "POST", body: "{}", header: map[string]string{
			"Content-Type": "application/json", "Origin": "http://evil.example"}}, http.StatusForbidden},
		{"a text/plain POST (a no-cors fetch)", request{method: "POST", body: `{"connectorId":1}`, header: map[string]string{
			"Content-Type": "text/plain"}}, http.StatusUnsupportedMediaType},
		{"a form", request{method: "POST", body: "a=b", header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType},
		{"a body without a type", request{method: "POST", body: "{}"}, http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.req.do(h)
			require.Equal(t, tt.want, w.Code, w.Body.String())
			if tt.want != 200 {
				require.Contains(t, w.Body.String(), `"error"`)
			}
		})
	}
}

func TestToken(t *testing.T) {
	h := guard.New(ok, guard.Options{Token: "s3cret"})
	t.Run("every route wants it", func(t *testing.T) {
		for _, target := range []string{"/api/stations", "/live/events", "/metrics", "/debug/pprof/", "/"} {
			w := request{target: target}.do(h)
			require.Equal(t, http.StatusUnauthorized, w.Code, target)
			require.Equal(t, `Bearer realm="operator"`, w.Header().Get("WWW-Authenticate"))
		}
	})
	t.Run("any host, with it", func(t *testing.T) {
		w := request{host: "ocpp.example.com", header: map[string]string{"Authorization": "Bearer s3cret"}}.do(h)
		require.Equal(t, 200, w.Code, w.Body.String())
	})
	t.Run("bearer, any case", func(t *testing.T) {
		require.Equal(t, 200, request{header: map[string]string{"Authorization": "bearer s3cret"}}.do(h).Code)
	})
	t.Run("a wrong one", func(t *testing.T) {
		require.Equal(t, http.StatusUnauthorized, request{header: map[string]string{"Authorization": "Bearer s3cre"}}.do(h).Code)
	})
	t.Run("a page opened with ?token= gets a cookie", func(t *testing.T) {
		w := request{target: "/?light&token=s3cret"}.do(h)
		require.Equal(t, http.StatusSeeOther, w.Code)
		require.Equal(t, "/?light=", w.Header().Get("Location"), "the same page, without the token")
		cookie := w.Header().Get("Set-Cookie")
		require.Contains(t, cookie, guard.CookieName+"=s3cret")
		require.Contains(t, cookie, "HttpOnly")
		require.Contains(t, cookie, "SameSite=Strict")
		w = request{target: "/live/events", header: map[string]string{"Cookie": guard.CookieName + "=s3cret"}}.do(h)
		require.Equal(t, 200, w.Code, "the page's event stream, with the cookie")
	})
}

func TestGuessingIsSlowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		h := guard.New(ok, guard.Options{Token: "s3cret", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		wrong := request{header: map[string]string{"Authorization": "Bearer guess"}}
		right := request{header: map[string]string{"Authorization": "Bearer s3cret"}}
		for i := range guard.FailureLimit {
			require.Equal(t, http.StatusUnauthorized, wrong.do(h).Code, "guess %d", i+1)
		}
		require.Equal(t, http.StatusTooManyRequests, right.do(h).Code, "the right token, after %d wrong ones within a minute", guard.FailureLimit)
		require.Equal(t, 1, strings.Count(logs.String(), "why=token"), "one log line for the guesses:\n%s", logs.String())
		time.Sleep(guard.FailureWindow)
		require.Equal(t, 200, right.do(h).Code, "the right token, a minute later")
		require.Equal(t, http.StatusUnauthorized, wrong.do(h).Code)
		require.Contains(t, logs.String(), "why=token status=401 path=/api/stations refused=10", "the second line counts the refusals since the first:\n%s", logs.String())
	})
}
