package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"
)

// qmp is a connection to QEMU's monitor (QMP, JSON lines): commands in
// order, and a channel closed at the guest's power-off (the SHUTDOWN
// event; with -no-shutdown QEMU then stays, paused).
type qmp struct {
	conn     net.Conn
	replies  chan map[string]json.RawMessage
	shutdown chan struct{}
	once     sync.Once
}

func dialQMP(path string) (*qmp, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	q := &qmp{conn: c, replies: make(chan map[string]json.RawMessage, 16), shutdown: make(chan struct{})}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	if !sc.Scan() { // the greeting
		c.Close()
		return nil, fmt.Errorf("no QMP greeting: %v", sc.Err())
	}
	go func() {
		defer close(q.replies)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if ev, ok := m["event"]; ok {
				if string(ev) == `"SHUTDOWN"` {
					q.once.Do(func() { close(q.shutdown) })
				}
				continue
			}
			q.replies <- m
		}
	}()
	if err := q.command("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

// command runs a QMP command and waits for its reply (an error reply is
// an error).
func (q *qmp) command(name string, args any) error {
	msg := map[string]any{"execute": name}
	if args != nil {
		msg["arguments"] = args
	}
	b, _ := json.Marshal(msg)
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return err
	}
	select {
	case m, ok := <-q.replies:
		if !ok {
			return fmt.Errorf("QMP %s: the connection closed", name)
		}
		if e, ok := m["error"]; ok {
			return fmt.Errorf("QMP %s: %s", name, e)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("QMP %s: no reply within 30 s", name)
	}
}

func (q *qmp) close() { q.conn.Close() }
