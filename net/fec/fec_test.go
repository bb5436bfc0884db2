package fec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/hrvs/hrvs/net/wire"
)

// The reference below is docs/PROTOCOL.md §3.4 written out the slow way, so the
// test catches the library (or the spec) drifting from what another implementation
// would compute: GF(2^8) with polynomial 0x11d, V[r][c] = r^c, generator
// G = V · inverse(top n rows of V), parity row j = row n+j of G.
var gfExp, gfLog = func() (e [512]byte, l [256]byte) {
	x := 1
	for i := range 255 {
		e[i] = byte(x)
		l[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
	for i := 255; i < 512; i++ {
		e[i] = e[i-255]
	}
	return e, l
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

func gfPow(a byte, n int) byte {
	r := byte(1)
	for range n {
		r = gfMul(r, a)
	}
	return r
}

func gfInv(a byte) byte { return gfExp[255-int(gfLog[a])] }

// generator returns rows n..n+m-1 of the systematic generator matrix.
func generator(n, m int) [][]byte {
	total := n + m
	v := make([][]byte, total)
	for r := range v {
		v[r] = make([]byte, n)
		for c := range n {
			v[r][c] = gfPow(byte(r), c)
		}
	}
	// Invert the top n x n by Gauss-Jordan on [top | I].
	a := make([][]byte, n)
	for r := range a {
		a[r] = make([]byte, 2*n)
		copy(a[r], v[r])
		a[r][n+r] = 1
	}
	for c := range n {
		p := c
		for a[p][c] == 0 {
			p++
		}
		a[c], a[p] = a[p], a[c]
		inv := gfInv(a[c][c])
		for k := range a[c] {
			a[c][k] = gfMul(a[c][k], inv)
		}
		for r := range n {
			if r != c && a[r][c] != 0 {
				f := a[r][c]
				for k := range a[r] {
					a[r][k] ^= gfMul(f, a[c][k])
				}
			}
		}
	}
	rows := make([][]byte, m)
	for j := range m {
		rows[j] = make([]byte, n)
		for c := range n {
			var s byte
			for k := range n {
				s ^= gfMul(v[n+j][k], a[k][n+c])
			}
			rows[j][c] = s
		}
	}
	return rows
}

func randomShards(r *rand.Rand, k, l int) [][]byte {
	data := make([][]byte, k)
	for i := range data {
		data[i] = make([]byte, l)
		for j := range data[i] {
			data[i][j] = byte(r.IntN(256))
		}
	}
	return data
}

func TestParityMatchesTheSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	codes := NewCodes()
	for _, c := range []struct{ k, m int }{{1, 1}, {5, 2}, {16, 4}, {17, 3}, {40, 9}, {128, 20}} {
		data := randomShards(r, c.k, 23)
		parity := make([][]byte, c.m)
		for j := range parity {
			parity[j] = make([]byte, 23)
		}
		if err := codes.Encode(data, parity); err != nil {
			t.Fatal(err)
		}
		n := wire.CodeSize(c.k)
		g := generator(n, c.m)
		for j := range c.m {
			want := make([]byte, 23)
			for i := range c.k { // the zero shards k..n-1 add nothing
				for b := range want {
					want[b] ^= gfMul(g[j][i], data[i][b])
				}
			}
			if !bytes.Equal(parity[j], want) {
				t.Fatalf("k=%d m=%d: parity %d differs from the specified code", c.k, c.m, j)
			}
		}
	}
}

func TestReconstructAnyKOfKPlusM(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	codes := NewCodes()
	trial := 0
	for _, k := range []int{1, 7, 16, 40, 100, wire.MaxBlockData} {
		for _, m := range []int{1, 3, 12} {
			for range 3 {
				trial++
				testLoseAndRebuild(t, r, codes, trial, k, m)
			}
		}
	}
}

// testLoseAndRebuild codes k random shards with m parity, loses m of the k+m
// (the most the code can bear) at random places, and rebuilds.
func testLoseAndRebuild(t *testing.T, r *rand.Rand, codes *Codes, trial, k, m int) {
	t.Helper()
	l := 11 + r.IntN(300)
	data := randomShards(r, k, l)
	parity := make([][]byte, m)
	for j := range parity {
		parity[j] = make([]byte, l)
	}
	if err := codes.Encode(data, parity); err != nil {
		t.Fatal(err)
	}
	gotD := append([][]byte(nil), data...)
	gotP := append([][]byte(nil), parity...)
	for _, i := range r.Perm(k + m)[:m] {
		if i < k {
			gotD[i] = nil
		} else {
			gotP[i-k] = nil
		}
	}
	if err := codes.Reconstruct(gotD, gotP, l); err != nil {
		t.Fatalf("trial %d: k=%d m=%d: %v", trial, k, m, err)
	}
	for i := range data {
		if !bytes.Equal(gotD[i], data[i]) {
			t.Fatalf("trial %d: k=%d m=%d: shard %d rebuilt wrong", trial, k, m, i)
		}
	}
}

func TestReconstructRefusesTooFew(t *testing.T) {
	codes := NewCodes()
	data := randomShards(rand.New(rand.NewPCG(5, 6)), 10, 50)
	parity := [][]byte{make([]byte, 50), make([]byte, 50)}
	if err := codes.Encode(data, parity); err != nil {
		t.Fatal(err)
	}
	data[0], data[1], parity[0] = nil, nil, nil
	if err := codes.Reconstruct(data, parity, 50); err == nil {
		t.Fatal("rebuilt 10 shards from 9")
	}
	if err := codes.Reconstruct([][]byte{make([]byte, 5)}, [][]byte{make([]byte, 6)}, 5); !errors.Is(err, ErrBlock) {
		t.Fatalf("shards of unequal length: %v", err)
	}
	if err := codes.Encode(make([][]byte, 129), make([][]byte, 1)); !errors.Is(err, ErrBlock) {
		t.Fatalf("a block of 129: %v", err)
	}
}

func TestCodeCacheIsBounded(t *testing.T) {
	codes := NewCodes()
	for m := 1; m <= maxCodes+8; m++ {
		parity := make([][]byte, m)
		for j := range parity {
			parity[j] = make([]byte, 16)
		}
		if err := codes.Encode([][]byte{make([]byte, 16)}, parity); err != nil {
			t.Fatal(err)
		}
		if len(codes.codes) > maxCodes {
			t.Fatalf("%d codes cached", len(codes.codes))
		}
	}
}

func TestLayout(t *testing.T) {
	for _, d := range []int{1, 5, 127, 128, 129, 300, 1000} {
		blocks := Layout(d)
		next := 0
		for _, b := range blocks {
			if b.Start != next || b.K < 1 || b.K > wire.MaxBlockData {
				t.Fatalf("d=%d: block %+v after %d", d, b, next)
			}
			next += b.K
		}
		if next != d || len(blocks) != (d+wire.MaxBlockData-1)/wire.MaxBlockData {
			t.Fatalf("d=%d: blocks %+v", d, blocks)
		}
	}
	if Layout(0) != nil {
		t.Fatal("blocks for no datagrams")
	}
}

func TestParityFor(t *testing.T) {
	// Monte Carlo check of the binomial: the chosen m leaves about miss of blocks
	// unrecoverable, and one fewer would leave more.
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		k int
		p float64
	}{{100, 0.05}, {30, 0.05}, {100, 0.01}, {64, 0.10}} {
		m := ParityFor(c.k, c.p, 0.01)
		fail := func(m int) float64 {
			bad := 0
			const trials = 5000
			for range trials {
				lost := 0
				for range c.k + m {
					if r.Float64() < c.p {
						lost++
					}
				}
				if lost > m {
					bad++
				}
			}
			return float64(bad) / trials
		}
		if f := fail(m); f > 0.015 {
			t.Errorf("k=%d p=%.2f: m=%d fails %.3f of blocks, want <= 0.01", c.k, c.p, m, f)
		}
		if f := fail(m - 1); m > 1 && f < 0.006 {
			t.Errorf("k=%d p=%.2f: m-1=%d already fails only %.4f: m is not the fewest", c.k, c.p, m-1, f)
		}
	}
	if m := ParityFor(100, 0, 0.001); m != 1 {
		t.Fatalf("no loss: m=%d", m)
	}
	if m := ParityFor(128, 0.5, 1e-6); m != 128 {
		t.Fatalf("hopeless loss: m=%d, want the most the code allows", m)
	}
}

func BenchmarkEncode(b *testing.B) {
	codes := NewCodes()
	data := randomShards(rand.New(rand.NewPCG(9, 10)), 100, 1373)
	parity := make([][]byte, 14)
	for j := range parity {
		parity[j] = make([]byte, 1373)
	}
	b.SetBytes(100 * 1373)
	for b.Loop() {
		if err := codes.Encode(data, parity); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReconstruct5of100(b *testing.B) {
	codes := NewCodes()
	data := randomShards(rand.New(rand.NewPCG(9, 10)), 100, 1373)
	parity := make([][]byte, 14)
	for j := range parity {
		parity[j] = make([]byte, 1373)
	}
	if err := codes.Encode(data, parity); err != nil {
		b.Fatal(err)
	}
	got := make([][]byte, 100)
	for b.Loop() {
		copy(got, data)
		for i := range 5 {
			got[i*17] = nil
		}
		if err := codes.Reconstruct(got, parity, 1373); err != nil {
			b.Fatal(err)
		}
	}
}
