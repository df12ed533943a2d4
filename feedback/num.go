package feedback

import (
	"math"
	"time"
)

// secCap bounds the integer seconds parseSeconds accumulates, far above any
// delay or epoch it is used for, so that the arithmetic cannot overflow.
const secCap = 1 << 40

// maxCount is the largest count (remaining, quota) a Signal states; larger
// values are clamped to it, so that int arithmetic is safe on every platform.
const maxCount = math.MaxInt32

// parseSeconds parses a non-negative decimal number of seconds ("120",
// "2.0", "1.234"): digits, then optionally '.' and digits. Signs, exponents,
// "inf" and any other text are rejected. Fraction digits beyond nanoseconds
// are truncated; the integer part saturates at secCap.
func parseSeconds(s string) (sec, nsec int64, ok bool) {
	i := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		if sec < secCap {
			sec = sec*10 + int64(s[i]-'0')
		}
	}
	if i == 0 {
		return 0, 0, false
	}
	if i < len(s) {
		if s[i] != '.' {
			return 0, 0, false
		}
		scale := int64(1e8)
		for i++; i < len(s) && isDigit(s[i]); i++ {
			nsec += int64(s[i]-'0') * scale
			scale /= 10
		}
		if i < len(s) {
			return 0, 0, false
		}
	}
	return min(sec, secCap), nsec, true
}

// parseDelay parses decimal seconds as a duration clamped to MaxDelay.
func parseDelay(s string) (time.Duration, bool) {
	sec, nsec, ok := parseSeconds(s)
	if !ok {
		return 0, false
	}
	return toDelay(sec, nsec), true
}

// toDelay converts non-negative seconds and nanoseconds to a duration
// clamped to MaxDelay, without overflow.
func toDelay(sec, nsec int64) time.Duration {
	if sec >= int64(MaxDelay/time.Second) {
		return MaxDelay
	}
	return min(time.Duration(sec)*time.Second+time.Duration(nsec), MaxDelay)
}

// parseCount parses a non-negative integer, clamped to maxCount.
func parseCount(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		if n < maxCount {
			n = n*10 + int(s[i]-'0')
		}
	}
	return min(n, maxCount), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
