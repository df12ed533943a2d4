package admit

import (
	"context"
	"errors"
	"testing"
)

func TestQueueAdmitsUpToLimit(t *testing.T) {
	q := NewQueue(2)
	ctx := WithQueue(context.Background(), q)
	a, err := Enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Enter(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Enter(ctx); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third Enter: %v, want ErrQueueFull", err)
	}
	a.Leave()
	if _, err := Enter(ctx); err != nil {
		t.Fatalf("Enter after Leave: %v", err)
	}
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
}

func TestNoQueueNoLimit(t *testing.T) {
	q, err := Enter(context.Background())
	if q != nil || err != nil {
		t.Fatalf("Enter without a queue = %v, %v", q, err)
	}
	q.Leave() // nil-safe
}

func TestPriority(t *testing.T) {
	if p := Priority(context.Background()); p != 0 {
		t.Fatalf("default priority %d", p)
	}
	if p := Priority(WithPriority(context.Background(), -1)); p != -1 {
		t.Fatalf("priority %d, want -1", p)
	}
}
