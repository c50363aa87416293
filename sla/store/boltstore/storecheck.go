package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// checkPages reads a store file the way bbolt will, and refuses one that
// would make bbolt panic, read past the end of the file or loop: bbolt trusts
// its file (it maps it and follows page numbers unchecked), so one damaged
// page would otherwise crash the agent at open or at its next write, and its
// own Check follows the same pointers on a goroutine where a fault cannot be
// recovered. It reads every page in use once, which costs less than loading
// the history that follows.
//
// The layout is bbolt's file format 2 (go.etcd.io/bbolt/internal/common):
// pages of pageSize bytes, each starting with a 16-byte header (id, flags,
// count, overflow); pages 0 and 1 hold the meta, whose root page and freelist
// page lead to every other page in use.
func checkPages(r io.ReaderAt, size int64) error {
	m, err := readMeta(r, size)
	if err != nil {
		return err
	}
	if need := int64(m.pgid) * int64(m.pageSize); need > size || m.pgid < 2 {
		return fmt.Errorf("cut off: the file has %d bytes, its %d pages need %d", size, m.pgid, need)
	}
	c := &pageChecker{r: r, pageSize: int64(m.pageSize), pages: m.pgid, used: map[uint64]bool{}}
	if err := c.tree(m.root, 0, nil, nil); err != nil {
		return err
	}
	if m.freelist != noFreelist {
		return c.freelist(m.freelist)
	}
	return nil
}

// bbolt file format 2.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	pageElementSize  = 16 // branch and leaf elements alike
	bucketHeaderSize = 16 // root page, sequence
	branchPage       = 0x01
	leafPage         = 0x02
	freelistPage     = 0x10
	bucketElement    = 0x01
	noFreelist       = ^uint64(0)
	metaSummed       = 56 // the meta bytes its checksum covers
	maxTreeDepth     = 64 // far beyond any real store; a deeper tree loops
)

var native = binary.NativeEndian // bbolt writes its structs as they lie in memory

type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// readMeta picks the meta page bbolt will use: of the two, the valid one
// with the higher transaction id.
func readMeta(r io.ReaderAt, size int64) (boltMeta, error) {
	pageSize := uint32(0)
	m0, err0 := metaAt(r, 0)
	if err0 == nil {
		pageSize = m0.pageSize
	} else {
		// As bbolt does: look for the second meta page at each page size.
		for pos := int64(1024); pos < size-1024 && pageSize == 0; pos *= 2 {
			if m, err := metaAt(r, pos); err == nil {
				pageSize = m.pageSize
			}
		}
	}
	if pageSize < 512 || pageSize > 1<<20 || pageSize&(pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("invalid meta pages (%v)", err0)
	}
	m1, err1 := metaAt(r, int64(pageSize))
	switch {
	case err0 == nil && (err1 != nil || m0.txid >= m1.txid):
		return m0, nil
	case err1 == nil:
		return m1, nil
	}
	return boltMeta{}, fmt.Errorf("both meta pages invalid: %v; %v", err0, err1)
}

func metaAt(r io.ReaderAt, pos int64) (boltMeta, error) {
	var b [pageHeaderSize + 64]byte
	if _, err := r.ReadAt(b[:], pos); err != nil {
		return boltMeta{}, fmt.Errorf("meta page at %d: %w", pos, err)
	}
	m := b[pageHeaderSize:]
	switch {
	case native.Uint32(m) != boltMagic:
		return boltMeta{}, fmt.Errorf("meta page at %d: not a bbolt page", pos)
	case native.Uint32(m[4:]) != boltVersion:
		return boltMeta{}, fmt.Errorf("meta page at %d: format version %d, want %d", pos, native.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSummed])
	if h.Sum64() != native.Uint64(m[metaSummed:]) {
		return boltMeta{}, fmt.Errorf("meta page at %d: checksum mismatch", pos)
	}
	return boltMeta{pageSize: native.Uint32(m[8:]), root: native.Uint64(m[16:]), freelist: native.Uint64(m[32:]),
		pgid: native.Uint64(m[40:]), txid: native.Uint64(m[48:])}, nil
}

// pageChecker walks the pages in use, each at most once.
type pageChecker struct {
	r        io.ReaderAt
	pageSize int64
	pages    uint64 // the high-water mark: pages at or above it are not in use
	used     map[uint64]bool
}

