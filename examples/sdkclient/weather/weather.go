// Package weather stands for any third-party API client: it knows nothing
// of throttle, and like most Go SDKs it takes an *http.Client.
package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Client calls the weather API.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the API at base that sends through hc
// (http.DefaultClient if nil).
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: base, http: hc}
}

// Forecast is one city's forecast.
type Forecast struct {
	City    string  `json:"city"`
	Celsius float64 `json:"celsius"`
}

// Forecast fetches city's forecast.
func (c *Client) Forecast(ctx context.Context, city string) (Forecast, error) {
	var f Forecast
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/forecast?city="+url.QueryEscape(city), nil)
	if err != nil {
		return f, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return f, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return f, fmt.Errorf("weather: %s", resp.Status)
	}
	return f, json.NewDecoder(resp.Body).Decode(&f)
}
