package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"time"
)

// htmlPage is the HTML report: inline CSS only, so mail clients show it as it is.
var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Doc.Title}}</title></head>
<body style="font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;color:#1f2328;max-width:960px;margin:0 auto;padding:16px">
<h1 style="font-size:22px;margin:0 0 4px">{{.Doc.Title}}</h1>
<p style="color:#59636e;margin:0 0 16px">{{.Doc.Period}}</p>
{{if .Link}}<p><a href="{{.Link}}" style="color:#0969da">{{.LinkText}}</a></p>{{end}}
{{range $sec := .Doc.Sections}}<h2 style="font-size:17px;margin:20px 0 6px">{{.Heading}}</h2>
{{if .Head}}<table style="border-collapse:collapse;font-size:13px">
<tr>{{range $i, $h := .Head}}<th style="border-bottom:2px solid #d1d9e0;padding:4px 10px;text-align:{{if index $sec.Right $i}}right{{else}}left{{end}}">{{$h}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range $i, $c := .}}<td style="border-bottom:1px solid #eef0f2;padding:3px 10px;text-align:{{if index $sec.Right $i}}right{{else}}left{{end}}">{{$c}}</td>{{end}}</tr>
{{end}}</table>
{{else}}<p>{{.Text}}</p>
{{end}}{{end}}
{{if .Images}}<h2 style="font-size:17px;margin:20px 0 6px">{{.PlotsHeading}}</h2>
{{range .Images}}<p><img src="{{.}}" width="900" height="300" alt="" style="max-width:100%;height:auto"></p>
{{end}}{{if .FontNote}}<p style="color:#59636e;font-size:12px">{{.FontNote}}</p>{{end}}{{end}}
</body></html>
`))

// HTMLOptions says how the HTML report shows its plots and what it links to.
type HTMLOptions struct {
	// Plots are the rendered PNGs (none: no plots section).
	Plots *Plots
	// ImageSrc is each plot's src: a data: URI when nil (a file that stands alone); an email
	// gives cid:KEY.
	ImageSrc func(key string) string
	// Link, when set, is shown at the top (Grafana's overview over the period).
	Link, LinkText string
}

// HTML writes the report as an HTML page in lang, times in loc.
func (r *Report) HTML(lang string, loc *time.Location, o HTMLOptions) ([]byte, error) {
	d, w := r.layout(lang, loc)
	data := struct {
		Lang                   string
		Doc                    doc
		Link, LinkText         string
		PlotsHeading, FontNote string
		Images                 []template.URL
	}{Lang: lang, Doc: d, Link: o.Link, LinkText: o.LinkText, PlotsHeading: w["plots"]}
	if o.Plots != nil {
		data.FontNote = o.Plots.FontNote
		for _, k := range CurveKeys() {
			b, ok := o.Plots.PNG[k]
			if !ok {
				continue
			}
			src := "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)
			if o.ImageSrc != nil {
				src = o.ImageSrc(k)
			}
			data.Images = append(data.Images, template.URL(src))
		}
	}
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("write the HTML report: %w", err)
	}
	return b.Bytes(), nil
}
