package receiver

// Close releases the sockets of a receiver whose Run was never called (Run closes
// them itself when its context ends). It is safe to call after Run too.
func (r *Receiver) Close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.ctl.Close()
}
