package stewai

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/stewai/stewai-go/internal/clock"
)

// WaitAll waits for every run of runIDs at once, as Wait waits for one (the
// same options apply), and returns when all have ended. The waits share the
// client's pollers, which bound how many polls run at once, so thousands of
// runs cost little more than their polls.
//
// Result i is the last state of runIDs[i], never nil: at least a run
// carrying its ID when no poll of it succeeded. err is nil when every run
// is done, and otherwise errors.Join of each run's error (*RunError,
// *TimeoutError, ErrNotFound, the context's error, ...) in the order of
// runIDs; errors.Is and errors.As see through it. WithTimeout bounds the
// whole call, not each run in turn. Cancelling ctx ends every wait at once.
//
// An empty or unusable id, or a bad option, is ErrInvalidParams before
// anything is sent, with nil results. A repeated id is waited once, and
// reported at each of its places.
func (s *RunsService) WaitAll(ctx context.Context, runIDs []string, opts ...WaitOption) ([]*Run, error) {
	b, err := s.batch(runIDs, opts)
	if err != nil {
		return nil, err
	}
	ended := make([]outcomeOf, len(b.waiters))
	if err := checkContext(ctx); err != nil {
		for k, w := range b.waiters {
			ended[k] = outcomeOf{&Run{ID: w.runID}, err}
		}
	} else {
		b.run(ctx, func(k int, run *Run, err error) bool {
			ended[k] = outcomeOf{run, err}
			return true
		})
	}
	runs := make([]*Run, len(runIDs))
	var errs []error
	for i, k := range b.at {
		runs[i] = ended[k].run
		if e := ended[k].err; e != nil {
			errs = append(errs, e)
		}
	}
	return runs, errors.Join(errs...)
}

// WaitEach waits for every run of runIDs at once, as WaitAll does, and
// yields each run once, as it ends (in the order they end), with its error
// as Wait would return it: nil when it is done, a *RunError when it failed,
// was cancelled or is blocked, a *TimeoutError when WithTimeout (which
// bounds the whole sequence) passed first, ctx's error when ctx ended. The
// run is never nil: at least one carrying its ID.
//
//	for run, err := range client.Runs.WaitEach(ctx, ids) {
//		if err != nil {
//			log.Printf("run %s: %v", run.ID, err)
//			continue
//		}
//		fmt.Println(run.ID, "done")
//	}
//
// A repeated id is waited and yielded once. An empty or unusable id, a bad
// option or a nil ctx is yielded once, with a nil run and an error
// matching ErrInvalidParams, before anything is sent. Breaking out of the
// loop stops every poll at once; no goroutine is left behind.
func (s *RunsService) WaitEach(ctx context.Context, runIDs []string, opts ...WaitOption) iter.Seq2[*Run, error] {
	return func(yield func(*Run, error) bool) {
		b, err := s.batch(runIDs, opts)
		if err == nil {
			err = checkContext(ctx)
		}
		if err != nil {
			yield(nil, err)
			return
		}
		b.run(ctx, func(_ int, run *Run, err error) bool { return yield(run, err) })
	}
}

// batch is the waits of WaitAll and WaitEach: one waiter per distinct id.
type batch struct {
	core    *core
	waiters []*waiter
	at      []int // at[i] is the waiter of runIDs[i]
}

// outcomeOf is how one wait of a batch ended.
type outcomeOf struct {
	run *Run
	err error
}

// batch checks runIDs and opts and returns their waits.
func (s *RunsService) batch(runIDs []string, opts []WaitOption) (*batch, error) {
	cfg, err := newWaitConfig(opts, false)
	if err != nil {
		return nil, err
	}
	if fn := cfg.onStatus; fn != nil { // the waits run at once: one call at a time
		var mu sync.Mutex
		cfg.onStatus = func(run *Run) {
			mu.Lock()
			defer mu.Unlock()
			fn(run)
		}
	}
	b := &batch{core: s.core, at: make([]int, len(runIDs))}
	index := make(map[string]int, len(runIDs))
	for i, id := range runIDs {
		k, ok := index[id]
		if !ok {
			w, err := newWaiter(s.core, id, cfg)
			if err != nil {
				return nil, fmt.Errorf("%w (runIDs[%d])", err, i)
			}
			k = len(b.waiters)
			index[id] = k
			b.waiters = append(b.waiters, w)
		}
		b.at[i] = k
	}
	return b, nil
}

// run runs every wait of b at once, each on a goroutine of its own, and
// calls yield on the caller's goroutine with each as it ends, in the order
// they end, until all have or yield returns false. It returns once every
// wait has stopped.
//
// On a virtual clock, run is a call of its own, awake except while it
// waits for the next end and while yield (the caller's code) runs; a wait
// hands its end over before it leaves its call, so no time passes between
// a wait's end and the caller seeing it.
func (b *batch) run(ctx context.Context, yield func(k int, run *Run, err error) bool) {
	if len(b.waiters) == 0 {
		return
	}
	clk := b.core.clock
	ictx, leave := clk.Enter(ctx)
	defer leave()
	wctx, cancel := context.WithCancel(ctx) // not ictx: each wait is a call of its own
	ends := &inbox{clk: clk, ctx: ictx, wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		resume := clk.Idle(ictx) // the waits end promptly, on their own goroutines
		wg.Wait()
		resume()
	}()
	deadline := clk.Now().Add(b.waiters[0].cfg.timeout)
	for k, w := range b.waiters {
		w.deadline = deadline
		cctx, leaveWait := clk.Enter(wctx) // entered here: time waits for the goroutine to start
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer leaveWait()
			run, err := w.loop(cctx, nil, w.observer())
			ends.put(outcomeK{k, outcomeOf{run, err}})
		}()
	}
	for range b.waiters {
		e := ends.take()
		resume := clk.Idle(ictx)
		more := yield(e.k, e.run, e.err)
		resume()
		if !more {
			return
		}
	}
}

// outcomeK is how wait k of a batch ended.
type outcomeK struct {
	k int
	outcomeOf
}

// inbox hands the ends of a batch's waits to the goroutine that takes
// them, in the order they come.
type inbox struct {
	clk    clock.Clock
	ctx    context.Context // the taker's call
	wake   chan struct{}   // told when an end comes to a waiting taker
	mu     sync.Mutex
	ends   []outcomeK
	resume func() // ends the taker's idling while it waits; nil when it does not
}

// put adds an end and wakes the taker if it waits, making it awake on the
// clock before the caller (a wait, still in its call) leaves.
func (in *inbox) put(e outcomeK) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ends = append(in.ends, e)
	if in.resume != nil {
		in.resume()
		in.resume = nil
		in.wake <- struct{}{}
	}
}

// take returns the next end, waiting for one, idle on the clock meanwhile.
func (in *inbox) take() outcomeK {
	in.mu.Lock()
	for len(in.ends) == 0 {
		in.resume = in.clk.Idle(in.ctx)
		in.mu.Unlock()
		<-in.wake
		in.mu.Lock()
	}
	e := in.ends[0]
	in.ends[0] = outcomeK{}
	in.ends = in.ends[1:]
	in.mu.Unlock()
	return e
}
