package wsconn_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The detached reading (Detach, NextFrame) is held to ReadFrame's: for the
// same bytes from a station, the same frames, the same errors, and the
// same bytes back on the wire, however the bytes are cut.

// clientFrame returns a frame as a station sends it: first byte b0 (FIN,
// RSV bits, opcode), masked with a key that is not zero.
func clientFrame(b0 byte, payload []byte) []byte {
	f := frameHeader(b0, 0x80, len(payload))
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// unmaskedFrame returns a frame without a mask, as only a server may send.
func unmaskedFrame(b0 byte, payload []byte) []byte {
	return append(frameHeader(b0, 0, len(payload)), payload...)
}

// frameHeader returns a frame's first bytes, its length in the shortest
// form RFC 6455 §5.2 allows.
func frameHeader(b0, mask byte, n int) []byte {
	switch {
	case n < 126:
		return []byte{b0, mask | byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{b0, mask | 126}, uint16(n))
	default:
		return binary.BigEndian.AppendUint64([]byte{b0, mask | 127}, uint64(n))
	}
}

const (
	finText, finBinary, finCont = 0x81, 0x82, 0x80
	firstText, moreCont         = 0x01, 0x00
	finClose, finPing, finPong  = 0x88, 0x89, 0x8a
)

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// A wireCase is what a station sends, whole.
type wireCase struct {
	name  string
	sent  []byte
	limit int64 // SetReadLimit's, if not zero
}

func wireCases() []wireCase {
	pad := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	hb := []byte(`[2,"hb-1","Heartbeat",{}]`)
	return []wireCase{
		{name: "text", sent: clientFrame(finText, hb)},
		{name: "binary", sent: clientFrame(finBinary, []byte{0xff, 0x00, 0x7f})},
		{name: "empty text", sent: clientFrame(finText, nil)},
		{name: "empty binary", sent: clientFrame(finBinary, nil)},
		{name: "125 bytes", sent: clientFrame(finText, pad(125))},
		{name: "126 bytes", sent: clientFrame(finText, pad(126))},
		{name: "65535 bytes", sent: clientFrame(finText, pad(65535))},
		{name: "65536 bytes", sent: clientFrame(finText, pad(65536))},
		{name: "three frames then half a fourth", sent: cat(clientFrame(finText, []byte("a")), clientFrame(finBinary, []byte("bb")),
			clientFrame(finText, hb), clientFrame(finText, hb)[:10])},
		{name: "fragmented with a ping between", sent: cat(clientFrame(firstText, []byte("ab")), clientFrame(finPing, []byte("p")),
			clientFrame(moreCont, []byte("cd")), clientFrame(finCont, []byte("ef")), clientFrame(finText, []byte("after")))},
		{name: "fragmented binary with empty fragments", sent: cat(clientFrame(0x02, nil), clientFrame(moreCont, []byte{0}),
			clientFrame(finCont, nil))},
		{name: "ping", sent: cat(clientFrame(finPing, []byte("are you there")), clientFrame(finText, hb))},
		{name: "empty ping", sent: cat(clientFrame(finPing, nil), clientFrame(finText, []byte("a")))},
		{name: "pong", sent: cat(clientFrame(finPong, []byte("x")), clientFrame(finText, hb), clientFrame(finPong, nil))},
		{name: "close with code and reason", sent: cat(clientFrame(finText, hb), clientFrame(finClose, closePayload(1000, "bye")),
			clientFrame(finText, hb))},
		{name: "close without a code", sent: clientFrame(finClose, nil)},
		{name: "close with one byte", sent: clientFrame(finClose, []byte{3})},
		{name: "close in a fragmented message", sent: cat(clientFrame(firstText, []byte("ab")), clientFrame(finClose, closePayload(1001, "")))},
		{name: "over the limit", limit: 16, sent: cat(clientFrame(finText, pad(16)), clientFrame(finText, pad(17)))},
		{name: "over the limit from the header alone", limit: 16, sent: append(frameHeader(finText, 0x80, 1<<20), 1, 2, 3, 4)},
		{name: "fragments over the limit", limit: 16, sent: cat(clientFrame(firstText, pad(10)), clientFrame(finPing, nil),
			clientFrame(finCont, pad(10)))},
		{name: "a 64-bit length with its top bit set", sent: append(binary.BigEndian.AppendUint64([]byte{finText, 0x80 | 127}, 1<<63), 1, 2, 3, 4)},
		{name: "unmasked", sent: cat(clientFrame(finText, hb), unmaskedFrame(finText, hb))},
		{name: "RSV1 set", sent: clientFrame(finText|0x40, hb)},
		{name: "RSV2 and RSV3 set", sent: clientFrame(finText|0x30, hb)},
		{name: "bad opcode", sent: clientFrame(0x83, hb)},
		{name: "every problem at once", sent: unmaskedFrame(0x7b, hb)},
		{name: "fragmented ping", sent: clientFrame(0x09, []byte("p"))},
		{name: "control frame over 125 bytes", sent: clientFrame(finPing, pad(126))},
		{name: "continuation with no message", sent: clientFrame(finCont, []byte("x"))},
		{name: "a new message before the last fragment", sent: cat(clientFrame(firstText, []byte("a")), clientFrame(finText, []byte("b")))},
		{name: "close code not allowed", sent: clientFrame(finClose, closePayload(1005, ""))},
		{name: "close code out of range", sent: clientFrame(finClose, closePayload(999, "x"))},
		{name: "close code for applications", sent: clientFrame(finClose, closePayload(4000, "app"))},
		{name: "close reason not UTF-8", sent: clientFrame(finClose, closePayload(1000, "\xff"))},
	}
}

// A wireOutcome is what a connection made of a station's bytes: what
// the reader returned (frames, OnPong's calls, its error), in order, and
// the bytes the station got back.
type wireOutcome struct {
	read []string
	wire []byte
}

func frameEvent(data []byte, binary bool) string {
	kind := "text"
	if binary {
		kind = "binary"
	}
	if len(data) > 64 {
		return fmt.Sprintf("%s of %d bytes, sha256 %x", kind, len(data), sha256.Sum256(data))
	}
	return fmt.Sprintf("%s %q", kind, data)
}

// station runs a server whose Handle reads with read, connects a station
// to it, and returns what came of it. write, if not nil, sends the
// station's bytes.
func station(t *testing.T, tc wireCase, write func(raw net.Conn), read func(c *wsconn.Conn, record func(string))) wireOutcome {
	var out wireOutcome
	synctest.Test(t, func(t *testing.T) {
		events := make(chan string, 64)
		start := make(chan struct{})
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			<-start // the station reads the wire, not gorilla's client
			if tc.limit > 0 {
				c.SetReadLimit(tc.limit)
			}
			c.OnPong(func() { events <- "pong" })
			read(c, func(e string) { events <- e })
		}}
		l := memnet.Listen()
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		raw := mustDial(t, l, "/ocpp/CS1").NetConn()
		wire := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(raw)
			wire <- b
		}()
		close(start)
		if write != nil {
			go write(raw)
		}
		synctest.Wait() // the server has read all it can
	collect:
		for {
			select {
			case e := <-events:
				out.read = append(out.read, e)
			default:
				break collect
			}
		}
		require.NoError(t, s.Close())
		out.wire = <-wire
		require.NoError(t, <-served)
	})
	return out
}

