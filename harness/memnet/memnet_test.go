package memnet_test

import (
	"context"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/memnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// done reports whether ch has a value or is closed, without waiting.
func done[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

type accepted struct {
	c   net.Conn
	err error
}

func accept(l *memnet.Listener) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err}
	}()
	return ch
}

// exchange sends msg from one end and reads it at the other.
func exchange(t *testing.T, from, to net.Conn, msg string) {
	t.Helper()
	wrote := make(chan error, 1)
	go func() {
		_, err := from.Write([]byte(msg))
		wrote <- err
	}()
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(to, buf)
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	require.Equal(t, msg, string(buf))
}

func TestDialAccept(t *testing.T) {
	for _, bubble := range []bool{false, true} {
		name := "real time"
		if bubble {
			name = "synctest"
		}
		t.Run(name, func(t *testing.T) {
			test := func(t *testing.T) {
				l := memnet.Listen()
				defer l.Close()
				acc := accept(l)
				client, err := l.Dial(t.Context())
				require.NoError(t, err)
				a := <-acc
				require.NoError(t, a.err)
				server := a.c

				exchange(t, client, server, "hello, server")
				exchange(t, server, client, "hello, station")

				require.NoError(t, client.Close())
				_, err = server.Read(make([]byte, 1))
				require.ErrorIs(t, err, io.EOF, "the server's end sees the client close")
				require.NoError(t, server.Close())
			}
			if bubble {
				synctest.Test(t, test)
			} else {
				test(t)
			}
		})
	}
}

func TestDialContextIgnoresAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := memnet.Listen()
		defer l.Close()
		for _, addr := range []string{"kata.test:80", "127.0.0.1:1", ""} {
			acc := accept(l)
			client, err := l.DialContext(t.Context(), "tcp", addr)
			require.NoError(t, err)
			a := <-acc
			require.NoError(t, a.err)
			exchange(t, client, a.c, addr+"!")
			client.Close()
			a.c.Close()
		}
	})
}

func TestManyConnectionsAreSeparate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := memnet.Listen()
		defer l.Close()
		const n = 5
		clients := make([]net.Conn, n)
		servers := make([]net.Conn, n)
		for i := range n {
			acc := accept(l)
			c, err := l.Dial(t.Context())
			require.NoError(t, err)
			a := <-acc
			require.NoError(t, a.err)
			clients[i], servers[i] = c, a.c
		}
		for i := n - 1; i >= 0; i-- {
			exchange(t, clients[i], servers[i], string(rune('a'+i)))
		}
		for i := range n {
			clients[i].Close()
			servers[i].Close()
		}
	})
}

func TestClose(t *testing.T) {
	l := memnet.Listen()
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")

	_, err := l.Accept()
	require.ErrorIs(t, err, memnet.ErrClosed)
	_, err = l.Dial(context.Background())
	require.ErrorIs(t, err, memnet.ErrClosed)
	_, err = l.DialContext(context.Background(), "tcp", "x:1")
	require.ErrorIs(t, err, memnet.ErrClosed)
}

func TestCloseWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := memnet.Listen()
		dialed := make(chan error, 1)
		go func() {
			_, err := l.Dial(t.Context())
			dialed <- err
		}()
		synctest.Wait()
		require.False(t, done(dialed), "Dial returned before anyone accepted")
		l.Close()
		require.ErrorIs(t, <-dialed, memnet.ErrClosed, "Close ends a waiting Dial")

		l = memnet.Listen()
		acc := accept(l)
		synctest.Wait()
		l.Close()
		require.ErrorIs(t, (<-acc).err, memnet.ErrClosed, "Close ends a waiting Accept")
	})
}

func TestAcceptIsDurablyBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := memnet.Listen()
		acc := accept(l)
		start := time.Now()
		synctest.Wait() // returns only if Accept is durably blocked
		time.Sleep(time.Hour)
		require.False(t, done(acc), "Accept returned with nobody dialling")
		require.Equal(t, time.Hour, time.Since(start), "fake time moves while Accept waits")
		l.Close()
		require.ErrorIs(t, (<-acc).err, memnet.ErrClosed)
	})
}

func TestAcceptedConnectionsOutliveTheListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := memnet.Listen()
		acc := accept(l)
		client, err := l.Dial(t.Context())
		require.NoError(t, err)
		a := <-acc
		require.NoError(t, a.err)
		require.NoError(t, l.Close())
		exchange(t, client, a.c, "still here")
		exchange(t, a.c, client, "me too")
		client.Close()
		a.c.Close()
	})
}

func TestDialContextEnds(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		l := memnet.Listen()
		defer l.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c, err := l.Dial(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Nil(t, c)
	})
	t.Run("deadline while nobody accepts", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := memnet.Listen()
			defer l.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			start := time.Now()
			c, err := l.Dial(ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Nil(t, c)
			require.Equal(t, 3*time.Second, time.Since(start))

			// The abandoned dial left nothing for Accept to find.
			acc := accept(l)
			synctest.Wait()
			require.False(t, done(acc))
			l.Close()
			require.ErrorIs(t, (<-acc).err, memnet.ErrClosed)
		})
	})
}

func TestAddr(t *testing.T) {
	l := memnet.Listen()
	defer l.Close()
	var _ net.Listener = l
	assert.Equal(t, "memnet", l.Addr().Network())
	assert.Equal(t, "memnet", l.Addr().String())
}
