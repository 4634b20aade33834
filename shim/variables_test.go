package shim_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/ukibuild/ukibuild/shim"
)

// TestVariablesSet: VariableNames are Variables' fields in order, Set
// fills the field of the name (and no other), and another name is a
// *VariableError matching ErrUnknownVariable.
func TestVariablesSet(t *testing.T) {
	typ := reflect.TypeOf(shim.Variables{})
	names := shim.VariableNames()
	if len(names) != typ.NumField() {
		t.Fatalf("%d names for %d fields", len(names), typ.NumField())
	}
	for i, name := range names {
		if typ.Field(i).Name != name {
			t.Errorf("name %d: %s; the field is %s", i, name, typ.Field(i).Name)
		}
		var v shim.Variables
		data := []byte("data of " + name)
		if err := v.Set(name, data); err != nil {
			t.Fatal(err)
		}
		rv := reflect.ValueOf(v)
		for j := range typ.NumField() {
			got := rv.Field(j).Bytes()
			if j == i {
				if !bytes.Equal(got, data) {
					t.Errorf("Set(%s): the field holds %q", name, got)
				}
			} else if got != nil {
				t.Errorf("Set(%s) set %s too", name, typ.Field(j).Name)
			}
		}
	}
	var v shim.Variables
	err := v.Set("PK", []byte{1})
	var ve *shim.VariableError
	if !errors.As(err, &ve) || ve.Name != "PK" || !errors.Is(err, shim.ErrUnknownVariable) {
		t.Errorf("Set(PK): %v; want a *VariableError matching ErrUnknownVariable", err)
	}
}
