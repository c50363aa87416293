package report

import (
	"fmt"
	"io"
	"slices"
)

// Formats are the report formats, as --format and ?format= name them.
var Formats = []string{"markdown", "csv", "json", "html", "pdf"}

// contentTypes are the formats' HTTP Content-Types.
var contentTypes = map[string]string{
	"markdown": "text/markdown; charset=utf-8",
	"csv":      "text/csv; charset=utf-8",
	"json":     "application/json",
	"html":     "text/html; charset=utf-8",
	"pdf":      "application/pdf",
}

// Format returns the format name for s ("md" is "markdown") and whether it
// is one of Formats.
func Format(s string) (string, bool) {
	if s == "md" {
		s = "markdown"
	}
	return s, slices.Contains(Formats, s)
}

// ContentType is the HTTP Content-Type of a format.
func ContentType(format string) string { return contentTypes[format] }

// Write writes d in format (one of Formats).
func Write(w io.Writer, format string, d *Document) error {
	switch format {
	case "markdown", "md":
		return WriteMarkdown(w, d)
	case "csv":
		return WriteCSV(w, d)
	case "json":
		return WriteJSON(w, d)
	case "html":
		return WriteHTML(w, d)
	case "pdf":
		return WritePDF(w, d, PDFOptions{})
	}
	return fmt.Errorf("report format %q is not one of %v", format, Formats)
}
