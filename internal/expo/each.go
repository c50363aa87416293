package expo

import "sync"

// eachChunk is how many entities one goroutine renders at a time in Each: a
// gauge family's chunk is about 20 KB, a histogram's about 300 KB.
const eachChunk = 128

// eachSlot is one chunk being rendered: a Writer that only buffers, and the
// signal that it is done.
type eachSlot struct {
	w    Writer
	done chan struct{}
}

// SetParallel lets Each render on up to workers goroutines (1: none, the
// default).
func (w *Writer) SetParallel(workers int) {
	w.workers = workers
}

// Each writes the samples of entities 0 to n-1 of the current family, calling
// write for each, and leaves them in that order, as the loop
//
//	for i := range n { write(w, i) }
//
// would. With SetParallel above 1 and more than one chunk of entities, the
// chunks are rendered on that many goroutines, each into its own buffer, and
// streamed out in order while the next ones render: at 10,000 checks a scrape
// is 620,000 samples, and on two cores one goroutine formatting them all is
// what the scrape waits for. write must then be safe to call concurrently for
// different entities, and must write only through the Writer it is given.
func (w *Writer) Each(n int, write func(w *Writer, i int)) {
	chunks := (n + eachChunk - 1) / eachChunk
	workers := min(w.workers, chunks)
	if workers < 2 {
		for i := range n {
			write(w, i)
		}
		return
	}
	// A chunk is handed out again only after the one window before it was
	// written, so at most window chunks are buffered.
	window := 2 * workers
	slots := w.eachSlots(window)
	jobs := make(chan int, window)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range jobs {
				s := &slots[k%window]
				for i := k * eachChunk; i < min(n, (k+1)*eachChunk); i++ {
					write(&s.w, i)
				}
				s.done <- struct{}{}
			}
		})
	}
	next := 0
	for ; next < min(window, chunks); next++ {
		jobs <- next
	}
	for k := range chunks {
		s := &slots[k%window]
		<-s.done
		w.merge(&s.w)
		if next < chunks {
			jobs <- next
			next++
		}
	}
	close(jobs)
	wg.Wait()
}

// eachSlots returns window slots ready for the current family, kept between
// calls (and, as the Writer is, between scrapes) with their buffers.
func (w *Writer) eachSlots(window int) []eachSlot {
	for len(w.slots) < window {
		w.slots = append(w.slots, eachSlot{done: make(chan struct{}, 1)})
	}
	slots := w.slots[:window]
	for i := range slots {
		// No out: a slot's Writer never flushes (flush keeps the buffer);
		// merge takes its samples. No pending header: merge writes it.
		s := &slots[i].w
		s.openMetrics, s.fam, s.pending, s.out, s.err = w.openMetrics, w.fam, false, nil, nil
		s.proto.on, s.proto.open = w.proto.on, 0
	}
	return slots
}

// merge moves a slot's samples to w, with the family's header before the
// first of them.
func (w *Writer) merge(s *Writer) {
	if len(s.buf) == 0 {
		return
	}
	if w.proto.on {
		// The chunk is one MetricFamily message of its own (proto.go).
		w.endMessage()
		w.buf = w.appendMessageHead(w.buf, len(s.buf))
	} else if w.pending {
		w.header()
	}
	if len(w.buf)+len(s.buf) < 2*flushAt {
		w.buf = append(w.buf, s.buf...)
		if len(w.buf) >= flushAt {
			w.flush()
		}
	} else {
		// A big chunk goes out as it is, without a copy into w.buf.
		w.flush()
		if w.err == nil {
			_, w.err = w.out.Write(s.buf)
		}
	}
	s.buf = s.buf[:0]
	w.proto.open = len(w.buf)
}
