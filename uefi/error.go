package uefi

// FormatError reports a file that is not a structurally valid PE/COFF image:
// a header, table or section that lies outside the file or contradicts
// another, as found by the parser of ukibuild's packages (uki, sign, pcr,
// attest). Callers find it with errors.As, whatever context wraps it:
//
//	var fe *uefi.FormatError
//	if errors.As(err, &fe) {
//		// fe.File (when known) is malformed: fe.Defect
//	}
type FormatError struct {
	// File is the path of the image when the function that found the
	// defect knew it ("" for an io.ReaderAt). The message does not repeat
	// it: the error that wraps a FormatError names the file.
	File string
	// Defect says what is wrong, naming offsets and sizes.
	Defect string
}

// Error returns "not a valid PE image: " and the defect.
func (e *FormatError) Error() string { return "not a valid PE image: " + e.Defect }