// read returns page id with its overflow pages, and marks them used.
func (c *pageChecker) read(id uint64) ([]byte, error) {
	if id < 2 || id >= c.pages {
		return nil, fmt.Errorf("page %d: out of bounds (the file has %d pages)", id, c.pages)
	}
	var hdr [pageHeaderSize]byte
	if _, err := c.r.ReadAt(hdr[:], int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := native.Uint64(hdr[:]); got != id {
		return nil, fmt.Errorf("page %d: header says page %d", id, got)
	}
	overflow := uint64(native.Uint32(hdr[12:]))
	if id+overflow >= c.pages {
		return nil, fmt.Errorf("page %d: %d overflow pages run past the end", id, overflow)
	}
	for p := id; p <= id+overflow; p++ {
		if c.used[p] {
			return nil, fmt.Errorf("page %d: used twice", p)
		}
		c.used[p] = true
	}
	buf := make([]byte, int64(overflow+1)*c.pageSize)
	if _, err := c.r.ReadAt(buf, int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return buf, nil
}

// tree checks the B+tree rooted at page id, whose keys must lie in
// [lo, hi) (nil: unbounded). Keys out of order make bbolt free a page twice.
func (c *pageChecker) tree(id uint64, depth int, lo, hi []byte) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	p, err := c.read(id)
	if err != nil {
		return err
	}
	flags, count := native.Uint16(p[8:]), int(native.Uint16(p[10:]))
	switch flags {
	case leafPage:
		return c.leaf(p, fmt.Sprintf("page %d", id), depth, false, lo, hi)
	case branchPage:
	default:
		return fmt.Errorf("page %d: type %#x where a branch or leaf page belongs", id, flags)
	}
	if count == 0 || pageHeaderSize+count*pageElementSize > len(p) {
		return fmt.Errorf("page %d: %d branch elements do not fit", id, count)
	}
	keys := make([][]byte, count)
	for i := range count {
		e := pageHeaderSize + i*pageElementSize
		pos, ksize := uint64(native.Uint32(p[e:])), uint64(native.Uint32(p[e+4:]))
		if uint64(e)+pos+ksize > uint64(len(p)) {
			return fmt.Errorf("page %d: branch element %d runs past the page", id, i)
		}
		keys[i] = p[uint64(e)+pos : uint64(e)+pos+ksize]
		if err := keyInRange(keys[i], lo, hi, i > 0, keys[max(i-1, 0)]); err != nil {
			return fmt.Errorf("page %d: branch element %d: %w", id, i, err)
		}
	}
	for i := range count {
		next := hi
		if i+1 < count {
			next = keys[i+1]
		}
		if err := c.tree(native.Uint64(p[pageHeaderSize+i*pageElementSize+8:]), depth+1, keys[i], next); err != nil {
			return err
		}
	}
	return nil
}

// keyInRange checks that key lies in [lo, hi) and after prev (if hasPrev).
func keyInRange(key, lo, hi []byte, hasPrev bool, prev []byte) error {
	switch {
	case len(key) == 0: // bbolt never writes one, and asserts on reading one
		return errors.New("empty key")
	case lo != nil && bytes.Compare(key, lo) < 0, hi != nil && bytes.Compare(key, hi) >= 0:
		return fmt.Errorf("key %q out of its parent's range", key)
	case hasPrev && bytes.Compare(key, prev) <= 0:
		return fmt.Errorf("key %q not after the one before", key)
	}
	return nil
}

// leaf checks a leaf page (or an inline bucket's page, held in a value) and
// the buckets it holds.
func (c *pageChecker) leaf(p []byte, where string, depth int, inline bool, lo, hi []byte) error {
	count := int(native.Uint16(p[10:]))
	if pageHeaderSize+count*pageElementSize > len(p) {
		return fmt.Errorf("%s: %d leaf elements do not fit", where, count)
	}
	var prev []byte
	for i := range count {
		e := pageHeaderSize + i*pageElementSize
		flags := native.Uint32(p[e:])
		pos, ksize, vsize := uint64(native.Uint32(p[e+4:])), uint64(native.Uint32(p[e+8:])), uint64(native.Uint32(p[e+12:]))
		end := uint64(e) + pos + ksize + vsize
		if end > uint64(len(p)) {
			return fmt.Errorf("%s: leaf element %d runs past the page", where, i)
		}
		key := p[uint64(e)+pos : uint64(e)+pos+ksize]
		if err := keyInRange(key, lo, hi, i > 0, prev); err != nil {
			return fmt.Errorf("%s: leaf element %d: %w", where, i, err)
		}
		prev = key
		if flags&bucketElement == 0 {
			continue
		}
		v := p[end-vsize : end]
		switch {
		case inline:
			return fmt.Errorf("%s: a bucket inside an inline bucket", where)
		case len(v) < bucketHeaderSize:
			return fmt.Errorf("%s: bucket element %d of %d bytes", where, i, len(v))
		}
		if root := native.Uint64(v); root != 0 {
			if err := c.tree(root, depth+1, nil, nil); err != nil {
				return err
			}
			continue
		}
		page := v[bucketHeaderSize:]
		if len(page) < pageHeaderSize || native.Uint16(page[8:]) != leafPage {
			return fmt.Errorf("%s: inline bucket %d is not a leaf page", where, i)
		}
		if err := c.leaf(page, fmt.Sprintf("%s inline bucket %d", where, i), depth+1, true, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// freelist checks that the free pages are in the file and not in use.
func (c *pageChecker) freelist(id uint64) error {
	p, err := c.read(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if flags := native.Uint16(p[8:]); flags != freelistPage {
		return fmt.Errorf("freelist page %d: type %#x", id, flags)
	}
	start, count := uint64(pageHeaderSize), uint64(native.Uint16(p[10:]))
	if count == 0xFFFF { // the count overflowed into the first element
		count, start = native.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > uint64(len(p))/8 || start+count*8 > uint64(len(p)) {
		return fmt.Errorf("freelist page %d: %d entries do not fit", id, count)
	}
	free := make(map[uint64]bool, count)
	for i := range count {
		pg := native.Uint64(p[start+i*8:])
		switch {
		case pg < 2 || pg >= c.pages:
			return fmt.Errorf("freelist page %d: free page %d out of bounds", id, pg)
		case c.used[pg]:
			return fmt.Errorf("freelist page %d: page %d is both in use and free", id, pg)
		case free[pg]:
			return fmt.Errorf("freelist page %d: page %d freed twice", id, pg)
		}
		free[pg] = true
	}
	return nil
}

// errEmptyStore is an existing store file of 0 bytes.
var errEmptyStore = errors.New("empty store file")
