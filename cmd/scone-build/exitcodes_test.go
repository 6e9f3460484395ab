package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestExitCodesDocumented: the scone-build section of docs/exit-codes.md
// lists exactly the codes of the table in exitcodes.go, each with its name
// (the file has sections for the other programs too).
func TestExitCodesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/exit-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if i := strings.Index(doc, "\n## scone-build\n"); i >= 0 {
		doc = doc[i+1:]
		if j := strings.Index(doc[1:], "\n## "); j >= 0 {
			doc = doc[:j+1]
		}
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| ([^|]+) \|`)
	seen := map[int]bool{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		code, _ := strconv.Atoi(m[1])
		name, ok := exitCodes[code]
		if !ok {
			t.Errorf("docs/exit-codes.md lists code %d, which scone-build does not use", code)
			continue
		}
		if !strings.HasPrefix(strings.TrimSpace(m[2]), name) {
			t.Errorf("docs/exit-codes.md: code %d is %q, the table says %q", code, strings.TrimSpace(m[2]), name)
		}
		seen[code] = true
	}
	for code, name := range exitCodes {
		if !seen[code] {
			t.Errorf("code %d (%s) is missing from docs/exit-codes.md", code, name)
		}
	}
}
