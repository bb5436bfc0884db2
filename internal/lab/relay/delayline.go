package relay

// delayLine is a min-heap of queued datagrams ordered by due time, then by arrival, so
// datagrams due at the same instant (a datagram and its duplicate) leave in the order they came.
type delayLine struct {
	h   []queued
	seq uint64
}

type queued struct {
	due  int64  // nanoseconds since the relay started
	seq  uint64 // arrival order, to break ties
	data []byte
}

func (a queued) before(b queued) bool {
	return a.due < b.due || (a.due == b.due && a.seq < b.seq)
}

func (q *delayLine) len() int { return len(q.h) }

// next is the earliest due time; the heap must not be empty.
func (q *delayLine) next() int64 { return q.h[0].due }

func (q *delayLine) push(due int64, data []byte) {
	q.seq++
	q.h = append(q.h, queued{due: due, seq: q.seq, data: data})
	h := q.h
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// pop removes and returns the earliest datagram; the heap must not be empty.
func (q *delayLine) pop() []byte {
	h := q.h
	top := h[0].data
	last := len(h) - 1
	h[0] = h[last]
	h[last] = queued{} // let the bytes go
	h = h[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l].before(h[m]) {
			m = l
		}
		if r := l + 1; r < len(h) && h[r].before(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.h = h
	return top
}

// clear drops everything and returns how many datagrams there were.
func (q *delayLine) clear() int {
	n := len(q.h)
	clear(q.h)
	q.h = q.h[:0]
	return n
}
