// Package attack runs the attacks of docs/SECURITY.md's threat model against a live
// stream on loopback, with and without a key: forged, flipped and replayed datagrams,
// far-ahead frame numbers, hijacking hellos and streams, floods, and memory pressure.
// It holds tests only; nothing links it.
package attack