// readFrames reads with ReadFrame, as steps 01–10 do.
func readFrames(c *wsconn.Conn, record func(string)) {
	for {
		data, binary, err := c.ReadFrame()
		if err != nil {
			record("error: " + err.Error())
			return
		}
		record(frameEvent(data, binary))
	}
}

// nextFrames detaches c and gives NextFrame the chunks one after the
// other, as a reader that reads them from the socket would.
func nextFrames(chunks [][]byte) func(c *wsconn.Conn, record func(string)) {
	return func(c *wsconn.Conn, record func(string)) {
		if early := c.Detach(func() {}); len(early) != 0 {
			record(fmt.Sprintf("early bytes %q", early))
		}
		var buf []byte
		for _, chunk := range chunks {
			buf = append(buf, chunk...)
			for {
				data, binary, rest, err := c.NextFrame(buf)
				buf = rest
				if err != nil {
					record("error: " + err.Error())
					c.Close() // as ReadFrame's Handle returning does
					return
				}
				if data == nil {
					break // read more
				}
				record(frameEvent(data, binary))
			}
		}
	}
}

// cuts returns the ways the case's bytes are cut into reads: whole, a
// byte at a time, and in two at every offset (for a long case, at every
// offset within 24 bytes of either end, where its frames' headers are, and
// in the middle).
func cuts(sent []byte) map[string][][]byte {
	ways := map[string][][]byte{"whole": {sent}}
	bytewise := make([][]byte, len(sent))
	for i := range sent {
		bytewise[i] = sent[i : i+1]
	}
	ways["a byte at a time"] = bytewise
	for i := 1; i < len(sent); i++ {
		if len(sent) > 1024 && i > 24 && i < len(sent)-24 && i != len(sent)/2 {
			continue
		}
		ways[fmt.Sprintf("cut at %d", i)] = [][]byte{sent[:i], sent[i:]}
	}
	return ways
}

func TestNextFrameReadsAsReadFrame(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := station(t, tc, func(raw net.Conn) { raw.Write(tc.sent) }, readFrames)
			require.NotEmpty(t, want.read, "ReadFrame read nothing: the case tests nothing")
			for way, chunks := range cuts(tc.sent) {
				got := station(t, tc, nil, nextFrames(chunks))
				// ReadFrame, still waiting for the rest, returned no error.
				require.Equal(t, want.read, got.read, "NextFrame's frames and error, the bytes given %s", way)
				require.Equal(t, want.wire, got.wire, "what the station got back, the bytes given %s", way)
			}
		})
	}
}
