package stewai

// Status is the state of a run, or of one step of a run. The server may
// report statuses this package does not name; they are not terminal.
type Status string

// The statuses of a run.
const (
	// StatusQueued: the run is accepted and waiting to run.
	StatusQueued Status = "queued"
	// StatusRunning: the run is executing.
	StatusRunning Status = "running"
	// StatusDone: the run completed successfully. Terminal.
	StatusDone Status = "done"
	// StatusFailed: the run failed. Terminal; waiting returns ErrRunFailed.
	StatusFailed Status = "failed"
	// StatusCancelled: the run was cancelled. Terminal; waiting returns
	// ErrRunCancelled.
	StatusCancelled Status = "cancelled"
	// StatusBlocked: the run cannot proceed, for example for lack of
	// credits. Terminal; waiting returns ErrRunBlocked.
	StatusBlocked Status = "blocked"
)

// IsTerminal reports whether a run in status s will not change any more:
// done, failed, cancelled or blocked. Unknown statuses are not terminal.
func (s Status) IsTerminal() bool {
	return s == StatusDone || s.failure() != nil
}

// failure returns the sentinel a terminal unsuccessful status maps to, or
// nil for any other status.
func (s Status) failure() error {
	switch s {
	case StatusFailed:
		return ErrRunFailed
	case StatusCancelled:
		return ErrRunCancelled
	case StatusBlocked:
		return ErrRunBlocked
	}
	return nil
}

// known reports whether s is one of the statuses this package names.
func (s Status) known() bool {
	return s == StatusQueued || s == StatusRunning || s.IsTerminal()
}
