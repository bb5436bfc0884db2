package receiver

import (
	"bytes"
	"fmt"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/wire"
)

// maxTableSets is how many table sets of the current stream the receiver keeps
// (docs/PROTOCOL.md §4.1): the sender never redefines an id a frame of the last
// second used, and a stream changes its tables a few times a second at most (rate
// control requantising), so four cover the frames in flight.
const maxTableSets = 4

// tableSets holds the newest table sets of the current stream by id, each compiled
// once for the decoders (a fastjpeg.TableSet is immutable and shared). Only the
// assembler's goroutine uses it.
type tableSets struct {
	sets [maxTableSets]tableSet
	tick uint64 // definition order, for replacing the oldest
}

type tableSet struct {
	id      uint8
	raw     []byte // the table datagram's payload, to recognise a repeat without parsing it
	ts      *fastjpeg.TableSet
	restart int    // codec 2's restart interval in MCUs (the set's DRI); 0 for a codec 1 set
	at      uint64 // tick of the definition; 0 for an empty slot
}

// define takes the payload of a table datagram of codec codec (wire.CodecTableScan,
// or wire.CodecRestartScan with its restart interval) as set id. A repeat of what
// the set holds costs one comparison; a new or changed set is parsed and compiled,
// and replaces the same id or else the oldest set. It reports whether the set is
// new.
func (s *tableSets) define(id, codec uint8, payload []byte) (bool, error) {
	slot := -1
	for i := range s.sets {
		if e := &s.sets[i]; e.at != 0 && e.id == id {
			// The payload says the codec: only codec 2's ends with a DRI.
			if bytes.Equal(e.raw, payload) {
				return false, nil
			}
			slot = i
		}
	}
	t, restart, err := wire.ParseCodecTableSet(codec, payload)
	if err != nil {
		return false, err
	}
	ts, err := fastjpeg.NewTableSet(&t)
	if err != nil {
		return false, fmt.Errorf("%w: table set %d: %v", wire.ErrFormat, id, err)
	}
	if slot < 0 {
		slot = 0
		for i := range s.sets {
			if s.sets[i].at < s.sets[slot].at {
				slot = i
			}
		}
	}
	s.tick++
	s.sets[slot] = tableSet{id: id, raw: append(s.sets[slot].raw[:0], payload...), ts: ts, restart: restart, at: s.tick}
	return true, nil
}

// get returns set id, or nil when the stream has not defined it (or it was replaced).
func (s *tableSets) get(id uint8) *fastjpeg.TableSet {
	ts, _ := s.lookup(id)
	return ts
}

// lookup returns set id and its restart interval (0 for a codec 1 set), or nil
// when the stream has not defined it.
func (s *tableSets) lookup(id uint8) (*fastjpeg.TableSet, int) {
	for i := range s.sets {
		if e := &s.sets[i]; e.at != 0 && e.id == id {
			return e.ts, e.restart
		}
	}
	return nil, 0
}

// reset forgets every set: a new stream defines its own.
func (s *tableSets) reset() {
	for i := range s.sets {
		s.sets[i] = tableSet{raw: s.sets[i].raw[:0]}
	}
}
