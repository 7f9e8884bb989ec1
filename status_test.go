package stewai

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatusIsTerminal(t *testing.T) {
	for s, want := range map[Status]bool{
		StatusQueued: false, StatusRunning: false,
		StatusDone: true, StatusFailed: true, StatusCancelled: true, StatusBlocked: true,
		"": false, "paused": false, "DONE": false, "completed": false,
	} {
		assert.Equal(t, want, s.IsTerminal(), "%q", s)
	}
}
