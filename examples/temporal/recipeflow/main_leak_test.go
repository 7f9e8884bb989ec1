package recipeflow_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// activities' waits, the SDK's pollers and the fake's connections included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
