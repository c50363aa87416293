package expo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// gzipChunk is how much of the exposition one deflate job takes. A chunk
// starts without the previous one's history, which costs some ratio at its
// start: at 512 KiB the stream is under 2% larger than one compressor's.
const gzipChunk = 512 << 10

// parallelGzip is a gzip stream (RFC 1952, one member) whose deflate blocks
// are compressed on several goroutines, as pigz does: the input is cut into
// chunks, each compressed on its own and ended with a sync flush (so it ends
// on a byte boundary), the last one with the final block; the compressed
// chunks are written in order, followed by the CRC-32 and length of the
// whole input. At 10,000 checks the exposition is 65 MB, and one compressor
// at the fastest level takes longer than rendering it.
//
// Write and Close are for one goroutine; out is written from another.
type parallelGzip struct {
	out     io.Writer
	pending *pgzChunk      // filling
	jobs    chan *pgzChunk // to the compressors
	order   chan *pgzChunk // to the writer, in input order
	done    chan struct{}  // the writer has finished
	workers sync.WaitGroup
	free    chan *pgzChunk
	err     error // the writer's; read after done
	failed  chan struct{}
	closed  bool
}

type pgzChunk struct {
	in       []byte
	out      bytes.Buffer
	last     bool
	err      error
	finished chan struct{}
}

// compressors keeps flate writers between scrapes.
var compressors = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// newParallelGzip starts a stream to out compressed on workers goroutines.
func newParallelGzip(out io.Writer, workers int) *parallelGzip {
	workers = max(workers, 1)
	inFlight := 2*workers + 1
	z := &parallelGzip{out: out, jobs: make(chan *pgzChunk, inFlight), order: make(chan *pgzChunk, inFlight),
		done: make(chan struct{}), free: make(chan *pgzChunk, inFlight+1), failed: make(chan struct{})}
	for range inFlight + 1 {
		z.free <- &pgzChunk{in: make([]byte, 0, gzipChunk), finished: make(chan struct{}, 1)}
	}
	z.workers.Add(workers)
	for range workers {
		go z.compress()
	}
	go z.write()
	z.pending = <-z.free
	return z
}

func (z *parallelGzip) compress() {
	defer z.workers.Done()
	fw := compressors.Get().(*flate.Writer)
	defer compressors.Put(fw)
	for c := range z.jobs {
		c.out.Reset()
		fw.Reset(&c.out)
		_, c.err = fw.Write(c.in)
		if c.err == nil {
			if c.last {
				c.err = fw.Close()
			} else {
				c.err = fw.Flush()
			}
		}
		c.finished <- struct{}{}
	}
	fw.Reset(io.Discard)
}

// write writes the header, each chunk in order once compressed, then the
// trailer.
func (z *parallelGzip) write() {
	defer close(z.done)
	// ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=4 (fastest) OS=255 (unknown).
	_, z.err = z.out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255})
	var crc uint32
	var size uint32
	for c := range z.order {
		<-c.finished
		if z.err == nil && c.err != nil {
			z.err = c.err
		}
		if z.err == nil {
			crc = crc32.Update(crc, crc32.IEEETable, c.in)
			size += uint32(len(c.in)) // ISIZE is the length mod 2^32
			_, z.err = z.out.Write(c.out.Bytes())
		}
		if z.err == nil && c.last {
			var trailer [8]byte
			binary.LittleEndian.PutUint32(trailer[:4], crc)
			binary.LittleEndian.PutUint32(trailer[4:], size)
			_, z.err = z.out.Write(trailer[:])
		}
		if z.err != nil {
			select {
			case <-z.failed:
			default:
				close(z.failed)
			}
		}
		c.in, c.last, c.err = c.in[:0], false, nil
		z.free <- c
	}
}

// submit hands the pending chunk on and takes a free one.
func (z *parallelGzip) submit(last bool) {
	c := z.pending
	c.last = last
	z.order <- c
	z.jobs <- c
	if !last {
		z.pending = <-z.free
	}
}

// Write copies p into chunks. It fails once out has failed.
func (z *parallelGzip) Write(p []byte) (int, error) {
	select {
	case <-z.failed:
		return 0, errors.New("gzip output failed")
	default:
	}
	n := len(p)
	for len(p) > 0 {
		c := z.pending
		room := gzipChunk - len(c.in)
		if len(p) < room {
			c.in = append(c.in, p...)
			break
		}
		c.in = append(c.in, p[:room]...)
		p = p[room:]
		z.submit(false)
	}
	return n, nil
}

// Close ends the stream and waits until all of it is written to out.
func (z *parallelGzip) Close() error {
	if z.closed {
		return errors.New("gzip stream already closed")
	}
	z.closed = true
	z.submit(true)
	close(z.jobs)
	close(z.order)
	<-z.done
	z.workers.Wait()
	return z.err
}
