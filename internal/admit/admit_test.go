package admit

import (
	"context"
	"testing"
)

func TestPriority(t *testing.T) {
	if p := Priority(context.Background()); p != 0 {
		t.Fatalf("default priority %d", p)
	}
	if p := Priority(WithPriority(context.Background(), -1)); p != -1 {
		t.Fatalf("priority %d, want -1", p)
	}
}
