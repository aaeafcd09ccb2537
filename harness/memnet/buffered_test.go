package memnet_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/netpoll"
)

// bufferedPair returns the two ends of a connection over
// ListenBuffered(size), closed when the test ends.
func bufferedPair(t *testing.T, size int) (client, server *memnet.Conn) {
	t.Helper()
	l := memnet.ListenBuffered(size)
	defer l.Close()
	acc := accept(l)
	c, err := l.Dial(t.Context())
	require.NoError(t, err)
	a := <-acc
	require.NoError(t, a.err)
	t.Cleanup(func() {
		c.Close()
		a.c.Close()
	})
	return c.(*memnet.Conn), a.c.(*memnet.Conn)
}

// result is what a Read or a Write returned.
type result struct {
	n   int
	err error
}

// goRead reads once into a buffer of n bytes, in a goroutine.
func goRead(c net.Conn, n int) (<-chan result, []byte) {
	ch, buf := make(chan result, 1), make([]byte, n)
	go func() {
		n, err := c.Read(buf)
		ch <- result{n, err}
	}()
	return ch, buf
}

// goWrite writes b, in a goroutine.
func goWrite(c net.Conn, b []byte) <-chan result {
	ch := make(chan result, 1)
	go func() {
		n, err := c.Write(b)
		ch <- result{n, err}
	}()
	return ch
}

func TestBufferedWritesDoNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := bufferedPair(t, 64)
		// Nobody reads: the bytes wait in the buffer, as on a socket.
		for _, msg := range []string{"Boot", "Notification"} {
			n, err := client.Write([]byte(msg))
			require.NoError(t, err)
			require.Equal(t, len(msg), n)
		}
		n, err := server.Write([]byte("accepted"))
		require.NoError(t, err)
		require.Equal(t, 8, n)

		buf := make([]byte, 64)
		n, err = server.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, "BootNotification", string(buf[:n]), "one read takes what is there")
		n, err = client.Read(buf[:3])
		require.NoError(t, err)
		assert.Equal(t, "acc", string(buf[:n]))
		n, err = client.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, "epted", string(buf[:n]), "a short read leaves the rest")

		var _ net.Conn = client
		assert.Equal(t, "memnet", client.LocalAddr().Network())
		assert.Equal(t, "memnet", server.RemoteAddr().String())
	})
}

func TestBufferedBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size = 8
		client, server := bufferedPair(t, size)
		msg := []byte("0123456789abcdefghij") // 20 bytes: more than the buffer twice
		wrote := goWrite(client, msg)
		synctest.Wait()
		require.Empty(t, wrote, "a Write of more than the buffer returned with nobody reading")

		var got []byte
		buf := make([]byte, 5)
		for len(got) < len(msg) {
			n, err := server.Read(buf)
			require.NoError(t, err)
			got = append(got, buf[:n]...)
			if len(got) < len(msg)-size {
				synctest.Wait()
				require.Empty(t, wrote, "the Write returned with %d of its bytes not in the buffer", len(msg)-len(got)-size)
			}
		}
		assert.Equal(t, string(msg), string(got))
		r := <-wrote
		require.NoError(t, r.err)
		assert.Equal(t, len(msg), r.n)
	})
}

func TestBufferedWritesDoNotInterleave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := bufferedPair(t, 7)
		a, b := bytes.Repeat([]byte("a"), 100), bytes.Repeat([]byte("b"), 100)
		wa, wb := goWrite(client, a), goWrite(client, b)
		got, err := io.ReadAll(io.LimitReader(server, 200))
		require.NoError(t, err)
		require.NoError(t, (<-wa).err)
		require.NoError(t, (<-wb).err)
		s := string(got)
		assert.True(t, s == string(a)+string(b) || s == string(b)+string(a),
			"two Writes interleaved: %q", s)
	})
}

