// Package templates holds the data the binary embeds: the default report
// definition and the fonts of the PDF reports (with their licence).
package templates

import "embed"

// FS holds loans.json (the default report definition) and fonts/ (Noto
// Sans and Noto Naskh Arabic, Regular and Bold, OFL 1.1: fonts/OFL.txt).
//
//go:embed fonts/*.ttf fonts/OFL.txt fonts/README loans.json
var FS embed.FS
