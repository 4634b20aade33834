package uki_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/uki"
)

// ukify's --section NAME:TEXT: the text after the one colon is the
// section's content; an empty text is an empty section.
func ExampleSectionArg() {
	for _, arg := range []string{".note:hello", ".empty:", "no-colon"} {
		s, err := uki.SectionArg("--section", arg)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s.Name, s.Content.Size())
	}
	// Output:
	// .note 5
	// .empty 0
	// --section: cannot parse "no-colon": want NAME:TEXT or NAME:@FILE
}
