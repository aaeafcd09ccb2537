package station

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// DeafActionLength is how long the action of a deaf station's calls is: an
// action no server knows, long enough that every CALLERROR that names it
// weighs about as much as the call, so the answers the station never reads
// fill the connection quickly.
const DeafActionLength = 16000

// deafAction is the action of every call a deaf station sends.
var deafAction = strings.Repeat("X", DeafActionLength)

// DeafReport is what the deaf station of a Deaf fleet did. It made no calls
// in the report's sense: it never read an answer.
type DeafReport struct {
	// Frames counts the calls written in full, [2,"d1","XXX…",{}] and on.
	Frames int
	// Connections counts the connections it opened, the first included.
	Connections int
	// ServerClosed counts the connections that failed under its writes
	// before it was done with them: the server closed them (or they broke).
	ServerClosed int
}

// errOthersDone is why a deaf station stops when the run goes on: the other
// stations are done.
var errOthersDone = errors.New("the other stations are done")

// deaf runs the deaf station id: it writes n calls of an unknown action as
// fast as the connection takes them and never reads the connection. When a
// write fails, the server has closed it: the station connects again and goes
// on where it was. It stops when stop ends, with errOthersDone as its cause
// once the other stations are done, or the run's own cause; and, when alone
// (there are no others to wait for), once its n calls are written. A stop
// for any cause but errOthersDone cuts it short.
func deaf(stop context.Context, id string, opts Options, n int, alone bool, t *tally) (rep StationReport) {
	rep.ID, rep.Endpoint = id, opts.URL
	d := &DeafReport{}
	defer func() {
		if rep.Connected {
			rep.Deaf = d
		}
		if rep.Err == nil && stop.Err() != nil && !errors.Is(context.Cause(stop), errOthersDone) {
			rep.Err = fmt.Errorf("station %s: deaf, %d of %d calls written: %w", id, d.Frames, n, stop.Err())
		}
	}()
	for {
		ws, err := connect(stop, id, opts)
		if err != nil {
			if stop.Err() == nil {
				if rep.Connected {
					err = fmt.Errorf("station %s: connect again after %d of %d calls: %w", id, d.Frames, n, err)
				}
				rep.Err = err
			}
			return rep
		}
		if !rep.Connected {
			rep.Connected = true
			t.connected.Add(1)
		}
		d.Connections++
		// Only closing the socket frees a write stuck on a server that has
		// stopped reading.
		unhook := context.AfterFunc(stop, func() { ws.Close() })
		err = writeDeaf(ws, d, n, t)
		unhook()
		if err == nil && !alone {
			<-stop.Done() // all written: it stays, deaf, until the others are done
		}
		ws.Close()
		if err == nil || stop.Err() != nil {
			return rep
		}
		d.ServerClosed++
		t.deafClosed.Add(1)
	}
}

// writeDeaf writes the deaf station's calls on ws, from the next one to
// write until n are written or a write fails. A call whose write failed is
// written again, whole, on the next connection.
func writeDeaf(ws *websocket.Conn, d *DeafReport, n int, t *tally) error {
	for d.Frames < n {
		frame := fmt.Appendf(nil, `[%d,"d%d","%s",{}]`, ocpp.TypeCall, d.Frames+1, deafAction)
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			return err
		}
		d.Frames++
		t.deafFrames.Add(1)
	}
	return nil
}
