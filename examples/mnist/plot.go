package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var runColors = []color.Color{
	color.RGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff}, // mean CE: dark grey
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
}

// writePlot draws, for every case (a column), the test error (top row) and the mean test error of
// the three hardest digits (bottom row) of every run against the epoch, and writes it as a PNG.
func writePlot(path string, results []*caseResult) error {
	rows := [2]struct {
		title string
		value func(epochStats) float64
	}{
		{"test error (%)", func(s epochStats) float64 { return 100 * s.TestErr }},
		{"3 hardest digits: mean test error (%)", func(s epochStats) float64 { return 100 * s.HardestErr }},
	}
	plots := make([][]*plot.Plot, len(rows))
	for ri, row := range rows {
		plots[ri] = make([]*plot.Plot, len(results))
		for ci, c := range results {
			p := plot.New()
			if ri == 0 {
				p.Title.Text = c.Name + ": " + c.Desc
				p.Title.TextStyle.Font.Size = vg.Points(11)
			}
			p.X.Label.Text = "epoch"
			p.Y.Label.Text = row.title
			p.Add(plotter.NewGrid())
			p.Legend.Top = true
			p.Legend.TextStyle.Font.Size = vg.Points(10)
			nEpochs, lo, hi := 0, math.Inf(1), math.Inf(-1)
			for i, r := range c.Runs {
				xys := make(plotter.XYs, len(c.Epochs[i]))
				for e, st := range c.Epochs[i] {
					xys[e] = plotter.XY{X: float64(e + 1), Y: row.value(st)}
					lo, hi = min(lo, xys[e].Y), max(hi, xys[e].Y)
				}
				nEpochs = max(nEpochs, len(xys))
				line, points, err := plotter.NewLinePoints(xys)
				if err != nil {
					return err
				}
				col := runColors[i%len(runColors)]
				line.Color, line.Width = col, vg.Points(1.8)
				points.Color, points.Shape, points.Radius = col, draw.CircleGlyph{}, vg.Points(2.5)
				p.Add(line, points)
				p.Legend.Add(r.Name, line, points)
			}
			p.X.Min, p.X.Max = 0.8, float64(nEpochs)+0.2
			p.X.Tick.Marker = epochTicks{}
			// Room above the curves for the legend.
			p.Y.Min, p.Y.Max = max(0, lo-0.05*(hi-lo)), hi+0.35*(hi-lo)
			plots[ri][ci] = p
		}
	}
	const w, h = 5.5 * vg.Inch, 3.8 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w*vg.Length(len(results)), 2*h), vgimg.UseDPI(110))
	dc := draw.New(img)
	// A white background (vgimg starts transparent).
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 2, Cols: len(results), PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	for ri := range plots {
		for ci := range plots[ri] {
			plots[ri][ci].Draw(canvases[ri][ci])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// epochTicks puts a labelled tick at every whole epoch.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for e := int(lo + 0.999); float64(e) <= hi; e++ {
		t = append(t, plot.Tick{Value: float64(e), Label: fmt.Sprint(e)})
	}
	return t
}
