package main

import (
	"fmt"
	"net/http"
	"os"
	"text/template"
	"time"
)

// The picture's geometry, in SVG user units.
const (
	svgWidth   = 900
	svgLeft    = 60 // room for the y axis labels
	svgRight   = 20
	svgTop     = 80 // room for the title and the legend
	svgPanelH  = 120
	svgGap     = 34 // between panels: room for each panel's caption
	svgBottom  = 40 // room for the time axis
	svgBucket  = 100 * time.Millisecond
	svgYMax    = 120 // requests per bucket at the top of a panel; taller bars are clipped and labelled
	svgMinSpan = 4 * time.Second
)

type svgBar struct {
	X, W, OkY, OkH, RejY, RejH float64
	Clipped                    bool
	Label                      string
}

type svgPanel struct {
	Y, H, LimitY float64
	Caption      string
	Bars         []svgBar
}

type svgTick struct {
	X     float64
	Label string
}

type svgData struct {
	W, H, Left, Right, PlotW float64
	Title                    string
	Limit                    int
	Panels                   []svgPanel
	Ticks                    []svgTick
	AxisY                    float64
}

// writeDemoSVG draws, for each run, the requests its server saw in each
// 100 ms (accepted in green, 429s in red) against the server's limit.
func writeDemoSVG(path string, runs []demoRun) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := demoSVG.Execute(f, svgLayout(runs)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func svgLayout(runs []demoRun) svgData {
	span := svgMinSpan
	for _, r := range runs {
		for _, a := range r.arrivals {
			span = max(span, a.at)
		}
	}
	span = (span/time.Second + 1) * time.Second
	d := svgData{
		W: svgWidth, Left: svgLeft, Right: svgWidth - svgRight, PlotW: svgWidth - svgLeft - svgRight,
		Title: fmt.Sprintf("%d GETs at once to a local API that allows %d in any second", demoBurst, demoLimit),
		Limit: demoLimit,
	}
	buckets := int(span / svgBucket)
	bw := d.PlotW / float64(buckets)
	scale := svgPanelH / float64(svgYMax)
	y := float64(svgTop)
	for _, r := range runs {
		p := svgPanel{Y: y, H: svgPanelH, LimitY: y + svgPanelH - float64(demoLimit)*scale,
			Caption: fmt.Sprintf("%s, to the API that %s: %d sent, %d answered 429, %d failed, %s", r.name, r.server, r.sent, r.throttled, r.failed, fmtDur(r.elapsed))}
		ok := make([]int, buckets)
		rej := make([]int, buckets)
		for _, a := range r.arrivals {
			i := min(int(a.at/svgBucket), buckets-1)
			if a.status == http.StatusTooManyRequests {
				rej[i]++
			} else {
				ok[i]++
			}
		}
		base := y + svgPanelH
		for i := range buckets {
			if ok[i]+rej[i] == 0 {
				continue
			}
			okN, rejN := min(ok[i], svgYMax), min(rej[i], svgYMax-min(ok[i], svgYMax))
			b := svgBar{X: d.Left + float64(i)*bw + 0.5, W: max(bw-1, 0.5),
				OkH: float64(okN) * scale, RejH: float64(rejN) * scale}
			b.OkY = base - b.OkH
			b.RejY = b.OkY - b.RejH
			if ok[i]+rej[i] > svgYMax {
				b.Clipped = true
				b.Label = fmt.Sprint(ok[i] + rej[i])
			}
			p.Bars = append(p.Bars, b)
		}
		d.Panels = append(d.Panels, p)
		y += svgPanelH + svgGap
	}
	d.AxisY = y - svgGap + 16
	for s := time.Duration(0); s <= span; s += time.Second {
		d.Ticks = append(d.Ticks, svgTick{X: d.Left + d.PlotW*float64(s)/float64(span), Label: fmt.Sprintf("%ds", int(s/time.Second))})
	}
	d.H = d.AxisY + svgBottom
	return d
}

// demoSVG is the picture's template. text/template escapes nothing:
// every string in it comes from this program, none from outside, and none
// holds a character XML reserves.
var demoSVG = template.Must(template.New("demo").Funcs(template.FuncMap{
	"add": func(a, b float64) float64 { return a + b },
}).Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{printf "%.0f" .H}}" viewBox="0 0 {{.W}} {{printf "%.0f" .H}}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{{.Left}}" y="20" font-size="14" font-weight="bold">{{.Title}}</text>
<g font-size="11">
<text x="{{.Left}}" y="38">requests the server received in each 100 ms, for each way of sending the burst:</text>
<rect x="{{.Left}}" y="47" width="10" height="10" fill="#2e9d4f"/><text x="{{add .Left 14}}" y="56">accepted</text>
<rect x="{{add .Left 80}}" y="47" width="10" height="10" fill="#d64541"/><text x="{{add .Left 94}}" y="56">429 Too Many Requests</text>
<line x1="{{add .Left 250}}" y1="52" x2="{{add .Left 275}}" y2="52" stroke="#333" stroke-dasharray="4 3"/><text x="{{add .Left 280}}" y="56">server limit: {{.Limit}} in any 1 s (so at most {{.Limit}} accepted in any 100 ms)</text>
</g>
{{range .Panels}}<g>
<text x="{{$.Left}}" y="{{add .Y -6}}" font-size="12">{{.Caption}}</text>
<rect x="{{$.Left}}" y="{{.Y}}" width="{{$.PlotW}}" height="{{.H}}" fill="#f7f7f7" stroke="#ccc"/>
<text x="{{add $.Left -6}}" y="{{add .LimitY 4}}" text-anchor="end" font-size="10">{{$.Limit}}</text>
<text x="{{add $.Left -6}}" y="{{add .Y .H}}" text-anchor="end" font-size="10">0</text>
{{range .Bars}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .OkY}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .OkH}}" fill="#2e9d4f"/>{{if gt .RejH 0.0}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .RejY}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .RejH}}" fill="#d64541"/>{{end}}{{if .Clipped}}<text x="{{printf "%.1f" .X}}" y="{{printf "%.1f" (add .RejY 10)}}" font-size="8" fill="white">{{.Label}}</text>{{end}}
{{end}}<line x1="{{$.Left}}" y1="{{printf "%.1f" .LimitY}}" x2="{{$.Right}}" y2="{{printf "%.1f" .LimitY}}" stroke="#333" stroke-dasharray="4 3"/>
</g>
{{end}}<g font-size="10">{{range .Ticks}}<line x1="{{printf "%.1f" .X}}" y1="{{add $.AxisY -14}}" x2="{{printf "%.1f" .X}}" y2="{{add $.AxisY -10}}" stroke="#333"/><text x="{{printf "%.1f" .X}}" y="{{$.AxisY}}" text-anchor="middle">{{.Label}}</text>{{end}}
<text x="{{add $.Left $.PlotW}}" y="{{add $.AxisY 16}}" text-anchor="end">time since the burst started; a bar taller than the panel is cut, its count written on it</text></g>
</svg>
`))