func TestBufferedDeadlines(t *testing.T) {
	timeout := func(t *testing.T, err error) {
		t.Helper()
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout(), "a deadline's error is a net.Error whose Timeout is true")
	}
	tests := []struct {
		name string
		test func(t *testing.T, client, server *memnet.Conn)
	}{
		{"a waiting Read ends at its deadline", func(t *testing.T, client, server *memnet.Conn) {
			start := time.Now()
			require.NoError(t, server.SetReadDeadline(start.Add(3*time.Second)))
			_, err := server.Read(make([]byte, 1))
			timeout(t, err)
			assert.Equal(t, 3*time.Second, time.Since(start))
		}},
		{"a deadline moved later", func(t *testing.T, client, server *memnet.Conn) {
			start := time.Now()
			require.NoError(t, server.SetReadDeadline(start.Add(time.Second)))
			require.NoError(t, server.SetReadDeadline(start.Add(5*time.Second)))
			_, err := server.Read(make([]byte, 1))
			timeout(t, err)
			assert.Equal(t, 5*time.Second, time.Since(start))
		}},
		{"a deadline cleared", func(t *testing.T, client, server *memnet.Conn) {
			require.NoError(t, server.SetReadDeadline(time.Now().Add(time.Second)))
			require.NoError(t, server.SetReadDeadline(time.Time{}))
			read, buf := goRead(server, 1)
			time.Sleep(time.Hour)
			synctest.Wait()
			require.Empty(t, read, "a Read without a deadline returned with nothing to read")
			_, err := client.Write([]byte("x"))
			require.NoError(t, err)
			r := <-read
			require.NoError(t, r.err)
			assert.Equal(t, "x", string(buf[:r.n]))
		}},
		{"a deadline passed fails a Read even with bytes there", func(t *testing.T, client, server *memnet.Conn) {
			_, err := client.Write([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, server.SetReadDeadline(time.Now().Add(-time.Second)))
			_, err = server.Read(make([]byte, 1))
			timeout(t, err)
			require.NoError(t, server.SetReadDeadline(time.Time{}))
			n, err := server.Read(make([]byte, 1))
			require.NoError(t, err, "the bytes are still there once the deadline is cleared")
			assert.Equal(t, 1, n)
		}},
		{"a deadline set while a Read waits", func(t *testing.T, client, server *memnet.Conn) {
			start := time.Now()
			read, _ := goRead(server, 1)
			synctest.Wait()
			require.NoError(t, server.SetReadDeadline(start.Add(2*time.Second)))
			timeout(t, (<-read).err)
			assert.Equal(t, 2*time.Second, time.Since(start))
		}},
		{"a Write held by a full buffer ends at its deadline", func(t *testing.T, client, server *memnet.Conn) {
			start := time.Now()
			require.NoError(t, client.SetWriteDeadline(start.Add(2*time.Second)))
			n, err := client.Write(make([]byte, 20))
			timeout(t, err)
			assert.Equal(t, 8, n, "what went into the buffer is written")
			assert.Equal(t, 2*time.Second, time.Since(start))
		}},
		{"SetDeadline sets both", func(t *testing.T, client, server *memnet.Conn) {
			require.NoError(t, client.SetDeadline(time.Now().Add(time.Second)))
			read, _ := goRead(client, 1)
			_, err := client.Write(make([]byte, 20))
			timeout(t, err)
			timeout(t, (<-read).err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, server := bufferedPair(t, 8)
				tt.test(t, client, server)
			})
		})
	}
}

