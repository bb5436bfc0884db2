// Package receiver reads HRVS datagrams from a pool of UDP sockets, reassembles tiles
// into frames from a frame pool, and acknowledges every frame over the control link.
// Bad datagrams are dropped and counted; a frame is released when whole or when its
// deadline passes, with missing tiles concealed by the previous frame's pixels.
package receiver
