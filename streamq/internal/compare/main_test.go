package compare

import (
	"testing"

	"github.com/goplumb/plumb/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
