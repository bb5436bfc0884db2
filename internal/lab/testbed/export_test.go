package testbed

// DeleteNS lets the external tests remove a namespace they made to look like a leftover.
var DeleteNS = deleteNS

// AddrBase and NetnsDir let the external tests check addresses and leftovers.
var (
	AddrBase = addrBase
	NetnsDir = netnsDir
)

// SetFailAfter makes New fail after that many setup steps (0: never).
func SetFailAfter(n int) { failAfter = n }