func TestBufferedClose(t *testing.T) {
	tests := []struct {
		name string
		test func(t *testing.T, client, server *memnet.Conn)
	}{
		{"the peer reads the rest, then EOF", func(t *testing.T, client, server *memnet.Conn) {
			_, err := client.Write([]byte("bye"))
			require.NoError(t, err)
			require.NoError(t, client.Close())
			got, err := io.ReadAll(server)
			require.NoError(t, err, "io.ReadAll ends at io.EOF")
			assert.Equal(t, "bye", string(got))
			_, err = server.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF)
		}},
		{"a waiting Read sees the peer close", func(t *testing.T, client, server *memnet.Conn) {
			read, _ := goRead(server, 1)
			synctest.Wait()
			require.NoError(t, client.Close())
			assert.ErrorIs(t, (<-read).err, io.EOF)
		}},
		{"a waiting Read sees its own end close", func(t *testing.T, client, server *memnet.Conn) {
			read, _ := goRead(server, 1)
			synctest.Wait()
			require.NoError(t, server.Close())
			assert.ErrorIs(t, (<-read).err, io.ErrClosedPipe)
		}},
		{"a Write to a closed peer fails", func(t *testing.T, client, server *memnet.Conn) {
			require.NoError(t, server.Close())
			_, err := client.Write([]byte("x"))
			assert.ErrorIs(t, err, io.ErrClosedPipe)
		}},
		{"a Write held by a full buffer sees the peer close", func(t *testing.T, client, server *memnet.Conn) {
			wrote := goWrite(client, make([]byte, 20))
			synctest.Wait()
			require.NoError(t, server.Close())
			r := <-wrote
			assert.ErrorIs(t, r.err, io.ErrClosedPipe)
			assert.Equal(t, 8, r.n)
		}},
		{"after Close, this end fails", func(t *testing.T, client, server *memnet.Conn) {
			require.NoError(t, client.Close())
			require.NoError(t, client.Close(), "closing again returns nil, as net.Pipe's")
			_, err := client.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.ErrClosedPipe)
			_, err = client.Write([]byte("x"))
			assert.ErrorIs(t, err, io.ErrClosedPipe)
			assert.ErrorIs(t, client.SetDeadline(time.Now()), io.ErrClosedPipe)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, server := bufferedPair(t, 8)
				tt.test(t, client, server)
			})
		})
	}
}

// TestTryReadAndOnReadable checks the side a poller uses: a read that never
// waits, and a call each time there is something new to read.
func TestTryReadAndOnReadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := bufferedPair(t, 8)
		var _ netpoll.Readier = server
		_, err := client.Write([]byte("ab"))
		require.NoError(t, err)
		calls := 0
		server.OnReadable(func() { calls++ })
		assert.Equal(t, 1, calls, "OnReadable calls f at once when bytes are there")

		buf := make([]byte, 8)
		n, err := server.TryRead(buf)
		require.NoError(t, err)
		assert.Equal(t, "ab", string(buf[:n]))
		_, err = server.TryRead(buf)
		assert.ErrorIs(t, err, netpoll.ErrWouldBlock)

		_, err = client.Write([]byte("c"))
		require.NoError(t, err)
		assert.Equal(t, 2, calls, "a Write calls f")
		n, err = server.TryRead(buf)
		require.NoError(t, err)
		assert.Equal(t, "c", string(buf[:n]))

		require.NoError(t, client.Close())
		assert.Equal(t, 3, calls, "the peer's Close calls f")
		_, err = server.TryRead(buf)
		assert.ErrorIs(t, err, io.EOF)

		require.NoError(t, server.Close())
		assert.Equal(t, 4, calls, "this end's Close calls f")
		_, err = server.TryRead(buf)
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}

// TestFullBufferCallsOnReadable checks that a Write held by a full buffer
// has called the reader's f first: a poller's reader learns of the bytes
// before the writer waits for it.
func TestFullBufferCallsOnReadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := bufferedPair(t, 4)
		readable := make(chan struct{}, 16)
		server.OnReadable(func() { readable <- struct{}{} })
		msg := "0123456789"
		wrote := goWrite(client, []byte(msg))
		var got strings.Builder
		buf := make([]byte, 3)
		for got.Len() < len(msg) {
			<-readable // only when told: a poller's reader
			for {
				n, err := server.TryRead(buf)
				if errors.Is(err, netpoll.ErrWouldBlock) {
					break
				}
				require.NoError(t, err)
				got.Write(buf[:n])
			}
		}
		assert.Equal(t, msg, got.String())
		require.NoError(t, (<-wrote).err)
	})
}

func TestListenBufferedNeedsASize(t *testing.T) {
	assert.Panics(t, func() { memnet.ListenBuffered(0) })
}
