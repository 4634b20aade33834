package reftools

import (
	"os"
	"strings"
	"testing"
)

// ExampleOutput returns the lines of the "// Output:" block in a Go
// example file, for the tests that check an example's printed values
// against an independent tool (the values go test compares the example's
// output with, taken from the file as written).
func ExampleOutput(tb testing.TB, file string) []string {
	tb.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "// Output:\n")
	if !ok {
		tb.Fatalf("%s has no // Output: block", file)
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "// ") {
			break
		}
		out = append(out, strings.TrimPrefix(l, "// "))
	}
	return out
}
