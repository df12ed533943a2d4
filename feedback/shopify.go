package feedback

import "strings"

// keyShopifyCallLimit is the canonical key of Shopify's REST Admin API
// call limit, "X-Shopify-Shop-Api-Call-Limit: 32/40".
const keyShopifyCallLimit = "X-Shopify-Shop-Api-Call-Limit"

// parseBucket reads a leaky bucket's fill and size: Shopify's "32/40",
// the requests the bucket holds (the one answered included) of the most
// it holds. A fill beyond the size is taken as the size; a malformed
// value, or a size of 0, states nothing.
func parseBucket(h map[string][]string, s *Signal) {
	v := h[keyShopifyCallLimit]
	if len(v) == 0 {
		return
	}
	fill, size, ok := strings.Cut(trimOWS(v[0]), "/")
	if !ok {
		return
	}
	f, okF := parseCount(trimOWS(fill))
	n, okN := parseCount(trimOWS(size))
	if !okF || !okN || n == 0 {
		return
	}
	s.BucketFill, s.BucketSize = min(f, n), n
}
