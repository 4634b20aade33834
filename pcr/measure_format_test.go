package pcr

import (
	"math"
	"math/big"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pyjson"
)

// The expected texts are sd_json_variant_dump's (systemd 262,
// src/libsystemd/sd-json/sd-json.c: json_format_string's escapes,
// "%.*e" with 21 digits for reals, tabs in the pretty style).
func TestFormatMeasureJSON(t *testing.T) {
	o := pyjson.NewObject()
	o.Set("s", "é\"\\/\x01\x7f\n\t\b\f\r")
	o.Set("i", int64(-3))
	o.Set("u", uint32(11))
	o.Set("f", 1.5)
	o.Set("z", 0.0)
	o.Set("nan", math.NaN())
	o.Set("b", []any{true, false, nil, big.NewInt(18446744073709551615 >> 1)})
	o.Set("e", []any{})
	o.Set("o", pyjson.NewObject())
	got, err := formatMeasureJSON(o, MeasureJSONShort)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"s":"é\"\\/\u0001` + "\x7f" + `\n\t\b\f\r","i":-3,"u":11,"f":1.500000000000000000000e+00,"z":0.000000000000000000000e+00,"nan":null,"b":[true,false,null,9223372036854775807],"e":[],"o":{}}` + "\n"
	if string(got) != want {
		t.Errorf("short:\n got %q\nwant %q", got, want)
	}
	got, err = formatMeasureJSON([]any{int64(1), []any{"a"}, pyjson.NewObject()}, MeasureJSONPretty)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[\n\t1,\n\t[\n\t\t\"a\"\n\t],\n\t{}\n]\n"; string(got) != want {
		t.Errorf("pretty:\n got %q\nwant %q", got, want)
	}
	for _, bad := range []any{[]byte("x"), map[string]any{}, "\xff", "a\x00b", new(big.Int).Lsh(big.NewInt(1), 64)} {
		if _, err := formatMeasureJSON(bad, MeasureJSONShort); err == nil {
			t.Errorf("%#v was accepted", bad)
		}
	}
}
