//go:build !cgo

package softhsmtest

import "errors"

// Setup fails: the fixture makes its keys through crypto11, which needs cgo.
func Setup() (*Fixture, error) {
	return nil, errors.New("the SoftHSM2 fixture needs cgo (build with CGO_ENABLED=1 and a C compiler)")
}
